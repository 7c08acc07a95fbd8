"""The API key stays secret; the crawl reports its progress."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hasdata_ext_support import book_pages_job, calls, close_once, crawl_jobs

SECRET_KEY = "hd-live-5ecret-Key-9f8e7d6c5b4a"


@pytest.fixture
def secret_emulator(hasdata_emulator: Any) -> Any:
    hasdata_emulator.configure(api_key=SECRET_KEY)
    return hasdata_emulator


def assert_no_key(text: str) -> None:
    assert SECRET_KEY not in text
    assert SECRET_KEY[8:] not in text  # not even most of it


@pytest_twisted.ensureDeferred
async def test_key_absent_from_logs_stats_and_state(
    secret_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_emulator.configure(job_polls=10_000, burst_429=2, error_rate=0.2, seed=2)

    def polled() -> bool:
        return len(calls(secret_emulator, "GET", "/scrapers/jobs/")) >= 3

    result = await crawl_jobs(
        secret_emulator,
        tmp_path,
        [book_pages_job(demo_site)],
        on_crawler=lambda crawler: close_once(crawler, polled),
        HASDATA_API_KEY=SECRET_KEY,
        HASDATA_PROGRESS_INTERVAL=0.01,
        HASDATA_RETRY_TIMES=10,
    )
    assert result.stats["hasdata/jobs/submitted"] == 1
    assert result.stats["hasdata/retries"] >= 2  # error paths were logged too
    state = (tmp_path / "hasdata-state.json").read_text()
    assert json.loads(state)["jobs"]  # the unfinished job is remembered...
    assert_no_key(state)  # ...without the key
    assert_no_key(caplog.text)
    assert_no_key(repr(result.stats))


@pytest_twisted.ensureDeferred
async def test_wrong_key_is_not_echoed(
    secret_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "hd-live-wrong-Key-0000111122223333"
    result = await crawl_jobs(
        secret_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_API_KEY=wrong
    )
    assert result.reason == "hasdata_unauthorized"
    assert wrong not in caplog.text and wrong[8:] not in caplog.text
    assert "HASDATA_API_KEY" in caplog.text  # the message says what to fix


@pytest_twisted.ensureDeferred
async def test_progress_lines_while_jobs_run(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    hasdata_emulator.configure(job_polls=10_000)

    def polled() -> bool:
        return len(calls(hasdata_emulator, "GET", "/scrapers/jobs/")) >= 4

    await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site, name="books")],
        on_crawler=lambda crawler: close_once(crawler, polled),
        HASDATA_PROGRESS_INTERVAL=0.01,
        HASDATA_POLL_FIRST_DELAY=0.05,
    )
    lines = [r.getMessage() for r in caplog.records if "rows streamed" in r.getMessage()]
    assert lines
    assert "'books'" in lines[-1] and "in_progress" in lines[-1]
    assert "credits spent" in lines[-1]
