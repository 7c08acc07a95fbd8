"""Where rows come from besides paging: the finished job's json file, and webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hasdata_ext_support import book_pages_job, calls, crawl_jobs, emulator_jobs


def assert_all_200_once(result: Any, emulator: Any) -> None:
    (job,) = emulator_jobs(emulator)
    urls = [item["url"] for item in result.items]
    assert len(urls) == len(set(urls)) == int(job["dataRowsCount"]) == 200
    assert result.reason == "finished"


@pytest_twisted.ensureDeferred
async def test_json_file_replaces_paging(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_USE_JSON_FILE=True
    )
    assert_all_200_once(result, hasdata_emulator)
    assert result.stats["hasdata/json_file/used"] == 1
    assert calls(hasdata_emulator, "GET", "/results") == []
    downloads = calls(hasdata_emulator, "GET", "/downloads/")
    assert len(downloads) == 1 and downloads[0]["path"].endswith(".json")


@pytest.mark.parametrize(
    "switches",
    [
        pytest.param({"link_ttl": 0.0}, id="expired"),
        pytest.param({"link_uses": 1, "link_ttl": -1.0}, id="used-up"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_dead_json_link_falls_back_to_paging(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, switches: dict[str, Any]
) -> None:
    hasdata_emulator.configure(page_size_cap=30, **switches)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], HASDATA_USE_JSON_FILE=True
    )
    assert_all_200_once(result, hasdata_emulator)
    assert result.stats["hasdata/json_file/fallbacks"] == 1
    assert [c["status"] for c in calls(hasdata_emulator, "GET", "/downloads/")] == [410]
    assert len(calls(hasdata_emulator, "GET", "/results")) == 7


@pytest.mark.parametrize("mode", ["in_order", "shuffled", "duplicated", "dropped"])
@pytest_twisted.ensureDeferred
async def test_webhook_rows_join_the_same_stream(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, mode: str
) -> None:
    # A slow job: rows reach the crawl by webhook while it still runs.
    hasdata_emulator.configure(webhook_mode=mode, webhook_batch=7, job_polls=6)
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [book_pages_job(demo_site, content_key="url")],
        HASDATA_WEBHOOK_ENABLED=True,
    )
    assert_all_200_once(result, hasdata_emulator)
    via_webhook = result.stats.get("hasdata/rows/webhook", 0)
    via_pages = result.stats.get("hasdata/rows/pages", 0)
    assert result.stats["hasdata/webhook/accepted"] >= 1
    if mode == "shuffled":
        # Every callback came after the job ended: paging, already under way,
        # reads those rows, and the late callbacks are counted, not delivered.
        assert result.stats["hasdata/rows/webhook_late"] > 0
    else:
        assert via_webhook > 0
    assert via_webhook + via_pages == 200
    if mode == "dropped":  # half the data callbacks never came: paging filled in
        assert via_pages > 0
    if mode == "duplicated":
        assert result.stats["hasdata/rows/duplicates"] > 0
