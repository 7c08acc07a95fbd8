"""The life of one HasData job in a crawl: submit (once, ever), poll, drain.

``JobRunner.run`` is one coroutine per declared job:

1. **submit** — unless the state file already knows the job's id (a resumed
   or restarted crawl); the id is persisted before anything else happens;
2. **poll** — status every ``HASDATA_POLL_INTERVAL`` seconds or more, backing
   off while nothing changes; a webhook ``finished`` callback wakes it early;
3. **drain** — once the job is ``finished`` or ``stopped``: the ``json`` file
   (opt-in) or the results pages, fetched a few at a time ahead of delivery,
   delivered in page order; progress persisted after every page.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._hasdata._client import HasDataApiError, HasDataClient
from scrapy_wds._hasdata._delivery import ItemPusher
from scrapy_wds._hasdata._row_ledger import WEBHOOK, JobRows
from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._rows import (
    KNOWN_STATUSES,
    TERMINAL_STATUSES,
    PagedRow,
    ResultsPage,
    as_int,
    as_number,
    job_id_of,
    parse_page,
    rows_from_file,
)
from scrapy_wds._hasdata._settings import HasDataSettings
from scrapy_wds._hasdata._state import JobRecord, RowProgress

logger = logging.getLogger(__name__)


class SubmitWithheld(Exception):
    """The crawl may not spend more (credit cap reached, closing): the job is not submitted."""


@dataclass
class RunnerContext:
    """What every runner of a crawl shares."""

    client: HasDataClient
    settings: HasDataSettings
    pusher: ItemPusher
    #: ``save_state(job_key)``: persist that job's record (state file or redis).
    save_state: Callable[[str], None]
    append_rows: Callable[[str, RowProgress], None]
    count: Callable[[str, int], None]
    on_status: Callable[[JobRunner], None]
    webhook_block: Callable[[], dict[str, Any] | None]
    #: False once the crawl must not spend more (credit cap, closing).
    may_submit: Callable[[], bool]
    reactor: Any
    #: ``check_claim(job_key)`` raises ``ClaimLost`` when another worker owns
    #: the job now (scrapy-redis); checked before each batch is delivered.
    check_claim: Callable[[str], None] = lambda key: None


class JobRunner:
    def __init__(self, job: HasDataJob, record: JobRecord, context: RunnerContext) -> None:
        self.job = job
        self.record = record
        self.rows = JobRows(job, record)
        self._ctx = context
        self._wake: Deferred[None] | None = None
        self._unknown_statuses: set[str] = set()
        self._finished_record: dict[str, Any] = {}

    def adopt(self, record: JobRecord) -> None:
        """Go on from ``record`` (read back when this worker claimed the job in redis)."""
        self.record = record
        self.rows = JobRows(self.job, record)

    def _save(self) -> None:
        self._ctx.save_state(self.job.key)

    @property
    def label(self) -> str:
        ident = f", id {self.record.job_id}" if self.record.job_id else ""
        return f"{self.job.key!r} ({self.job.scraper}{ident})"

    @property
    def done(self) -> bool:
        return self.record.drained

    @property
    def terminal(self) -> bool:
        return self.record.status in TERMINAL_STATUSES

    async def run(self) -> None:
        if self.record.drained:
            return
        just_submitted = self.record.job_id is None
        if just_submitted:
            await self._submit()
        else:
            self._ctx.count("hasdata/jobs/resumed", 1)
            logger.info("HasData job %s: resuming (already submitted)", self.label)
        # A job just submitted is polled after a full interval; a resumed one
        # at once (its last poll was in an earlier run).
        await self._wait_until_terminal(poll_now=not just_submitted)
        await self._drain()
        self.record.drained = True
        self._save()
        logger.info(
            "HasData job %s: %s, %d rows delivered",
            self.label,
            self.record.status,
            self.record.rows_delivered,
        )

    def wake(self) -> None:
        """Poll now (a webhook said the job finished)."""
        if self._wake is not None and not self._wake.called:
            self._wake.callback(None)

    # -- submit ------------------------------------------------------------

    async def _submit(self) -> None:
        if not self._ctx.may_submit():
            raise SubmitWithheld()
        body = dict(self.job.input)
        webhook = self._ctx.webhook_block()
        if webhook is not None:
            body["webhook"] = webhook
        if self.record.submit_unconfirmed:
            logger.warning(
                "HasData job %s: a previous run sent its submit but stopped before the "
                "answer arrived; submitting again (check your HasData dashboard for a "
                "second job)",
                self.label,
            )
        self.record.submit_unconfirmed = True
        self._save()
        try:
            answer = await self._ctx.client.submit(self.job.scraper, body)
        except HasDataApiError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                self.record.submit_unconfirmed = False  # refused: nothing was created
                self._save()
            raise
        job_id = job_id_of(answer)
        if job_id is None:
            raise HasDataApiError(
                f"POST /scrapers/{self.job.scraper}/jobs", 200, "the answer carries no job id"
            )
        self.record.job_id = job_id
        self.record.submit_unconfirmed = False
        self._note_status(answer)
        self._save()  # the moment the id is known: never pay twice
        self._ctx.count("hasdata/jobs/submitted", 1)
        logger.info("HasData job %s: submitted", self.label)

    # -- poll --------------------------------------------------------------

    async def _wait_until_terminal(self, *, poll_now: bool) -> None:
        attempt = 0
        first = poll_now
        while not self.terminal:
            if not first:
                settings = self._ctx.settings
                delay = max(
                    settings.poll_interval,
                    backoff_delay(
                        attempt, first=settings.poll_interval, cap=settings.poll_max_interval
                    ),
                )
                await self._sleep(delay)
            first = False
            assert self.record.job_id is not None
            before = (self.record.status, self.record.rows_total)
            answer = await self._ctx.client.status(self.record.job_id)
            self._ctx.count("hasdata/polls", 1)
            self._note_status(answer)
            self._save()
            attempt = 0 if (self.record.status, self.record.rows_total) != before else attempt + 1
        self._ctx.count(f"hasdata/jobs/{self.record.status}", 1)

    def _note_status(self, answer: dict[str, Any]) -> None:
        status = str(answer.get("status") or "").strip().lower() or None
        if status is not None and status not in KNOWN_STATUSES:
            if status not in self._unknown_statuses:
                self._unknown_statuses.add(status)
                logger.warning(
                    "HasData job %s: unknown status %r, treated as not done yet", self.label, status
                )
            self._ctx.count("hasdata/status_unknown", 1)
        if status is not None:
            self.record.status = status
        rows_total = as_int(answer.get("dataRowsCount"))
        if rows_total is not None:
            self.record.rows_total = rows_total
        credits = as_number(answer.get("creditsSpent"))
        if credits is not None:
            self.record.credits_spent = credits
        if status in TERMINAL_STATUSES:
            # Only the download links: the record also echoes the submitted
            # body, webhook secret included, which nothing here may keep.
            self._finished_record = {"data": answer.get("data")}
        self._ctx.on_status(self)

    async def _sleep(self, seconds: float) -> None:
        wake: Deferred[None] = Deferred()
        self._wake = wake
        def ring() -> None:
            if not wake.called:
                wake.callback(None)

        timer = self._ctx.reactor.callLater(seconds, ring)
        try:
            await maybe_deferred_to_future(wake)
        finally:
            self._wake = None
            if timer.active():
                timer.cancel()

    async def stop_remote(self) -> None:
        """DELETE the job on HasData's side if it still runs (rows already made stay)."""
        if self.record.job_id is None or self.terminal:
            return
        answer = await self._ctx.client.stop(self.record.job_id)
        if isinstance(answer, dict):
            self._note_status(answer)
        self.record.status = "stopped" if not self.terminal else self.record.status
        self._save()
        self._ctx.count("hasdata/jobs/stop_requested", 1)
        logger.info("HasData job %s: stopped on HasData's side", self.label)

    # -- drain -------------------------------------------------------------

    async def _drain(self) -> None:
        if self._ctx.settings.use_json_file and await self._drain_json_file():
            return
        await self._drain_pages()

    async def _drain_json_file(self) -> bool:
        links = self._finished_record.get("data")
        url = links.get("json") if isinstance(links, dict) else None
        if not isinstance(url, str) or not url:
            return False
        try:
            rows = rows_from_file(await self._ctx.client.fetch_file(url))
        except (HasDataApiError, ValueError) as exc:
            self._ctx.count("hasdata/json_file/fallbacks", 1)
            logger.info("HasData job %s: json file unusable (%s); paging instead", self.label, exc)
            return False
        self._ctx.count("hasdata/json_file/used", 1)
        size = self._ctx.settings.page_limit
        for start in range(0, len(rows), size):
            await self._deliver(
                rows[start : start + size], "json_file", page=None, positions=_in_file(start)
            )
        return True

    async def _drain_pages(self) -> None:
        record = self.record
        if record.page_limit is None:
            record.page_limit = self._ctx.settings.page_limit
        limit = record.page_limit
        done = set(record.pages_done)
        page_no = min(n for n in range(1, len(done) + 2) if n not in done)
        first = await self._fetch_page(page_no, limit)
        if first.last_page is None:  # no meta: one page after another until short
            await self._drain_sequentially(first, limit)
            return
        await self._deliver(first.rows, "pages", page=page_no)
        remaining = [n for n in range(page_no + 1, first.last_page + 1) if n not in done]
        await self._drain_window(remaining, limit)

    async def _drain_window(self, pages: list[int], limit: int) -> None:
        """Fetch up to HASDATA_PAGE_CONCURRENCY pages ahead; deliver in page order."""
        upcoming = iter(pages)
        window: deque[tuple[int, Deferred[ResultsPage]]] = deque()

        def fetch_next() -> None:
            number = next(upcoming, None)
            if number is not None:
                window.append((number, deferred_from_coro(self._fetch_page(number, limit))))

        for _ in range(self._ctx.settings.page_concurrency):
            fetch_next()
        try:
            while window:
                number, fetching = window.popleft()
                page = await maybe_deferred_to_future(fetching)
                fetch_next()
                await self._deliver(page.rows, "pages", page=number)
        finally:
            for _, fetching in window:
                fetching.addErrback(lambda failure: None)  # abandoned: the drain failed
                fetching.cancel()

    async def _drain_sequentially(self, page: ResultsPage, limit: int) -> None:
        number = page.current_page
        while True:
            await self._deliver(page.rows, "pages", page=number)
            if len(page.rows) < limit:
                return
            number += 1
            page = await self._fetch_page(number, limit)

    async def _fetch_page(self, number: int, limit: int) -> ResultsPage:
        assert self.record.job_id is not None
        body = await self._ctx.client.results(self.record.job_id, number, limit)
        self._ctx.count("hasdata/pages", 1)
        return parse_page(body, number)

    async def _deliver(
        self,
        batch: list[PagedRow],
        source: str,
        *,
        page: int | None,
        positions: Callable[[int], str] | None = None,
    ) -> None:
        def commit(progress: RowProgress, complete: bool) -> None:
            # The rows first, then the page: a crash in between leaves the
            # page's rows known, so a repeat of the page skips them.
            self._ctx.append_rows(self.job.key, progress)
            if complete and page is not None and page not in self.record.pages_done:
                self.record.pages_done.append(page)
            self._save()

        self._ctx.check_claim(self.job.key)
        if positions is None:
            # A row without an id is known by its place: page and index
            # (the page size is kept in the state, so places are stable).
            positions = (lambda index: f"page.{page}.{index}")
        await self._ctx.pusher.deliver(self.rows, batch, source, commit, positions=positions)

    async def deliver_webhook_rows(self, rows: list[dict[str, Any]]) -> None:
        if self.record.drained:
            self._ctx.count("hasdata/rows/duplicates", len(rows))
            return
        await self._deliver([PagedRow(None, row) for row in rows], WEBHOOK, page=None)


def _in_file(start: int) -> Callable[[int], str]:
    """Places of the rows of a ``json`` file chunk that begins at row ``start``."""
    return lambda index: f"file.{start + index}"
