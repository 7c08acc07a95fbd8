"""Server trouble loses nothing; refusals end the crawl with their own close reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hasdata_ext_support import (
    book_pages_job,
    calls,
    close_once,
    crawl_jobs,
    emulator_jobs,
    submits,
)

RETRY_PLENTY: dict[str, Any] = {"HASDATA_RETRY_TIMES": 12}


def assert_every_row_once(result: Any, emulator: Any) -> None:
    (job,) = emulator_jobs(emulator)
    urls = [item["url"] for item in result.items]
    assert len(urls) == len(set(urls)) == int(job["dataRowsCount"]) == 200
    assert result.reason == "finished"


@pytest.mark.parametrize(
    "switches, retried",
    [
        pytest.param({"burst_429": 6}, "retries/429", id="429-burst"),
        pytest.param({"error_rate": 0.3, "seed": 3}, "retries", id="5xx"),
        # Twisted's connection pool itself resends a GET whose cached
        # connection died, so drops may never reach the retry counter.
        pytest.param({"drop_rate": 0.3, "seed": 4}, None, id="dropped"),
        pytest.param({"malformed_rate": 0.3, "seed": 5}, "retries/malformed", id="malformed-json"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_server_trouble_loses_nothing(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    switches: dict[str, Any],
    retried: str | None,
) -> None:
    hasdata_emulator.configure(page_size_cap=20, job_polls=2, **switches)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], **RETRY_PLENTY
    )
    assert_every_row_once(result, hasdata_emulator)
    if "malformed_rate" not in switches:  # malformed answers come with a 200
        faults = [c for c in hasdata_emulator.calls() if c["status"] != 200]
        assert faults, "the switch injected no fault: the test proves nothing"
    if retried:
        assert result.stats[f"hasdata/{retried}"] >= 1
    assert len(emulator_jobs(hasdata_emulator)) == 1  # a retried submit never paid twice


@pytest_twisted.ensureDeferred
async def test_429_patience_is_bounded_and_honours_retry_after(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(burst_429=50, retry_after=0.04)
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site)],
        HASDATA_RETRY_TIMES=0,
        HASDATA_RATE_LIMIT_MAX_WAIT=0.1,
    )
    # Waits of 0.04 s (Retry-After), 0.04 s, then the 0.02 s left of the patience.
    assert len(hasdata_emulator.calls()) == 4
    assert result.items == []
    assert result.stats["hasdata/jobs/failed"] == 1
    assert result.reason == "hasdata_failed"


@pytest_twisted.ensureDeferred
async def test_401_closes_with_its_reason(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_API_KEY="wrong-key"
    )
    assert result.reason == "hasdata_unauthorized"
    assert len(hasdata_emulator.calls()) == 1  # never retried
    assert result.stats["hasdata/errors/401"] == 1


@pytest_twisted.ensureDeferred
async def test_403_closes_with_its_reason(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(credits=0)
    result = await crawl_jobs(hasdata_emulator, tmp_path, [book_pages_job(demo_site)])
    assert result.reason == "hasdata_no_credits"
    assert len(hasdata_emulator.calls()) == 1
    assert result.stats["hasdata/errors/403"] == 1


@pytest_twisted.ensureDeferred
async def test_rejected_input_is_reported_not_retried(
    hasdata_emulator: Any, tmp_path: Path, caplog: Any
) -> None:
    job = {"scraper": "crawler", "input": {"maxDepth": 2}, "name": "no-urls"}
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job])
    assert len(hasdata_emulator.calls()) == 1
    assert result.stats["hasdata/errors/422"] == 1
    assert result.reason == "hasdata_failed"
    message = next(r.getMessage() for r in caplog.records if "422" in r.getMessage())
    assert "'no-urls'" in message and "urls" in message.split("HTTP 422")[1]


@pytest_twisted.ensureDeferred
async def test_credit_cap_stops_jobs_and_closes(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(job_polls=8)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_MAX_CREDITS=40
    )
    assert result.reason == "hasdata_credit_limit"
    assert len(calls(hasdata_emulator, "DELETE", "/scrapers/jobs/")) == 1
    (job,) = emulator_jobs(hasdata_emulator)
    assert job["status"] == "stopped"
    assert 40 <= int(job["creditsSpent"]) < 200
    # The rows already paid for are still delivered, once each.
    urls = [item["url"] for item in result.items]
    assert len(urls) == len(set(urls)) == int(job["dataRowsCount"])


@pytest_twisted.ensureDeferred
async def test_stop_on_close_deletes_unfinished_jobs(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(job_polls=10_000)

    def polled_twice() -> bool:
        return len(calls(hasdata_emulator, "GET", "/scrapers/jobs/")) >= 2

    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site)],
        on_crawler=lambda crawler: close_once(crawler, polled_twice),
        HASDATA_STOP_ON_CLOSE=True,
    )
    assert result.reason == "test_close"
    assert len(calls(hasdata_emulator, "DELETE", "/scrapers/jobs/")) == 1
    assert emulator_jobs(hasdata_emulator)[0]["status"] == "stopped"
    assert result.stats["hasdata/jobs/stop_requested"] == 1


@pytest_twisted.ensureDeferred
async def test_without_stop_on_close_jobs_keep_running(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(job_polls=10_000)

    def polled_twice() -> bool:
        return len(calls(hasdata_emulator, "GET", "/scrapers/jobs/")) >= 2

    await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site)],
        on_crawler=lambda crawler: close_once(crawler, polled_twice),
    )
    assert calls(hasdata_emulator, "DELETE", "/scrapers/jobs/") == []
    assert len(submits(hasdata_emulator)) == 1


@pytest_twisted.ensureDeferred
async def test_bad_declaration_closes_before_spending(
    hasdata_emulator: Any, tmp_path: Path, caplog: Any
) -> None:
    job = {"scraper": "crawler", "input": {"urls": ["http://x"], "limit": -3}}
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job])
    assert result.reason == "hasdata_bad_config"
    assert hasdata_emulator.calls() == []
    assert "'input.limit' is -3" in caplog.text


@pytest_twisted.ensureDeferred
async def test_damaged_submit_answer_is_not_paid_twice(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(malformed_rate=1.0)  # every answer cut in half
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_RETRY_TIMES=2
    )
    assert len(calls(hasdata_emulator, "POST", "/jobs")) == 1
    assert result.stats["hasdata/answers_salvaged"] == 1
    # The polls stay unreadable: the job fails after bounded retries, and its
    # id stays in the state file for the next run.
    assert result.stats["hasdata/retries/malformed"] == 2
    assert result.reason == "hasdata_failed"
    assert "416349" in (tmp_path / "hasdata-state.json").read_text()


@pytest_twisted.ensureDeferred
async def test_bad_setting_closes_before_spending(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_PAGE_LIMIT=250
    )
    assert result.reason == "hasdata_bad_config"
    assert hasdata_emulator.calls() == []
    assert "HASDATA_PAGE_LIMIT is 250" in caplog.text


@pytest_twisted.ensureDeferred
async def test_webhook_port_in_use_closes_before_spending(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    port = int(hasdata_emulator.url.rsplit(":", 1)[1])  # taken by the emulator itself
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site)],
        HASDATA_WEBHOOK_ENABLED=True,
        HASDATA_WEBHOOK_PORT=port,
    )
    assert result.reason == "hasdata_bad_config"
    assert hasdata_emulator.calls() == []
    assert "HASDATA_WEBHOOK_PORT" in caplog.text
