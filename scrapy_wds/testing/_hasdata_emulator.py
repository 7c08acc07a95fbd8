"""A local HasData Scraper Jobs API to develop and test against offline.

It answers the calls of ``spec/hasdata-jobs.md`` (submit, status, results,
stop), runs real scrapers for ``crawler`` and ``contacts`` against real pages
(usually :class:`~scrapy_wds.testing.DemoSite`), plays every ambiguity of the
spec through switches (ids, numbers as strings, slow jobs, credits) and
injects faults (429 bursts, 5xx, dropped connections, malformed JSON) with
seeded randomness (:mod:`._hasdata_faults`).  Webhooks are delivered like
the real service's.  See ``docs/emulator-hasdata.md`` for every switch and
decision.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import aclosing
from typing import Any

import aiohttp
from aiohttp import web

from scrapy_wds.testing._hasdata_faults import ApiGate
from scrapy_wds.testing._hasdata_files import DownloadLinks
from scrapy_wds.testing._hasdata_jobs import (
    FINISHED,
    FIRST_INT_ID,
    IN_PROGRESS,
    STOPPED,
    Job,
    make_id,
)
from scrapy_wds.testing._hasdata_scrapers import SCRAPERS, InputError, ScrapeContext
from scrapy_wds.testing._hasdata_webhooks import (
    EVENT_FINISHED,
    EVENT_STARTED,
    MODES,
    WebhookChannel,
    WebhookError,
    parse_webhook,
)
from scrapy_wds.testing._server import (
    ADMIN_PREFIX,
    EmulatorServer,
    RecordLog,
    json_body,
    text_error,
)

#: The key the emulator accepts unless told otherwise (documented, so stable).
DEFAULT_API_KEY = "hasdata-test-key"
#: How often a job with ``job_seconds`` moves rows along when nobody polls it.
TICK = 0.05

#: Switches that take one of a few words, and those words.
_SWITCH_CHOICES = {
    "id_style": ("int", "uuid"),
    "webhook_mode": MODES,
    "submit_then_fail": ("", "502", "drop"),
    "results_shape": ("", "data_not_list", "rows_not_objects"),
}


def _check_choices(switches: dict[str, Any]) -> None:
    for name, allowed in _SWITCH_CHOICES.items():
        if name in switches and switches[name] not in allowed:
            raise ValueError(
                f"switch {name} must be one of {list(allowed)}, not {switches[name]!r}"
            )


class HasDataEmulator(EmulatorServer):
    """The HasData Scraper Jobs API on loopback; switches are documented in
    ``docs/emulator-hasdata.md`` and listed in :attr:`switch_names`."""

    switch_names = (
        "api_key",
        "id_style",
        "numbers_as_strings",
        "job_polls",
        "job_seconds",
        "page_size_cap",
        "link_ttl",
        "link_uses",
        "credits",
        "burst_429",
        "error_rate",
        "drop_rate",
        "malformed_rate",
        "webhook_mode",
        "webhook_batch",
        "webhook_legacy",
        "serp_site",
        "seed",
        # Well-formed but wrong answers (see ``_hasdata_faults``); set with ``configure``.
        "retry_after",
        "submit_then_fail",
        "results_shape",
        "finished_word",
        "rows_count_extra",
    )
    retry_after: float | None = None
    submit_then_fail = ""
    results_shape = ""
    finished_word = "finished"
    rows_count_extra = 0

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        id_style: str = "int",
        numbers_as_strings: bool = False,
        job_polls: int = 0,
        job_seconds: float = 0.0,
        page_size_cap: int = 100,
        link_ttl: float = 60.0,
        link_uses: int = 0,
        credits: int | None = None,
        burst_429: int = 0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        malformed_rate: float = 0.0,
        webhook_mode: str = "in_order",
        webhook_batch: int = 10,
        webhook_legacy: bool = False,
        serp_site: str | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        _check_choices({"id_style": id_style, "webhook_mode": webhook_mode})
        self.api_key = api_key
        self.id_style = id_style
        self.numbers_as_strings = numbers_as_strings
        self.job_polls = job_polls
        self.job_seconds = job_seconds
        self.page_size_cap = page_size_cap
        self.link_ttl = link_ttl
        self.link_uses = link_uses
        self.credits = credits
        self.burst_429 = burst_429
        self.error_rate = error_rate
        self.drop_rate = drop_rate
        self.malformed_rate = malformed_rate
        self.webhook_mode = webhook_mode
        self.webhook_batch = webhook_batch
        self.webhook_legacy = webhook_legacy
        self.serp_site = serp_site
        self.seed = seed
        self.webhook_log = RecordLog()
        self._session: aiohttp.ClientSession | None = None
        self._jobs: dict[str, Job] = {}
        self._links = DownloadLinks()
        self._next_job = FIRST_INT_ID
        self._next_row = 1
        self._gate = ApiGate(self, seed)
        self._webhook_rng = random.Random(seed)

    def configure(self, **switches: Any) -> dict[str, Any]:
        _check_choices(switches)
        return super().configure(**switches)

    # -- lifecycle -----------------------------------------------------------

    async def on_started(self) -> None:
        self._session = aiohttp.ClientSession()

    async def on_stopping(self) -> None:
        _cancel_jobs(list(self._jobs.values()))
        if self._session is not None:
            await self._session.close()

    def reset_state(self) -> None:
        jobs = list(self._jobs.values())
        self.call_on_loop(lambda: _cancel_jobs(jobs))  # their runners live on the loop
        self._jobs = {}
        self._links.clear()
        self._next_job = FIRST_INT_ID
        self._next_row = 1
        self._gate.reseed(self.seed)
        self._webhook_rng = random.Random(self.seed)
        self.webhook_log.clear()

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook attempt so far (also at ``GET /__emulator__/webhooks``)."""
        return self.webhook_log.entries()

    def add_routes(self, app: web.Application) -> None:
        # Every API call meets the seeded faults and the key check first.
        api = self._gate.guard
        app.router.add_post("/scrapers/{slug}/jobs", api(self._submit))
        app.router.add_get("/scrapers/jobs/{job_id}", api(self._status))
        app.router.add_get("/scrapers/jobs/{job_id}/results", api(self._results))
        app.router.add_delete("/scrapers/jobs/{job_id}", api(self._stop))
        app.router.add_get(DownloadLinks.route, self._links.serve)
        app.router.add_get(ADMIN_PREFIX + "webhooks", self._admin_webhooks)
        app.router.add_get(ADMIN_PREFIX + "jobs", self._admin_jobs)

    # -- helpers of the endpoints ----------------------------------------------

    def _number(self, value: int) -> int | str:
        return str(value) if self.numbers_as_strings else value

    def _job(self, request: web.Request) -> Job | web.Response:
        job_id = request.match_info["job_id"]
        job = self._jobs.get(job_id)
        if job is None:
            return text_error(404, f"job {job_id} not found")
        return job

    def _record(self, job: Job) -> web.Response:
        return json_body(job.record(numbers_as_strings=self.numbers_as_strings))

    # -- endpoints -----------------------------------------------------------

    async def _submit(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        scraper = SCRAPERS.get(slug)
        if scraper is None:
            return text_error(404, f"unknown scraper '{slug}'")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return text_error(422, "the body must be a JSON object")
        if not isinstance(body, dict):
            return text_error(422, "the body must be a JSON object")
        limit = body.get("limit", 0)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            return text_error(422, "'limit' must be a non-negative integer (0 = no limit)")
        try:
            scraper.check(body)
            webhook = parse_webhook(body.get("webhook"))
        except (InputError, WebhookError) as exc:
            return text_error(422, str(exc))
        if self.credits is not None and self.credits <= 0:
            return text_error(403, "not enough credits: your account has 0 credits left")
        job = Job(
            id=make_id("job", self._next_job, self.id_style),
            slug=slug,
            scraper_id=make_id("scraper", list(SCRAPERS).index(slug) + 1, self.id_style),
            scraper_name=scraper.name,
            input=body,
            columns=scraper.columns(body),
            limit=limit,
            polls_needed=self.job_polls,
            seconds_needed=self.job_seconds,
        )
        self._next_job += 1
        if webhook is not None:
            assert self._session is not None
            job.webhook = WebhookChannel(
                webhook,
                self.webhook_mode,
                self._session,
                self.webhook_log,
                self._webhook_rng,
            )
        self._jobs[str(job.id)] = job
        job.runner = asyncio.ensure_future(self._run(job))
        return self._record(job)

    async def _status(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        if not job.terminal:
            job.polls_seen += 1
        self._advance(job)
        return self._record(job)

    async def _results(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        page = _positive_int(request.query.get("page", "1"))
        if page is None:
            return text_error(422, "'page' must be a positive integer (pages start at 1)")
        cap = max(1, int(self.page_size_cap))
        limit = _positive_int(request.query.get("limit", str(cap)))
        if limit is None:
            return text_error(422, "'limit' must be a positive integer")
        limit = min(limit, cap)
        self._advance(job)
        return json_body(job.results_page(page, limit, numbers_as_strings=self.numbers_as_strings))

    async def _stop(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        if not job.terminal:
            self._advance(job)
        if not job.terminal:
            job.stop_producing()
            if job.runner is not None:
                job.runner.cancel()
            self._end(job, STOPPED)
        return self._record(job)

    async def _admin_webhooks(self, request: web.Request) -> web.Response:
        return web.json_response(self.webhook_deliveries())

    async def _admin_jobs(self, request: web.Request) -> web.Response:
        """Every job's record plus what only the emulator knows (for tests)."""
        return web.json_response([job.admin_view() for job in self._jobs.values()])

    # -- running a job ---------------------------------------------------------

    async def _run(self, job: Job) -> None:
        assert self._session is not None
        scraper = SCRAPERS[job.slug]
        context = ScrapeContext(self._session, self.serp_site)
        job.status = IN_PROGRESS
        self._send_webhook(job, EVENT_STARTED)
        try:
            async with aclosing(scraper.produce(context, job.input)) as rows:
                async for row in rows:
                    if not job.wants_more_rows:
                        break
                    job.produced.append(row)
                    self._advance(job)
                    if not job.wants_more_rows:
                        break
        except Exception as exc:  # a scraper bug must not leave the job running forever
            job.failure = f"{type(exc).__name__}: {exc}"
        finally:
            job.producer_done = True
        # Time-gated rows (and their webhooks) must flow even if nobody polls;
        # once the time gate is passed only status polls can move the job on.
        while True:
            waited_out = time.time() >= job.created_at + job.seconds_needed
            self._advance(job)
            if job.terminal or waited_out:
                return
            await asyncio.sleep(TICK)

    def _advance(self, job: Job) -> None:
        """Store the rows that are due, spend their credits, finish if done."""
        if job.terminal:
            return
        now = time.time()
        due = job.rows_due(now)
        while len(job.stored) < due:
            if not self._spend_credit():
                job.out_of_credits = True
                job.stop_producing()
                break
            job.store_next(make_id("row", self._next_row, self.id_style), now)
            self._next_row += 1
        self._send_row_batches(job, final=False)
        if job.ready_to_finish(now):
            job.links = self._links.mint(
                self.url,
                f"job-{job.id}",
                lambda: [stored.row for stored in job.stored],
                job.columns,
                ttl=self.link_ttl,
                uses=self.link_uses,
            )
            self._end(job, FINISHED)

    def _spend_credit(self) -> bool:
        if self.credits is None:
            return True
        if self.credits <= 0:
            return False
        self.credits -= 1
        return True

    def _end(self, job: Job, status: str) -> None:
        self._send_row_batches(job, final=True)  # the last rows go out while still running
        job.status = status
        job.updated_at = time.time()
        self._send_webhook(job, EVENT_FINISHED)
        if job.webhook is not None:
            job.webhook.close()

    # -- webhooks ---------------------------------------------------------------

    def _send_row_batches(self, job: Job, *, final: bool) -> None:
        job.send_row_batches(
            max(1, int(self.webhook_batch)),
            legacy=self.webhook_legacy,
            numbers_as_strings=self.numbers_as_strings,
            final=final,
        )

    def _send_webhook(self, job: Job, event: str) -> None:
        job.send_event(event, numbers_as_strings=self.numbers_as_strings)


def _cancel_jobs(jobs: list[Job]) -> None:
    for job in jobs:
        if job.runner is not None:
            job.runner.cancel()
        if job.webhook is not None:
            job.webhook.cancel()


def _positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


__all__ = ["HasDataEmulator"]
