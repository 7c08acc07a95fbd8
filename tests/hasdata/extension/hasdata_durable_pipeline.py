"""An item pipeline that makes every item durable before the next one (for crash tests).

Feed exports buffer their file, so a SIGKILL loses the buffered tail; this
pipeline appends each item as a JSON line and fsyncs it, so what the crawl
delivered before the kill is exactly what the file holds.  ``DURABLE_DELAY``
(seconds per item) slows delivery down so a test can kill mid-stream.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler


class DurableLinesPipeline:
    def __init__(self, path: str, delay: float) -> None:
        self.path = path
        self.delay = delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DurableLinesPipeline:
        return cls(crawler.settings["DURABLE_OUTPUT"], crawler.settings.getfloat("DURABLE_DELAY"))

    def process_item(self, item: Any) -> Any:
        if self.delay:
            time.sleep(self.delay)
        line = json.dumps(ItemAdapter(item).asdict(), sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return item
