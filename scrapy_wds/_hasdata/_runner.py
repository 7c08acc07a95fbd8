"""The life of one HasData job in a crawl: submit (once, ever), poll, drain, reconcile.

``JobRunner.run`` is one coroutine per declared job:

1. **submit** — unless the store already knows the job's id (a resumed or
   restarted crawl); the id is persisted before anything else happens.  A
   submit that may have created a job without telling its id is never sent
   again (:class:`~._client.HasDataSubmitUncertain`);
2. **poll** — status every ``HASDATA_POLL_FIRST_DELAY`` seconds or more,
   backing off while nothing changes; a webhook ``finished`` callback wakes
   it early.  Past ``HASDATA_JOB_TIMEOUT`` the job is stopped (DELETE); past
   ``HASDATA_MAX_CREDITS`` (checked on every status answer) every job is;
3. **drain** — once the job is ``finished`` or ``stopped``: the ``json`` file
   (opt-in) and/or the results pages, fetched a few at a time ahead of
   delivery, delivered in page order, each row recorded as it goes through;
4. **reconcile** — rows accounted for against the job's final
   ``dataRowsCount``: short is a WARNING and a stat, never a silent finish.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._hasdata._client import HasDataApiError, HasDataClient
from scrapy_wds._hasdata._delivery import ItemPusher
from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._ledger import JobLedger
from scrapy_wds._hasdata._rows import (
    KNOWN_STATUSES,
    TERMINAL_STATUSES,
    MalformedAnswer,
    ResultsPage,
    as_int,
    as_number,
    job_id_of,
    rows_from_file,
)
from scrapy_wds._hasdata._settings import HasDataSettings
from scrapy_wds._hasdata._spending import SpendGuard
from scrapy_wds._hasdata._state import JobRecord
from scrapy_wds._hasdata._store import JobStore

logger = logging.getLogger(__name__)


class SubmitWithheld(Exception):
    """The crawl may not spend more (credit cap reached, closing): the job is not submitted."""


class SubmitUnconfirmed(Exception):
    """An earlier run sent this job's submit and never learnt its id: not sent again."""


class JobTimedOut(Exception):
    """HASDATA_JOB_TIMEOUT passed: the job was stopped and the rows it made delivered."""


