"""Crawls under faults: failing tasks cost only their own book; server errors and drops cost nothing."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .conftest import Crawls
from .test_books import assert_books_equal_truth, site_shape

FAST = (
    "WDS_POLL_FIRST_DELAY=0.05",
    "WDS_POLL_MAX_DELAY=0.2",
    "WDS_RETRY_FIRST_DELAY=0.05",
    "WDS_RETRY_MAX_DELAY=0.2",
    "WDS_RETRY_TIMES=8",
)


def test_failing_tasks_cost_only_their_books(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    missing = {truth[0]["url"]: 404, truth[1]["url"]: 403, truth[2]["url"]: 422}
    wds_emulator.configure(
        fail_tasks={re.escape(urlsplit(url).path) + "$": status for url, status in missing.items()}
    )
    result = crawls.run("books", *FAST)
    assert result.returncode == 0 and result.stats["finish_reason"] == "finished"
    assert sorted(result.items, key=lambda i: i["url"]) == [
        b for b in truth if b["url"] not in missing
    ]
    stats = result.wds_stats()
    assert {k: v for k, v in stats.items() if k.startswith("wds/tasks/failed/")} == {
        "wds/tasks/failed/404": 1,
        "wds/tasks/failed/403": 1,
        "wds/tasks/failed/422": 1,
    }
    # Only book pages are asked info (books' listing callbacks skip it).
    assert stats["wds/tasks/handled"] == len(truth) - 3
    assert stats["wds/tasks/info_skipped"] == site_shape(truth)["tasks"] - len(truth)
    assert stats["wds/items"] == len(truth) - 3
    # One clear line per failed task (the downloader side's), not two.
    failure_lines = [line for line in result.log.splitlines() if "WDS info on task" in line]
    assert len(failure_lines) == 3
    # Each names the page, so the user knows which book is missing.
    assert sorted(
        url for url in missing for line in failure_lines if f"(page {url})" in line
    ) == sorted(missing)


def test_server_errors_and_dropped_connections_lose_nothing(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    wds_emulator.configure(error_rate=0.15, drop_rate=0.05, pending_polls=1, seed=7)
    result = crawls.run("books", *FAST)
    assert_books_equal_truth(result, truth)
    assert result.wds_stats()["wds/items"] == len(truth)
    statuses = {c["status"] for c in wds_emulator.calls()}
    assert {503, None} <= statuses  # the faults really happened


def test_a_set_up_mistake_stops_the_crawl_at_start_with_one_clear_line(
    crawls: Crawls, wds_emulator: Any
) -> None:
    crawls.demo_url = ""
    result = crawls.run("books_rules")
    assert result.stats["finish_reason"] == "wds_bad_config"
    assert (
        "WDS crawl stopped before sending anything: spider 'books_rules': DEMO_SITE_URL is not set"
        in result.log
    )
    assert "Traceback" not in result.log
    assert wds_emulator.calls() == []
