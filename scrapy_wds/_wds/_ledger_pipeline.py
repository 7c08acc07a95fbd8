"""The last item pipeline: an item that got through every pipeline settles its WDS answer.

A ``wds_scrape_multiple`` answer is owed until its item is stored.  Scrapy's
``item_scraped`` signal says so too, but only after the pipelines'
coroutine resumes, a reactor turn or more later: a ``kill -9`` in between
finds several items stored and their answers still owed, which a resumed
crawl then asks (and stores) again.  This pipeline runs right after the
user's last one, in the same turn, so that window is as small as it gets.
Items dropped or failing in a pipeline settle through the
``item_dropped``/``item_error`` signals instead (see ``_ledger_keeper``).

The add-on puts it last in ``ITEM_PIPELINES`` (order :data:`PIPELINE_ORDER`).
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import NotConfigured

from scrapy_wds._wds._ledger_keeper import keeper_for

#: After any pipeline a project is likely to have (Scrapy's custom is 0-1000).
PIPELINE_ORDER = 10_000


class WdsLedgerPipeline:
    """Settles the WDS answer an item came from, once every other pipeline has it."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> WdsLedgerPipeline:
        if not crawler.settings.get("WDS_API_URL"):
            raise NotConfigured("WdsLedgerPipeline is off: WDS_API_URL is not set")
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        keeper_for(self.crawler).item_stored(item)
        return item
