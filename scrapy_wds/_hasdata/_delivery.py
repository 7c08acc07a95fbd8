"""Rows of one job → deduplicated items → Scrapy's item pipelines (or a spider method).

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

A job with a ``callback`` hands each row (as its item) to that spider method
instead; what the method returns or yields is handled as Scrapy handles a
callback's output: requests go to ``engine.crawl``, anything else to the
pipelines, the same way as above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future

from scrapy_wds._hasdata._row_ledger import JobRows
from scrapy_wds._hasdata._rows import PagedRow, RowConversionError
from scrapy_wds._hasdata._state import RowProgress
from scrapy_wds._wds._callbacks import iterate_output

logger = logging.getLogger(__name__)


class CrawlClosing(Exception):
    """The crawl is closing: rows not yet pushed stay undelivered (and unrecorded)."""


#: ``commit(progress, complete)``: persist the rows a batch handled; ``complete``
#: is False when the batch stopped partway (its page is not done yet).
Commit = Callable[[RowProgress, bool], None]


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
        self, rows: JobRows, batch: Iterable[PagedRow], source: str, commit: Commit,
        *, positions: Callable[[int], str],
    ) -> int:
        """Deliver the new rows of ``batch``; returns how many were delivered.

        A batch (a results page, a chunk of the ``json`` file, one webhook
        call) is the unit of the delivery guarantee: while it is being pushed
        the scraper's slot counts it as busy, so a close that begins meanwhile
        (Ctrl-C, a close reason of this extension) waits until every row of
        the batch went through the pipelines and ``commit`` ran.  A row is
        recorded only once it went through, so a batch that stops partway
        commits exactly the rows delivered.  A batch is never started once the
        crawl closes.  ``positions(i)`` names the place of the batch's i-th
        row, its id when it has none.
        """
        await maybe_deferred_to_future(rows.lock.acquire())
        try:
            if self.closing():  # checked after the wait: a close may have begun meanwhile
                raise CrawlClosing()
            return await self._deliver_locked(rows, batch, source, commit, positions)
        finally:
            rows.lock.release()

    async def _deliver_locked(
        self, rows: JobRows, batch: Iterable[PagedRow], source: str, commit: Commit,
        positions: Callable[[int], str],
    ) -> int:
        assert self._crawler.engine is not None
        scraper = self._crawler.engine.scraper
        slot = scraper.slot
        assert slot is not None  # not closing, so the scraper has its slot
        slot.itemproc_size += 1  # the batch as a whole is "an item in progress"
        progress = RowProgress()
        delivered = duplicates = 0
        complete = False
        try:
            for index, paged in enumerate(batch):
                decision = rows.decide(paged, source, position=positions(index))
                if decision.deliver:
                    await self._push_row(rows, paged.row)
                    delivered += 1
                else:
                    duplicates += 1
                rows.note_done(decision, progress)
            complete = True
        finally:
            try:
                rows.record_delivered(delivered)
                commit(progress, complete)
            finally:
                slot.itemproc_size -= 1
                self._wake_closing(scraper)
                self._count("hasdata/rows/duplicates", duplicates)
                self._count("hasdata/rows", delivered)
                self._count(f"hasdata/rows/{source}", delivered)
        return delivered

    async def _push_row(self, rows: JobRows, row: dict[str, Any]) -> None:
        """One row through the pipelines, or through the job's spider callback."""
        try:
            item = rows.to_item(row)
        except RowConversionError as exc:
            self._count("hasdata/rows/unconvertible", 1)
            logger.error("HasData job %r: %s", rows.job.key, exc)
            return  # counted as delivered: retrying cannot make it fit
        if rows.job.callback is None:
            await self._push_item(item)
            return
        spider = self._crawler.spider
        method = getattr(spider, rows.job.callback)
        try:
            async for output in iterate_output(method(item)):
                if isinstance(output, Request):
                    assert self._crawler.engine is not None
                    self._crawler.engine.crawl(output)
                elif output is not None:
                    await self._push_item(output)
        except Exception:
            # As Scrapy does with a failing callback: log it and go on; the
            # row counts as delivered (calling again would fail again).
            self._count("hasdata/rows/callback_errors", 1)
            logger.exception(
                "HasData job %r: %s.%s failed on a row",
                rows.job.key, type(spider).__name__, rows.job.callback,
            )

    async def _push_item(self, item: Any) -> None:
        assert self._crawler.engine is not None
        await self._crawler.engine.scraper.start_itemproc_async(item, response=None)

    @staticmethod
    def _wake_closing(scraper: Any) -> None:
        # The scraper re-checks a pending close only after a response; do it
        # for our batch too, or a close begun meanwhile would wait forever.
        slot = getattr(scraper, "slot", None)
        check = getattr(scraper, "_check_if_closing", None)
        if slot is not None and getattr(slot, "closing", None) is not None and callable(check):
            check()
