"""An item pipeline for the crash drills: how many items are stored while their WDS answer is still owed.

Placed right after ``ItemLinesPipeline`` (which stores each item at once) and
before the ledger's own last pipeline, it counts, at every item, the items
stored so far whose answer the ledger has not settled yet, this one included.
That number is what a ``kill -9`` at that moment would deliver twice on
resume.  It reads the keeper's private map of items to answers: a test probe,
not an API.
"""

from __future__ import annotations

from typing import Any

from scrapy_wds._wds._ledger_keeper import keeper_for

#: Between ``ItemLinesPipeline`` (900) and ``WdsLedgerPipeline`` (10000).
PROBE_ORDER = 950
#: Stats: the largest count seen, and how many items saw each count.
MAX_STAT = "probe/stored_unsettled_max"
COUNT_STAT = "probe/stored_unsettled/{}"


class StoredUnsettledProbe:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stored: list[int] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> StoredUnsettledProbe:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        unsettled = keeper_for(self.crawler)._item_ticket
        self.stored = [*(i for i in self.stored if i in unsettled), id(item)]
        self.crawler.stats.max_value(MAX_STAT, len(self.stored))
        self.crawler.stats.inc_value(COUNT_STAT.format(len(self.stored)))
        return item
