"""Calls waiting in the waiting room survive a graceful stop with JOBDIR (the ledger's journal)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.utils.defer import deferred_from_coro

from scrapy_wds import JobConfig, WdsSpiderMixin
from scrapy_wds._wds._ledger_journal import journal_path

from .probe import PENDING, SECRET, crawl_settings, task_calls


class PauseSpider(WdsSpiderMixin, scrapy.Spider):
    """One item per start page; stops as Ctrl-C would the first time it is idle, if told to."""

    name = "pause"

    def __init__(self, urls: list[str], stop_when_idle: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.wds_job = JobConfig(start_urls=urls, type="Intranet")
        self.stop_when_idle = stop_when_idle

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PauseSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    def on_idle(self, spider: Any) -> None:
        if self.stop_when_idle:
            self.stop_when_idle = False
            deferred_from_coro(self.crawler.stop_async())

    def parse(self, response: Any) -> Iterator[dict[str, Any]]:
        task = self.wds_task(response)
        yield {"url": task.url, "status": task.http_status}


async def crawl(settings: dict[str, Any], urls: list[str], **kwargs: Any) -> tuple[Any, list[Any]]:
    crawler = CrawlerRunner(settings).create_crawler(PauseSpider)
    items: list[Any] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    await crawler.crawl(urls=urls, **kwargs)
    return crawler, items


@pytest_twisted.ensureDeferred
async def test_parked_polls_survive_pause_and_resume(
    wds_emulator: Any, demo_site: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    jobdir = str(tmp_path / "job")
    urls = [demo_site.url + p for p in demo_site.page_paths()[:8]]
    wds_emulator.configure(pending_polls=1)
    settings = crawl_settings(
        wds_emulator.url,
        JOBDIR=jobdir,
        WDS_API_HEADERS={"Authorization": SECRET},
        WDS_POLL_FIRST_DELAY=1.5,  # parked long enough to be saved, short enough to resume fast
        WDS_POLL_MAX_DELAY=3,
    )

    # First run: every task waits once and is parked; then a graceful stop.
    crawler, items = await crawl(settings, urls, stop_when_idle=True)
    assert crawler.stats.get_value("finish_reason") == "shutdown"
    assert items == []
    first_calls = task_calls(wds_emulator.calls())
    assert len(first_calls) == 8 and all(status == PENDING for _, status in first_calls)
    saved = journal_path(jobdir).read_bytes()
    for task_id, _ in first_calls:
        assert task_id.encode() in saved
    assert SECRET.split()[1].encode() not in saved

    # Second run on the same JOBDIR: the job start is not sent again, the parked polls resume.
    calls_before = len(wds_emulator.calls())
    crawler, items = await crawl(settings, urls)
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert sorted(item["url"] for item in items) == sorted(urls)
    resumed_calls = wds_emulator.calls()[calls_before:]
    assert sorted(task_calls(resumed_calls)) == sorted((task_id, 200) for task_id, _ in first_calls)
    assert not [c for c in resumed_calls if c["path"].endswith("/start")]
    # Nothing is owed any more: the journal, compacted at close, says so.
    assert b'"i":[]' in journal_path(jobdir).read_bytes()
    assert crawler.stats.get_value("wds/ledger/resumed") == 8
    assert any("Resumed 8 WDS calls" in r.getMessage() for r in caplog.records)
    assert any("8 WDS calls still owed are kept" in r.getMessage() for r in caplog.records)
