"""A call the ledger owes but Scrapy lost (dropped between the ledger and the scheduler) is asked again at the end."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest_twisted
from crawl.conftest import EXAMPLE_PROJECT
from crawl.in_process import crawl_in_process
from scrapy import Request

sys.path.insert(0, str(EXAMPLE_PROJECT))
from example_project.spiders.books import BooksSpider


class LoseSomeCalls:
    """Drops the first 5 scrape-multiple calls the spider yields, as a crash would lose them."""

    lost: list[str] = []

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for element in result:
            wds = element.meta.get("wds", {}) if isinstance(element, Request) else {}
            if wds.get("action") == "scrape_multiple" and len(self.lost) < 5:
                self.lost.append(wds["task"]["url"])
                continue
            yield element


@pytest_twisted.inlineCallbacks
def test_calls_lost_on_the_way_are_asked_again_and_the_crawl_is_whole(
    wds_emulator: Any, demo_site: Any, truth: list[dict[str, str]]
) -> Iterator[Any]:
    LoseSomeCalls.lost = []
    crawling, crawler, items = crawl_in_process(
        BooksSpider,
        wds_emulator,
        demo_site,
        SPIDER_MIDDLEWARES={LoseSomeCalls: 1},
        CLOSESPIDER_TIMEOUT=120,
    )
    yield crawling
    stats = crawler.stats.get_stats()
    assert len(LoseSomeCalls.lost) == 5
    assert stats["finish_reason"] == "finished"
    assert stats["wds/ledger/reissued"] == 5
    assert sorted(items, key=lambda item: item["url"]) == truth
