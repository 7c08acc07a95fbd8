"""Make the example project importable (its package sits one level down)."""

from __future__ import annotations

import sys

from ._crawl import EXAMPLE_PROJECT

if str(EXAMPLE_PROJECT) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_PROJECT))
