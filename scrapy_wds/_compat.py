"""The few places scrapy-wds must reach into Scrapy's internals, each one small and tested.

``tests/test_compat.py`` fails the day Scrapy renames or reshapes what these
functions touch, instead of the package misbehaving in silence.

Why they exist: the HasData extension feeds items to the pipelines with
``Scraper.start_itemproc_async`` (public), but outside of any response.  The
scraper only re-checks a pending close when a *response* finishes, and the
engine only asks ``spider_idle`` again on its 5 s heartbeat, so an extension
that pushes items needs to (1) know a close has begun before pushing the next
item, (2) let a close that began meanwhile go on once its item is through,
and (3) have the engine ask ``spider_idle`` now once its last job is drained.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler


def _scraper_slot(crawler: Crawler) -> Any:
    engine = crawler.engine
    return None if engine is None else engine.scraper.slot


def scraper_is_closing(crawler: Crawler) -> bool:
    """Whether the crawl is closing (or closed): no new item may be pushed."""
    slot = _scraper_slot(crawler)
    return slot is None or not crawler.crawling or slot.closing is not None


def let_pending_close_proceed(crawler: Crawler) -> None:
    """After an item went through: a close waiting for the pipelines to be idle may go on."""
    slot = _scraper_slot(crawler)
    if slot is not None and slot.closing is not None:
        assert crawler.engine is not None
        crawler.engine.scraper._check_if_closing()


def ask_engine_to_check_idle(crawler: Crawler) -> None:
    """Have the engine run its idle check now rather than at its next heartbeat."""
    engine = crawler.engine
    slot = None if engine is None else engine._slot
    if slot is not None:
        slot.nextcall.schedule()
