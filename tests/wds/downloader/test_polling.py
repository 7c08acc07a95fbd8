"""Tasks that wait (202, or info 200 with a pending state): no slot held, backoff, a clean give-up."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted

from scrapy_wds import WdsGaveUpWaiting

from .probe import PENDING, crawl_settings, run_probe, start_job, task_calls

READINGS = pytest.mark.parametrize("pending_info", ["200", "202"])

pytestmark = pytest.mark.usefixtures("wds_emulator", "demo_site")


@READINGS
@pytest_twisted.ensureDeferred
async def test_waiting_tasks_hold_no_download_slot(
    wds_emulator: Any, demo_site: Any, pending_info: str
) -> None:
    """With 2 slots and 200 tasks pending for a few seconds, far more than 2 are
    polled before any answers 200; if a waiting task held a slot, only 2 could be.
    (Not all 200: polls coming back from the waiting room go before fresh tasks.)"""
    urls = [demo_site.url + path for path in demo_site.page_paths()[:200]]
    wds_emulator.configure(pending_seconds=4.0, pending_info=pending_info)
    tasks = start_job(wds_emulator.url, "slots", urls)
    assert len(tasks) == 200
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url, CONCURRENT_REQUESTS=2, WDS_POLL_MAX_DELAY=1.0),
        api_url=wds_emulator.url,
        job="slots",
        tasks=tasks,
    )
    calls = task_calls(wds_emulator.calls())
    first_done = next(i for i, (_, status) in enumerate(calls) if status == 200)
    polled_before = {task_id for task_id, status in calls[:first_done] if status == PENDING}
    assert len(polled_before) > 2 * 2
    # Every task reached its callback exactly once, after at least one 202.
    assert sorted(spider.answers) == sorted(t["id"] for t in tasks)
    assert all(statuses == [200] for statuses in spider.answers.values())
    assert spider.failures == {}
    stats = crawler.stats.get_stats()
    polls = sum(1 for _, status in calls if status == PENDING)
    assert stats["wds/polls"] == polls >= 200
    assert stats["wds/calls/info"] == len(calls) == polls + 200
    assert stats["finish_reason"] == "finished"


@READINGS
@pytest_twisted.ensureDeferred
async def test_gives_up_after_max_wait(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture, pending_info: str
) -> None:
    caplog.set_level(logging.DEBUG)
    wds_emulator.configure(pending_seconds=3600, pending_info=pending_info)
    tasks = start_job(
        wds_emulator.url, "slow", [demo_site.url + "/", demo_site.url + "/about/team.html"]
    )
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url, WDS_POLL_MAX_WAIT=0.6, WDS_POLL_MAX_DELAY=0.2),
        api_url=wds_emulator.url,
        job="slow",
        tasks=tasks,
    )
    assert spider.answers == {}
    assert sorted(spider.failures) == sorted(t["id"] for t in tasks)
    for task in tasks:
        [error] = spider.failures[task["id"]]
        assert isinstance(error, WdsGaveUpWaiting)
        assert (error.status, error.action, error.task_id, error.job) == (
            int(pending_info),
            "info",
            task["id"],
            "slow",
        )
        assert "WDS_POLL_MAX_WAIT" in str(error)
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(task["id"] in line and "raise WDS_POLL_MAX_WAIT" in line for line in logged)
    stats = crawler.stats.get_stats()
    assert stats["wds/gave_up"] == stats["wds/gave_up/waiting"] == 2
    assert stats["wds/errors/gave_up_waiting"] == 2
    # Polled repeatedly (backoff), every call a 202, and nothing after giving up.
    calls = task_calls(wds_emulator.calls())
    assert {status for _, status in calls} == {PENDING}
    assert stats["wds/polls"] == len(calls) - 2 >= 4
    assert stats["finish_reason"] == "finished"
