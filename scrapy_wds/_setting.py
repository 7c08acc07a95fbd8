"""The row of a settings table: a setting's default and what it is for.

Each half keeps one table of its settings (``SETTINGS`` in
``_wds/_settings.py`` and ``_hasdata/_settings.py``): the add-on fills gaps
from it, the readers take their defaults from it and the documentation's
settings reference is generated from it, so a setting cannot be documented
with one default and read with another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """``default``: the value when the user sets nothing (``None``: no default);
    ``doc``: one sentence for the reference, saying what the setting changes."""

    default: Any
    doc: str
