"""Test-only item pipeline: appends each item to ``APPEND_ITEMS_FILE`` the moment it passes.

Feed exports buffer their output, so after a SIGKILL they under-count what a
worker delivered.  This pipeline writes one JSON line per item and flushes
it at once: what a killed worker handed on is in its file.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


class AppendItems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.file: TextIO | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AppendItems:
        path = crawler.settings.get("APPEND_ITEMS_FILE")
        if not path:
            raise NotConfigured("APPEND_ITEMS_FILE is not set")
        return cls(path)

    def open_spider(self, spider: Any = None) -> None:
        self.file = open(self.path, "a", encoding="utf-8")

    def close_spider(self, spider: Any = None) -> None:
        if self.file is not None:
            self.file.close()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        assert self.file is not None
        self.file.write(json.dumps(ItemAdapter(item).asdict(), sort_keys=True) + "\n")
        self.file.flush()
        return item
