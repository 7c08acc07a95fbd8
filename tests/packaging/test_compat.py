"""scrapy_wds._compat against the installed Scrapy, in a real in-process crawl.

Each function touches one Scrapy internal; these tests fail when Scrapy
changes what it means (run on the oldest and the newest supported Scrapy by
``tox -e min`` and ``tox -e latest``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import CrawlerRunner
from scrapy.exceptions import DontCloseSpider

from scrapy_wds._compat import engine_is_closing, one_item_in_progress, wake_engine


class BatchSpider(scrapy.Spider):
    """Sends no request; from start(), pushes one item from a slow "batch" of rows."""

    name = "compat_batch"
    #: Whether the batch asks the engine to close meanwhile, as Ctrl-C would.
    shut_down_meanwhile = False
    observed: dict[str, Any]

    async def start(self) -> AsyncIterator[Any]:
        self.observed = {}
        self.task = asyncio.ensure_future(self.batch())  # held: asyncio keeps tasks weakly
        await asyncio.sleep(0)  # the batch begins while start() keeps the spider busy
        return
        yield

    async def batch(self) -> None:
        engine = self.crawler.engine
        assert engine is not None
        self.observed["closing_at_start"] = engine_is_closing(engine)
        with one_item_in_progress(engine.scraper):
            if self.shut_down_meanwhile:
                self.closing = asyncio.ensure_future(engine.close_spider_async(reason="shutdown"))
                while not engine_is_closing(engine):
                    await asyncio.sleep(0.01)
                self.observed["closing_seen"] = True
            # No request is pending: without the hold the spider would be
            # idle (or its close would go ahead) before this item is through.
            await asyncio.sleep(0.3)
            await engine.scraper.start_itemproc_async({"from": "batch"}, response=None)


class ShutDownBatchSpider(BatchSpider):
    name = "compat_batch_shutdown"
    shut_down_meanwhile = True


class IdleUntilWokenSpider(scrapy.Spider):
    """Keeps the spider open until its work is done, then wakes the engine."""

    name = "compat_wake"
    observed: dict[str, Any]

    async def start(self) -> AsyncIterator[Any]:
        self.observed = {"work_done": False}
        self.crawler.signals.connect(self.idle, signal=signals.spider_idle)
        self.task = asyncio.ensure_future(self.work())  # held: asyncio keeps tasks weakly
        return
        yield

    def idle(self) -> None:
        if not self.observed["work_done"]:
            raise DontCloseSpider

    async def work(self) -> None:
        await asyncio.sleep(0.2)
        self.observed["work_done"] = True
        assert self.crawler.engine is not None
        wake_engine(self.crawler.engine)


def _crawl(spider_class: type[scrapy.Spider]) -> Any:
    runner = CrawlerRunner({"TELNETCONSOLE_ENABLED": False, "CLOSESPIDER_TIMEOUT": 20})
    crawler = runner.create_crawler(spider_class)
    return runner, crawler


@pytest_twisted.inlineCallbacks
def test_a_batch_in_progress_keeps_an_idle_spider_open() -> Iterator[Any]:
    runner, crawler = _crawl(BatchSpider)
    yield runner.crawl(crawler)
    assert crawler.spider.observed == {"closing_at_start": False}
    assert crawler.stats.get_value("item_scraped_count") == 1
    assert crawler.stats.get_value("finish_reason") == "finished"


@pytest_twisted.inlineCallbacks
def test_a_shutdown_waits_for_a_batch_in_progress() -> Iterator[Any]:
    runner, crawler = _crawl(ShutDownBatchSpider)
    yield runner.crawl(crawler)
    assert crawler.spider.observed == {"closing_at_start": False, "closing_seen": True}
    assert crawler.stats.get_value("item_scraped_count") == 1
    assert crawler.stats.get_value("finish_reason") == "shutdown"


@pytest_twisted.inlineCallbacks
def test_waking_the_engine_lets_an_idle_spider_close(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    # Without the wake-up only the heartbeat would ask spider_idle again; with
    # the heartbeat an hour away the crawl could then only end by timeout.
    monkeypatch.setattr(ExecutionEngine, "_SLOT_HEARTBEAT_INTERVAL", 3600.0)
    runner, crawler = _crawl(IdleUntilWokenSpider)
    yield runner.crawl(crawler)
    assert crawler.spider.observed["work_done"] is True
    assert crawler.stats.get_value("finish_reason") == "finished"
