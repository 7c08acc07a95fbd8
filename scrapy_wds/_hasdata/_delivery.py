"""Rows of one job → deduplicated items → Scrapy's item pipelines (or a spider method).

How an extension feeds items to the pipelines (Scrapy 2.14+):
``crawler.engine.scraper.start_itemproc_async(item, response=None)`` is the
call the engine itself uses for items yielded by a spider's ``start()``.  It
runs every item pipeline, logs "Scraped from", fires ``item_scraped`` (so
feed exports and stats see the item) or ``item_dropped``/``item_error``, and
counts the item in the scraper's slot, so the engine does not treat the
spider as idle while the item is in a pipeline.

Each row is recorded in the job's ledger the moment it went through, so a
close (Ctrl-C, a close reason) may stop a batch between two rows: nothing
is lost and nothing repeats.  Pushing items outside of any response needs
two small touches of Scrapy's internals, kept in :mod:`scrapy_wds._compat`.

A job with a ``callback`` hands each row (as its item) to that spider method
instead; what the method returns or yields is handled as Scrapy handles a
callback's output: requests go to ``engine.crawl``, anything else to the
pipelines, the same way as above.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future

from scrapy_wds import _compat
from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._ledger import JobLedger
from scrapy_wds._hasdata._row_keys import row_content_key
from scrapy_wds._hasdata._rows import RowConversionError, row_to_item
from scrapy_wds._wds._callbacks import iterate_output

if TYPE_CHECKING:
    from scrapy.core.engine import ExecutionEngine

logger = logging.getLogger(__name__)

#: What a row that cannot become an item turns into (logged and counted, not pushed).
_UNCONVERTIBLE = object()


class CrawlClosing(Exception):
    """The crawl is closing: rows not yet pushed stay undelivered (and unrecorded)."""


class _Batch:
    """Holds a close off while a batch's rows go through, from the first row pushed to the end.

    The batch counts as one item in the pipelines (``one_item_in_progress``):
    a close that begins meanwhile waits for the row going through, the batch
    stops before the next one (:class:`CrawlClosing`), and on the way out the
    pending close is re-checked (the scraper itself does so only after
    responses).  Entered once per batch, not per row: it is on the path of
    every row.  It also counts the batch's rows, delivered and skipped.
    """

    __slots__ = ("_engine", "_hold", "delivered", "skipped")

    def __init__(self, engine: ExecutionEngine | None) -> None:
        self._engine = engine
        self._hold: AbstractContextManager[None] | None = None
        self.delivered = 0
        self.skipped = 0

    def begin_row(self) -> None:
        """Before a row goes through: :class:`CrawlClosing` if the crawl is closing."""
        engine = self._engine
        if engine is None or _compat.engine_is_closing(engine):
            raise CrawlClosing()
        if self._hold is None:
            self._hold = _compat.one_item_in_progress(engine.scraper)
            self._hold.__enter__()

    def end(self) -> None:
        if self._hold is not None:
            self._hold.__exit__(None, None, None)
            self._hold = None


class ItemPusher:
    """Pushes a job's new rows through the crawl's item pipelines, one at a time, in order."""

    def __init__(self, crawler: Crawler) -> None:
        self._crawler = crawler
        self._item_classes: dict[str, type | None] = {}

    def _count(self, name: str, value: int) -> None:
        if value and self._crawler.stats is not None:
            self._crawler.stats.inc_value(name, value)

    async def deliver(
        self,
        job: HasDataJob,
        ledger: JobLedger,
        rows: list[dict[str, Any]],
        source: str,
        *,
        first_position: int | None,
    ) -> int:
        """Deliver the rows of ``rows`` not delivered yet; how many were.

        ``first_position`` is the position of ``rows[0]`` in the job's
        results (page or file); None for webhook rows, which have none and
        are known by their content.  Raises :class:`CrawlClosing` when the
        crawl closes before every row went through.
        """
        await maybe_deferred_to_future(ledger.lock.acquire())
        batch = _Batch(self._crawler.engine)
        try:
            item_class = self._item_class(job)
            if first_position is None:
                for row in rows:
                    key = row_content_key(row, job.content_key)
                    if ledger.webhook_seen(key):
                        batch.skipped += 1
                        continue
                    await self._push_row(batch, job, item_class, row)
                    ledger.note_webhook(key)
            else:
                # The per-row path of a big job: a batch whose positions are
                # all new need not ask the ledger row by row.
                check = not ledger.all_new(first_position, len(rows))
                for position, row in enumerate(rows, first_position):
                    if check and ledger.skip_paged(position, row, job.content_key):
                        batch.skipped += 1
                        continue
                    await self._push_row(batch, job, item_class, row)
                    ledger.note_paged(position)
        finally:
            batch.end()
            ledger.lock.release()
            self._count("hasdata/rows/duplicates", batch.skipped)
            self._count("hasdata/rows", batch.delivered)
            self._count(f"hasdata/rows/{source}", batch.delivered)
        return batch.delivered

    async def _push_row(
        self, batch: _Batch, job: HasDataJob, item_class: type | None, row: dict[str, Any]
    ) -> None:
        """One row through the pipelines (or the job's spider callback), counted as delivered."""
        batch.begin_row()
        item = self._item(job, item_class, row)
        if job.callback is not None:
            await self._to_callback(job, item)
        elif item is not _UNCONVERTIBLE:
            await self._push_item(item)
        batch.delivered += 1

    def _item_class(self, job: HasDataJob) -> type | None:
        key = job.key
        if key not in self._item_classes:
            self._item_classes[key] = job.resolved_item_class()
        return self._item_classes[key]

    def _item(self, job: HasDataJob, item_class: type | None, row: dict[str, Any]) -> Any:
        """The item ``row`` becomes; ``_UNCONVERTIBLE`` (logged, counted) if it cannot."""
        try:
            return row_to_item(row, item_class, job.field_map)
        except RowConversionError as exc:
            self._count("hasdata/rows/unconvertible", 1)
            logger.error("HasData job %r: %s", job.key, exc)
            return _UNCONVERTIBLE  # counted as delivered: retrying cannot make it fit

    async def _to_callback(self, job: HasDataJob, item: Any) -> None:
        """The job's spider method gets the row's item; its output is handled as Scrapy would."""
        if item is _UNCONVERTIBLE:
            return
        assert job.callback is not None
        spider = self._crawler.spider
        method = getattr(spider, job.callback)
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
                job.key,
                type(spider).__name__,
                job.callback,
            )

    async def _push_item(self, item: Any) -> None:
        assert self._crawler.engine is not None
        await self._crawler.engine.scraper.start_itemproc_async(item, response=None)
