"""What ``scrapy_wds._compat`` touches inside Scrapy still exists and behaves as assumed.

Each test fails the day Scrapy changes one of those internals, instead of
the package misbehaving in silence.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler

from scrapy_wds import _compat


class IdleSpider(scrapy.Spider):
    name = "idle"

    async def start(self):  # type: ignore[no-untyped-def]
        return
        yield


@pytest_twisted.ensureDeferred
async def test_a_close_waiting_on_a_pushed_item_goes_on_once_it_is_through() -> None:
    crawler = get_crawler(IdleSpider, {"LOG_LEVEL": "WARNING"})
    seen: dict[str, Any] = {}

    def opened(spider: scrapy.Spider) -> None:
        from twisted.internet import reactor

        assert not _compat.scraper_is_closing(crawler)
        engine = crawler.engine
        assert engine is not None
        slot = engine.scraper.slot
        assert slot is not None
        slot.itemproc_size += 1  # an item in the pipelines, as start_itemproc_async counts it
        closing = deferred_from_coro(engine.close_spider_async(reason="test"))

        def item_done() -> None:
            if not _compat.scraper_is_closing(crawler):
                reactor.callLater(0.01, item_done)
                return
            seen["closing_flag"] = True
            seen["waits"] = not closing.called  # the close waits for the item
            slot.itemproc_size -= 1
            _compat.let_pending_close_proceed(crawler)

        reactor.callLater(0.01, item_done)

    crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
    await crawler.crawl()
    assert seen == {"closing_flag": True, "waits": True}
    assert crawler.stats is not None and crawler.stats.get_value("finish_reason") == "test"


@pytest_twisted.ensureDeferred
async def test_the_engine_can_be_asked_to_check_idle_now() -> None:
    crawler = get_crawler(IdleSpider, {"LOG_LEVEL": "WARNING"})
    asked: list[bool] = []

    def opened(spider: scrapy.Spider) -> None:
        _compat.ask_engine_to_check_idle(crawler)
        asked.append(True)

    crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
    await crawler.crawl()
    assert asked == [True]
    assert _compat.scraper_is_closing(crawler)  # after the crawl: closed
