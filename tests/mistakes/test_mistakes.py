"""Every mistake of ``cases.py``: one error line naming it, its close reason, no traceback, nothing sent."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from . import harness
from .cases import CASES, Mistake, render


@pytest.fixture
def urls(wds_emulator: Any, hasdata_emulator: Any, demo_site: Any) -> dict[str, str]:
    return {"wds": wds_emulator.url, "hasdata": hasdata_emulator.url, "site": demo_site.url}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest_twisted.ensureDeferred
async def test_one_clear_line(
    case: Mistake, urls: dict[str, str], wds_emulator: Any, hasdata_emulator: Any, tmp_path: Path
) -> None:
    outcome = await harness.run(case, urls, tmp_path)
    assert outcome.tracebacks == []
    assert len(outcome.error_lines) == 1, outcome.error_lines
    [line] = outcome.error_lines
    assert case.names in line
    assert line == render(case.line, urls)
    assert outcome.reason == case.reason
    emulator = hasdata_emulator if case.service == "HasData" else wds_emulator
    assert len(emulator.calls()) == case.calls
    # The cases' secrets are all "hunter2": masked or left out, never logged.
    assert not [r for r in outcome.records if "hunter2" in r.getMessage()]


def test_the_docs_page_is_up_to_date() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "mistakes_doc.py"
    spec = importlib.util.spec_from_file_location("mistakes_doc", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PAGE.read_text(encoding="utf-8") == module.render(), (
        "docs/mistakes.md is out of date: run python scripts/mistakes_doc.py"
    )


def test_at_least_forty_distinct_mistakes() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 40
    assert {case.service for case in CASES} == {"WDS", "Scrapy", "HasData"}
