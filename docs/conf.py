"""Sphinx configuration: the existing Markdown pages (MyST) plus a generated reference.

Build: ``tox -e docs`` or ``sphinx-build -W -b html docs docs/_build/html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package itself, so a checkout builds without installing

import scrapy_wds  # noqa: E402

project = "scrapy-wds"
author = "The scrapy-wds authors"
project_copyright = "2026, The scrapy-wds authors"
release = scrapy_wds.__version__
version = release

extensions = ["myst_parser", "scrapy_wds_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# Headings get anchors, so pages can link to "page.md#a-section" as they do on GitHub.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
# Code blocks in the pages are examples (settings, shell sessions), not all of them Python.
highlight_language = "none"
suppress_warnings = ["misc.highlighting_failure"]

html_theme = "alabaster"
html_title = f"scrapy-wds {release}"
