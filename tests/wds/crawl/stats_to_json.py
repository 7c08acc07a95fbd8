"""Test-only extension: writes the crawl's final stats to the JSON file named by STATS_JSON_FILE.

The crawl tests run ``scrapy crawl`` in a subprocess; a file is sturdier to
read back than the stats dump in the log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


class StatsToJson:
    def __init__(self, crawler: Crawler, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsToJson:
        path = crawler.settings.get("STATS_JSON_FILE")
        if not path:
            raise NotConfigured("STATS_JSON_FILE is not set")
        extension = cls(crawler, path)
        # spider_closed fires after the stats got finish_reason.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats: dict[str, Any] = dict(self.crawler.stats.get_stats())
        stats["finish_reason"] = reason
        self.path.write_text(json.dumps(stats, default=str, sort_keys=True))
