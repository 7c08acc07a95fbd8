"""Rows of one job → deduplicated items → Scrapy's item pipelines.

How an extension feeds items to the pipelines (Scrapy 2.14+):
``crawler.engine.scraper.start_itemproc_async(item, response=None)`` is the
call the engine itself uses for items yielded by a spider's ``start()``.  It
runs every item pipeline, logs "Scraped from", fires ``item_scraped`` (so
feed exports and stats see the item) or ``item_dropped``/``item_error``, and
counts the item in the scraper's slot, so the engine does not treat the
spider as idle while the item is in a pipeline.

Two private touches, both guarded, make a *batch* of rows atomic with
respect to closing: the batch holds one count in ``scraper.slot.itemproc_size``
(what ``start_itemproc_async`` does per item) so a close waits for it, and
afterwards ``scraper._check_if_closing()`` is called, because the scraper
re-checks a pending close only when a response is done, never an item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from scrapy.crawler import Crawler

from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._row_keys import row_content_key
from scrapy_wds._hasdata._rows import PagedRow, RowConversionError, row_to_item
from scrapy_wds._hasdata._state import JobRecord

logger = logging.getLogger(__name__)


class CrawlClosing(Exception):
    """The crawl is closing: rows not yet pushed stay undelivered (and unrecorded)."""


class JobRows:
    """Which rows of one job were delivered; turns the new ones into items.

    Paged rows are recognised by their row id; every row (paged, from the
    ``json`` file or from a webhook, which carries no id) also by its content
    key, which is persisted so a restarted crawl recognises it too.
    """

    def __init__(self, job: HasDataJob, record: JobRecord) -> None:
        self.job = job
        self.record = record
        self._item_class = job.resolved_item_class()
        self._content_keys = set(record.content_keys)
        self._row_ids: set[str] = set()

    def select_new(self, rows: Iterable[PagedRow]) -> tuple[list[tuple[str, dict[str, Any]]], int]:
        """The rows not seen before (marked seen now) and the count of duplicates."""
        fresh: list[tuple[str, dict[str, Any]]] = []
        duplicates = 0
        for paged in rows:
            key = row_content_key(paged.row, self.job.content_key)
            if (paged.row_id is not None and paged.row_id in self._row_ids) or (
                key in self._content_keys
            ):
                duplicates += 1
                continue
            if paged.row_id is not None:
                self._row_ids.add(paged.row_id)
            self._content_keys.add(key)
            fresh.append((key, paged.row))
        return fresh, duplicates

    def to_item(self, row: dict[str, Any]) -> Any:
        return row_to_item(row, self._item_class, self.job.field_map)

    def recorded(self, keys: list[str]) -> None:
        """Call once the items of ``keys`` went through the pipelines."""
        self.record.rows_delivered += len(keys)


class ItemPusher:
    """Pushes items through the crawl's item pipelines, one at a time, in order."""

    def __init__(self, crawler: Crawler, count: Callable[[str, int], None]) -> None:
        self._crawler = crawler
        self._count = count

    def closing(self) -> bool:
        engine = self._crawler.engine
        slot = getattr(getattr(engine, "scraper", None), "slot", None)
        return (
            engine is None
            or not self._crawler.crawling
            or slot is None
            or getattr(slot, "closing", None) is not None
        )

    async def deliver(
        self,
        rows: JobRows,
        batch: Iterable[PagedRow],
        source: str,
        commit: Callable[[list[str]], None],
    ) -> int:
        """Deliver the new rows of ``batch``; returns how many went to the pipelines.

        A batch (a results page, a chunk of the ``json`` file, one webhook
        call) is the unit of the delivery guarantee: while it is being pushed
        the scraper's slot counts it as busy, so a close that begins meanwhile
        (Ctrl-C, a close reason of this extension) waits until every row of
        the batch went through the pipelines and ``commit`` (which persists
        the progress; it gets the content keys delivered) ran.  A batch is never started once the crawl closes.
        """
        if self.closing():
            raise CrawlClosing()
        assert self._crawler.engine is not None
        scraper = self._crawler.engine.scraper
        fresh, duplicates = rows.select_new(batch)
        if duplicates:
            self._count("hasdata/rows/duplicates", duplicates)
        slot = scraper.slot
        assert slot is not None  # not closing, so the scraper has its slot
        slot.itemproc_size += 1  # the batch as a whole is "an item in progress"
        try:
            delivered: list[str] = []
            for key, row in fresh:
                try:
                    item = rows.to_item(row)
                except RowConversionError as exc:
                    self._count("hasdata/rows/unconvertible", 1)
                    logger.error("HasData job %r: %s", rows.job.key, exc)
                    delivered.append(key)  # seen: retrying cannot make it fit
                    continue
                await scraper.start_itemproc_async(item, response=None)
                delivered.append(key)
            rows.recorded(delivered)
            commit(delivered)
        finally:
            slot.itemproc_size -= 1
            self._wake_closing(scraper)
        self._count("hasdata/rows", len(fresh))
        self._count(f"hasdata/rows/{source}", len(fresh))
        return len(fresh)

    @staticmethod
    def _wake_closing(scraper: Any) -> None:
        # The scraper re-checks a pending close only after a response; do it
        # for our batch too, or a close begun meanwhile would wait forever.
        slot = getattr(scraper, "slot", None)
        check = getattr(scraper, "_check_if_closing", None)
        if slot is not None and getattr(slot, "closing", None) is not None and callable(check):
            check()