class JobRunner:
    def __init__(
        self,
        job: HasDataJob,
        store: JobStore,
        *,
        client: HasDataClient,
        settings: HasDataSettings,
        pusher: ItemPusher,
        guard: SpendGuard,
        stats: StatsCollector,
        reactor: Any,
        webhook_block: dict[str, Any] | None = None,
    ) -> None:
        self.job = job
        self.key = job.key  # computed once: the key hashes the job's whole input
        self._store = store
        self._client = client
        self._settings = settings
        self._pusher = pusher
        self._guard = guard
        self._stats = stats
        self._reactor = reactor
        self._webhook_block = webhook_block
        self._wake: Deferred[None] | None = None
        self._unknown_statuses: set[str] = set()
        self._links: Any = None
        self.timed_out = False
        self._draining = False
        guard.on_exhausted(self.wake)
        self.adopt(store.record(self.key, job.scraper, settings.api_url))

    def adopt(self, record: JobRecord) -> None:
        """Go on from ``record`` (read back when this worker claimed the job in redis)."""
        self.record = record
        self.ledger = JobLedger(self.key, self._store, self._store.row_entries(self.key))

    @property
    def label(self) -> str:
        ident = f", id {self.record.job_id}" if self.record.job_id else ""
        return f"{self.key!r} ({self.job.scraper}{ident})"

    @property
    def done(self) -> bool:
        return self.record.drained

    @property
    def terminal(self) -> bool:
        return self.record.status in TERMINAL_STATUSES

    @property
    def rows_delivered(self) -> int:
        return self.ledger.delivered

    def _count(self, name: str, value: int = 1) -> None:
        if value:
            self._stats.inc_value(name, value)

    def _save(self) -> None:
        self._store.save_job(self.key)

    async def run(self) -> None:
        if self.record.drained:
            return
        just_submitted = self.record.job_id is None
        if just_submitted:
            await self._submit()
        else:
            self._count("hasdata/jobs/resumed")
            logger.info("HasData job %s: resuming (already submitted)", self.label)
        # A resumed job is polled at once, even if it was terminal: the poll
        # refreshes the short-lived file links and the final row count.
        await self._wait_until_terminal(poll_now=not just_submitted)
        await self._drain()
        self.record.drained = True
        self._save()
        self._reconcile()
        if self.timed_out:
            raise JobTimedOut()

    def wake(self) -> None:
        """Poll now (a webhook said the job finished, or the credit cap was reached)."""
        if self._wake is not None and not self._wake.called:
            self._wake.callback(None)

    # -- submit ------------------------------------------------------------

    async def _submit(self) -> None:
        if not self._guard.may_submit():
            raise SubmitWithheld()
        if self.record.submit_unconfirmed and not self._settings.retry_uncertain_submits:
            raise SubmitUnconfirmed()
        body = dict(self.job.input)
        if self._webhook_block is not None:
            body["webhook"] = self._webhook_block
        self.record.submit_unconfirmed = True
        self._save()  # before sending: a crash now must not lead to a blind resend
        try:
            answer = await self._client.submit(self.job.scraper, body)
        except HasDataApiError as exc:
            if not exc.reached or (exc.status is not None and 400 <= exc.status < 500):
                self.record.submit_unconfirmed = False  # refused or never sent: nothing created
                self._save()
            raise
        job_id = job_id_of(answer)
        if job_id is None:
            raise HasDataApiError(
                f"POST /scrapers/{self.job.scraper}/jobs", 200, "the answer carries no job id"
            )
        self.record.job_id = job_id
        self.record.submit_unconfirmed = False
        self.record.submitted_at = self._reactor.seconds()
        self._note_status(answer)
        self._save()  # the moment the id is known: never pay twice
        self._count("hasdata/jobs/submitted")
        logger.info("HasData job %s: submitted", self.label)

    # -- poll --------------------------------------------------------------

    async def _wait_until_terminal(self, *, poll_now: bool) -> None:
        settings = self._settings
        if self.record.submitted_at is None:  # a record from before the timeout existed
            self.record.submitted_at = self._reactor.seconds()
        deadline = self.record.submitted_at + settings.job_timeout
        attempt = 0
        first = poll_now
        while first or not self.terminal:
            if not first:
                delay = backoff_delay(
                    attempt, first=settings.poll_first_delay, cap=settings.poll_max_delay
                )
                await self._sleep(
                    max(settings.poll_first_delay, min(delay, deadline - self._reactor.seconds()))
                )
            first = False
            assert self.record.job_id is not None
            before = (self.record.status, self.record.rows_total, self.record.credits_spent)
            self._note_status(await self._client.status(self.record.job_id))
            self._count("hasdata/polls")
            changed = (
                self.record.status,
                self.record.rows_total,
                self.record.credits_spent,
            ) != before
            if changed:
                self._save()
            attempt = 0 if changed else attempt + 1
            if not self.terminal and self._guard.exhausted:
                await self.stop_remote()
            elif not self.terminal and self._reactor.seconds() >= deadline:
                self.timed_out = True
                self._count("hasdata/jobs/timed_out")
                logger.warning(
                    "HasData job %s: still %s after HASDATA_JOB_TIMEOUT (%g s); stopping it, "
                    "delivering the rows it made, then closing (hasdata_job_timeout)",
                    self.label,
                    self.record.status,
                    settings.job_timeout,
                )
                await self.stop_remote()
        self._count(f"hasdata/jobs/{self.record.status}")

    def _note_status(self, answer: dict[str, Any]) -> None:
        status = str(answer.get("status") or "").strip().lower() or None
        if status is not None and status not in KNOWN_STATUSES:
            if status not in self._unknown_statuses:
                self._unknown_statuses.add(status)
                logger.warning(
                    "HasData job %s: unknown status %r, treated as not done yet (it counts "
                    "toward HASDATA_JOB_TIMEOUT)",
                    self.label,
                    status,
                )
            self._count("hasdata/status_unknown")
        if status is not None:
            self.record.status = status
        rows_total = as_int(answer.get("dataRowsCount"))
        if rows_total is not None:
            self.record.rows_total = rows_total
        credits = as_number(answer.get("creditsSpent"))
        if credits is not None:
            self.record.credits_spent = credits
            self._guard.note_spent(self.key, credits)
            self._stats.set_value("hasdata/credits_spent", self._guard.spent)
        if status in TERMINAL_STATUSES:
            # Only the download links: the record also echoes the submitted
            # body, webhook secret included, which nothing here may keep.
            self._links = answer.get("data")

    async def _sleep(self, seconds: float) -> None:
        wake: Deferred[None] = Deferred()
        self._wake = wake

        def ring() -> None:
            if not wake.called:
                wake.callback(None)

        timer = self._reactor.callLater(seconds, ring)
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
        await self._client.stop(self.record.job_id)
        self.record.status = "stopped"
        self._save()
        self._count("hasdata/jobs/stop_requested")
        logger.info("HasData job %s: stopped on HasData's side", self.label)
        # The final row count of a stopped job comes with its next status.
        self._note_status(await self._client.status(self.record.job_id))
        self.record.status = "stopped" if not self.terminal else self.record.status

    # -- drain -------------------------------------------------------------

    async def _drain(self) -> None:
        # From here paging reads every row; webhook rows arriving now would
        # need a content key per paged row to be recognised, so they are dropped.
        self._draining = True
        if self._settings.use_json_file and await self._drain_json_file():
            total = self.record.rows_total
            if total is None or self.ledger.positions.covers(0, total):
                return
        await self._drain_pages()

    async def _drain_json_file(self) -> bool:
        url = self._links.get("json") if isinstance(self._links, dict) else None
        if not isinstance(url, str) or not url:
            return False
        try:
            rows = rows_from_file(await self._client.fetch_file(url))
        except (HasDataApiError, MalformedAnswer, ValueError) as exc:
            self._count("hasdata/json_file/fallbacks")
            logger.info("HasData job %s: json file unusable (%s); paging instead", self.label, exc)
            return False
        self._count("hasdata/json_file/used")
        await self._pusher.deliver(self.job, self.ledger, rows, "json_file", first_position=0)
        return True

    async def _drain_pages(self) -> None:
        record = self.record
        limit = record.page_limit or self._settings.page_limit
        number = self.ledger.positions.first_missing() // limit + 1
        first = await self._fetch_page(number, limit)
        if first.per_page and first.per_page != limit and first.rows:
            # The server pages by another size than asked: positions follow its size.
            record.page_limit = limit = first.per_page
            self._save()
            if number != 1:  # page 1 starts at position 0 whatever the size: keep it
                number = self.ledger.positions.first_missing() // limit + 1
                first = await self._fetch_page(number, limit)
        if first.last_page is None:  # no meta: one page after another until short
            await self._drain_sequentially(first, number, limit)
            return
        await self._deliver_page(first, number, limit)
        end = first.total if first.total is not None else first.last_page * limit
        remaining = [
            n
            for n in range(number + 1, first.last_page + 1)
            if not self.ledger.positions.covers((n - 1) * limit, min(n * limit, end))
        ]
        await self._drain_window(remaining, limit)

    async def _drain_window(self, pages: list[int], limit: int) -> None:
        """Fetch up to HASDATA_PAGE_CONCURRENCY pages at once; deliver in page order.

        A fetch starts the moment another one ends, not when the page at the
        head is delivered: a page that arrives out of order, or while the one
        before it is still in the pipelines, does not hold a fetch slot.
        Pages that arrived wait for their turn, at most as many again as are
        fetched at once, so memory stays bounded when delivery is the slower side.
        """
        concurrency = self._settings.page_concurrency
        upcoming = iter(pages)
        #: Pages not delivered yet, in page order: fetching, or arrived and waiting.
        window: deque[tuple[int, Deferred[ResultsPage]]] = deque()
        fetching = 0
        abandoned = False

        def arrived(result: Any) -> Any:
            nonlocal fetching
            fetching -= 1
            fill()
            return result

        def fill() -> None:
            nonlocal fetching
            while not abandoned and fetching < concurrency and len(window) < 2 * concurrency:
                number = next(upcoming, None)
                if number is None:
                    return
                fetching += 1
                page = deferred_from_coro(self._fetch_page(number, limit))
                window.append((number, page))
                page.addBoth(arrived)

        fill()
        try:
            while window:
                number, page = window[0]
                ready = await maybe_deferred_to_future(page)
                window.popleft()
                fill()
                await self._deliver_page(ready, number, limit)
        finally:
            abandoned = True  # no new fetch from here on
            for _, page in window:
                page.addErrback(lambda failure: None)  # abandoned: the drain failed
                page.cancel()

    async def _drain_sequentially(self, page: ResultsPage, number: int, limit: int) -> None:
        while True:
            await self._deliver_page(page, number, limit)
            if len(page.rows) < limit:
                return
            number += 1
            page = await self._fetch_page(number, limit)

    async def _fetch_page(self, number: int, limit: int) -> ResultsPage:
        assert self.record.job_id is not None
        page = await self._client.results(self.record.job_id, number, limit)
        self._count("hasdata/pages")
        return page

    async def _deliver_page(self, page: ResultsPage, number: int, limit: int) -> None:
        self._store.check_claim(self.key)
        await self._pusher.deliver(
            self.job, self.ledger, page.rows, "pages", first_position=(number - 1) * limit
        )

    async def deliver_webhook_rows(self, rows: list[dict[str, Any]]) -> None:
        if self._draining or self.record.drained:
            # Paging reads every row of a terminal job: late callbacks add nothing.
            self._count("hasdata/rows/webhook_late", len(rows))
            return
        self._store.check_claim(self.key)
        await self._pusher.deliver(self.job, self.ledger, rows, "webhook", first_position=None)

    # -- reconcile ---------------------------------------------------------

    def _reconcile(self) -> None:
        accounted = self.ledger.positions.count
        total = self.record.rows_total
        logger.info(
            "HasData job %s: %s, %d rows delivered",
            self.label,
            self.record.status,
            self.rows_delivered,
        )
        if total is not None and accounted < total:
            self._count("hasdata/rows/missing", total - accounted)
            logger.warning(
                "HasData job %s: HasData counts %d rows (dataRowsCount) but only %d could be "
                "read; %d rows are missing from this crawl's output",
                self.label,
                total,
                accounted,
                total - accounted,
            )
        elif self.record.status == "finished" and self.rows_delivered == 0:
            self._count("hasdata/jobs/empty")
            logger.warning(
                "HasData job %s: finished with 0 rows; check the scraper slug %r and its "
                "input (an unknown or mistyped parameter often yields nothing)",
                self.label,
                self.job.scraper,
            )
