"""Scrapy internals are touched in scrapy_wds/_compat.py only.

Anywhere else a private attribute behind a ``getattr`` guard would turn a
future Scrapy change into silent misbehaviour; in _compat.py each one is a
small function that tests/packaging/test_compat.py checks on every Scrapy we
support.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "scrapy_wds"
COMPAT = PACKAGE / "_compat.py"
#: The internals the package has needed so far (engine slot, scraper slot counters).
#: ``"_slot"`` catches ``getattr(engine, "_slot", None)`` too.
PRIVATE_SCRAPY = re.compile(r"\._slot\b|[\"']_slot[\"']|_check_if_closing|itemproc_size")


def test_scrapy_internals_appear_only_in_the_compat_module() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != COMPAT
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_SCRAPY.search(line)
    ]
    assert offenders == [], "use scrapy_wds._compat instead:\n" + "\n".join(offenders)


def test_the_pattern_finds_what_the_compat_module_does() -> None:
    """The search is not vacuous: it does find the internals in _compat.py."""
    found = PRIVATE_SCRAPY.findall(COMPAT.read_text(encoding="utf-8"))
    assert {"._slot", "_check_if_closing", "itemproc_size"} <= set(found)
