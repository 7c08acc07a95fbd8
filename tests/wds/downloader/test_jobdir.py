"""Requests waiting in the waiting room survive a graceful stop with JOBDIR."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from scrapy_wds._wds._waiting_room import parked_file

from .probe import SECRET, crawl_settings, run_probe, start_job, task_calls


@pytest_twisted.ensureDeferred
async def test_parked_polls_survive_pause_and_resume(
    wds_emulator: Any, demo_site: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    jobdir = str(tmp_path / "job")
    tasks = start_job(wds_emulator.url, "pause", [demo_site.url + p for p in demo_site.page_paths()[:8]])
    wds_emulator.configure(pending_polls=1)
    settings = crawl_settings(
        wds_emulator.url,
        JOBDIR=jobdir,
        WDS_API_HEADERS={"Authorization": SECRET},
        WDS_POLL_FIRST_DELAY=1.5,  # parked long enough to be saved, short enough to resume fast
        WDS_POLL_MAX_DELAY=3,
    )

    # First run: every task answers 202 once and is parked; then a graceful stop.
    crawler, spider = await run_probe(
        settings, api_url=wds_emulator.url, job="pause", tasks=tasks, stop_when_idle=True
    )
    assert crawler.stats.get_value("finish_reason") == "shutdown"
    assert spider.answers == {} and spider.failures == {}
    assert [s for _, s in task_calls(wds_emulator.calls())] == [202] * 8
    saved = parked_file(jobdir).read_bytes()
    for task in tasks:
        assert task["id"].encode() in saved
    assert SECRET.split()[1].encode() not in saved

    # Second run on the same JOBDIR, no new start requests: the parked polls resume.
    calls_before = len(wds_emulator.calls())
    crawler, spider = await run_probe(settings, api_url=wds_emulator.url, job="pause", tasks=[])
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert sorted(spider.answers) == sorted(t["id"] for t in tasks)
    assert all(statuses == [200] for statuses in spider.answers.values())
    resumed_calls = task_calls(wds_emulator.calls()[calls_before:])
    assert sorted(resumed_calls) == sorted((t["id"], 200) for t in tasks)
    assert not parked_file(jobdir).exists()
    assert any("Resumed 8 WDS requests" in r.getMessage() for r in caplog.records)
    assert any("Kept 8 waiting WDS requests" in r.getMessage() for r in caplog.records)
