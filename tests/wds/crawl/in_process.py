"""An example spider crawled in this process against the emulators, its items kept as scraped."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerRunner
from twisted.internet.defer import Deferred


def crawl_in_process(
    spider_class: type, wds_emulator: Any, demo_site: Any, **settings: Any
) -> tuple[Deferred[None], Crawler, list[dict[str, Any]]]:
    """Start the crawl: ``(its Deferred, the crawler, the items scraped so far)``.

    The add-on, both addresses and no telnet console; ``settings`` add to them.
    """
    runner = CrawlerRunner(
        {
            "ADDONS": {"scrapy_wds.Addon": 300},
            "WDS_API_URL": wds_emulator.url,
            "DEMO_SITE_URL": demo_site.url,
            "TELNETCONSOLE_ENABLED": False,
            **settings,
        }
    )
    crawler = runner.create_crawler(spider_class)
    items: list[dict[str, Any]] = []
    crawler.signals.connect(
        lambda item: items.append(ItemAdapter(item).asdict()),
        signal=signals.item_scraped,
        weak=False,
    )
    return runner.crawl(crawler), crawler, items
