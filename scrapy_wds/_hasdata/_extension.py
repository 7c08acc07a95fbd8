"""The Scrapy extension that runs the crawl's HasData jobs beside the spider.

At spider open it checks the declared jobs (``HASDATA_JOBS`` and the
spider's ``hasdata_jobs``), opens the state file, starts the webhook receiver
when enabled (:mod:`._webhook_bridge`), and starts one
:class:`~._runner.JobRunner` per job.  When several scrapy-redis workers share
the crawl, each job is first claimed (or watched while another worker owns
it) through :mod:`._workers`.  While any
job is undelivered it keeps the spider open (``spider_idle`` →
``DontCloseSpider``); when the last one is drained it lets it close.

Close reasons it uses (also in ``docs/hasdata.md``):

* ``hasdata_unauthorized`` — HasData answered 401 (missing or wrong key);
* ``hasdata_no_credits`` — HasData answered 403 (credits or quota exhausted);
* ``hasdata_credit_limit`` — ``HASDATA_MAX_CREDITS`` reached: jobs were
  stopped, the rows they had produced were delivered, then the spider closed;
* ``hasdata_failed`` — every job failed (e.g. HasData rejected its input);
* ``hasdata_bad_config`` — a setting, a job declaration, the state file or
  the webhook receiver's address is unusable (nothing was submitted);
* ``hasdata_no_api_key`` — jobs are declared but no ``HASDATA_API_KEY``
  (setting or environment variable) is set;
* ``hasdata_submit_uncertain`` — a submit failed after it may have created a
  job (a 5xx, a timeout, a cut connection): it is not resent, see the ERROR;
* ``hasdata_job_timeout`` — a job ran past ``HASDATA_JOB_TIMEOUT``: it was
  stopped and the rows it made delivered.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import scrapy
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.project import data_path
from twisted.internet.defer import CancelledError, Deferred, DeferredList
from twisted.internet.error import CannotListenError
from twisted.internet.task import LoopingCall

from scrapy_wds import _compat
from scrapy_wds._hasdata._client import (
    HasDataApiError,
    HasDataClient,
    HasDataNoCredits,
    HasDataSubmitUncertain,
    HasDataUnauthorized,
)
from scrapy_wds._hasdata._delivery import CrawlClosing, ItemPusher
from scrapy_wds._hasdata._job import HasDataJobError, collect_jobs
from scrapy_wds._hasdata._runner import JobRunner, JobTimedOut, SubmitUnconfirmed, SubmitWithheld
from scrapy_wds._hasdata._settings import HasDataSettingError, HasDataSettings
from scrapy_wds._hasdata._shared_state import ClaimLost, SharedJobStore, uses_scrapy_redis
from scrapy_wds._hasdata._spending import CLOSE_CREDIT_LIMIT, SpendGuard
from scrapy_wds._hasdata._state import HasDataStateError, StateFile
from scrapy_wds._hasdata._submit_report import report_uncertain_submit
from scrapy_wds._hasdata._webhook_bridge import WebhookBridge
from scrapy_wds._hasdata._workers import WorkerClaims

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = "hasdata_unauthorized"
CLOSE_NO_CREDITS = "hasdata_no_credits"
CLOSE_FAILED = "hasdata_failed"
CLOSE_BAD_CONFIG = "hasdata_bad_config"
CLOSE_NO_API_KEY = "hasdata_no_api_key"
CLOSE_SUBMIT_UNCERTAIN = "hasdata_submit_uncertain"
CLOSE_JOB_TIMEOUT = "hasdata_job_timeout"
STATE_FILE_NAME = "hasdata-state.json"


class HasDataExtension:
    def __init__(self, crawler: Crawler, settings: HasDataSettings) -> None:
        self.crawler = crawler
        self.settings = settings
        self.stats = crawler.stats
        self.runners: list[JobRunner] = []
        #: The state file, or with scrapy-redis the records in redis shared by every worker.
        self.state: StateFile | SharedJobStore | None = None
        #: This worker's claims on the jobs when several scrapy-redis workers share the crawl.
        self.workers: WorkerClaims | None = None
        self.client: HasDataClient | None = None
        self._tasks: list[Deferred[None]] = []
        self._failed: set[str] = set()
        self._close_reason: str | None = None
        self._closing_now = False
        self.guard = SpendGuard(settings.max_credits)
        self._progress: LoopingCall | None = None
        self.webhooks = WebhookBridge(
            settings,
            secret=settings.webhook_secret or secrets.token_urlsafe(24),
            runners=lambda: self.runners,
            runs_here=self._runs_here,
            nudge_engine=self._nudge_engine,
        )
        self._setting_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HasDataExtension:
        setting_error: str | None = None
        try:
            settings = HasDataSettings.from_settings(crawler.settings)
        except HasDataSettingError as exc:
            # Reported at spider open and the crawl closed: a disabled
            # extension would let the spider "finish" with no items and no clue.
            setting_error = str(exc)
            settings = HasDataSettings.from_settings(BaseSettings({"HASDATA_API_KEY": "-"}))
        extension = cls(crawler, settings)
        extension._setting_error = setting_error
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    # -- signals -------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        if self._setting_error is not None:
            logger.error("HasData: %s", self._setting_error)
            self._close(CLOSE_BAD_CONFIG, message=None)
            return
        try:
            jobs = collect_jobs(self.crawler.settings.get("HASDATA_JOBS"), spider)
            self.state = self._open_state(spider, [job.key for job in jobs])
        except (HasDataJobError, HasDataStateError) as exc:
            # Raised from a signal handler it would only be logged; this stops
            # the crawl before any credit is spent, with the message on top.
            logger.error("%s", exc)
            self._close(CLOSE_BAD_CONFIG, message=None)
            return
        if not jobs:
            logger.debug(
                "HasData extension: no jobs declared (HASDATA_JOBS or spider.hasdata_jobs)"
            )
            return
        if not self.settings.api_key:
            logger.error(
                "HasData: %d job(s) declared but HASDATA_API_KEY is not set; set it in "
                "settings.py or export it as an environment variable",
                len(jobs),
            )
            self._close(CLOSE_NO_API_KEY, message=None)
            return
        from twisted.internet import reactor

        settings = self.settings
        self.client = HasDataClient(
            crawler=self.crawler,
            api_url=settings.api_url,
            api_key=settings.api_key,
            timeout=settings.timeout,
            retry_times=settings.retry_times,
            retry_delay=settings.retry_first_delay,
            retry_max_delay=settings.retry_max_delay,
            rate_limit_max_wait=settings.rate_limit_max_wait,
            retry_uncertain_submits=settings.retry_uncertain_submits,
            user_agent=f"scrapy-wds (Scrapy {scrapy.__version__})",
            pool_size=settings.page_concurrency + 2,
            on_event=lambda name: self._count(f"hasdata/{name}", 1),
            hidden=[self.webhooks.secret],
        )
        if settings.webhook_enabled:
            try:
                self.webhooks.start()
            except (OSError, CannotListenError, ValueError) as exc:
                logger.error(
                    "HasData webhook receiver cannot start on %s:%s (%s); change "
                    "HASDATA_WEBHOOK_HOST / HASDATA_WEBHOOK_PORT or set HASDATA_WEBHOOK_ENABLED "
                    "= False",
                    settings.webhook_host,
                    settings.webhook_port,
                    exc,
                )
                self._close(CLOSE_BAD_CONFIG, message=None)
                return
        assert self.state is not None
        assert self.stats is not None
        pusher = ItemPusher(self.crawler)
        self.runners = [
            JobRunner(
                job,
                self.state,
                client=self.client,
                settings=settings,
                pusher=pusher,
                guard=self.guard,
                stats=self.stats,
                reactor=reactor,
                webhook_block=self.webhooks.block(),
            )
            for job in jobs
        ]
        self._count("hasdata/jobs/declared", len(jobs))
        for runner in self.runners:
            self._tasks.append(deferred_from_coro(self._run(runner)))
        if self.workers is not None:
            self.workers.start_heartbeat(reactor)
        if settings.progress_interval > 0:
            self._progress = LoopingCall(self.log_progress)
            self._progress.clock = reactor
            self._progress.start(settings.progress_interval, now=False)

    def spider_idle(self, spider: Spider) -> None:
        if any(not runner.done and runner.job.key not in self._failed for runner in self.runners):
            raise DontCloseSpider()
        if self._close_reason is not None:
            raise CloseSpider(self._close_reason)
        if self.guard.exhausted:
            raise CloseSpider(CLOSE_CREDIT_LIMIT)
        if self.runners and all(r.job.key in self._failed for r in self.runners):
            raise CloseSpider(CLOSE_FAILED)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        self._closing_now = True
        self.guard.closing = True
        if self._progress is not None and self._progress.running:
            self._progress.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await maybe_deferred_to_future(DeferredList(self._tasks, consumeErrors=True))
        if self.workers is not None:
            self.workers.stop_heartbeat()
        if self.client is not None and (
            self.settings.stop_on_close or reason == CLOSE_CREDIT_LIMIT
        ):
            await self._stop_unfinished()
        if self.state is not None and self.runners:
            everything_done = all(r.done for r in self.runners)
            if everything_done and reason == "finished":
                # The state file describes an unfinished crawl; a finished one
                # leaves nothing to resume, so the next run starts new jobs.
                self.state.clear()
            else:
                self.state.save()
        if self.state is not None:
            self.state.close()
        await self.webhooks.close(self._count)
        if self.client is not None:
            await self.client.close()

    # -- running the jobs --------------------------------------------------

    async def _run(self, runner: JobRunner) -> None:
        while not await self._run_once(runner):
            self._count("hasdata/jobs/claims_lost", 1)
            logger.warning(
                "HasData job %s: this worker's claim expired and another worker took the "
                "job over; this one stops delivering it",
                runner.label,
            )

    async def _run_once(self, runner: JobRunner) -> bool:
        """Run the job (if this worker gets it); False if its claim passed to another worker."""
        try:
            if self.workers is not None and not await self.workers.claim_or_watch(runner):
                self._count("hasdata/jobs/elsewhere", 1)
                self._nudge_engine()
                return True
            await runner.run()
            if self.workers is not None:
                self.workers.release(runner.job.key)
            self._nudge_engine()
        except JobTimedOut:
            self._close_reason = self._close_reason or CLOSE_JOB_TIMEOUT
            self._nudge_engine()
        except (HasDataSubmitUncertain, SubmitUnconfirmed) as exc:
            self._failed.add(runner.key)
            self._count("hasdata/jobs/submit_uncertain", 1)
            report_uncertain_submit(runner, exc, self.state, hidden=[self.webhooks.secret])
            self._close(CLOSE_SUBMIT_UNCERTAIN, message=None)
        except ClaimLost:
            return False
        except (CancelledError, CrawlClosing):
            return True
        except SubmitWithheld:
            self._failed.add(runner.job.key)
            self._count("hasdata/jobs/withheld", 1)
            logger.warning(
                "HasData job %s: not submitted, the crawl is spending no more", runner.label
            )
            self._nudge_engine()
        except HasDataUnauthorized as exc:
            self._fail(runner, exc)
            self._close(
                CLOSE_UNAUTHORIZED,
                message="HasData refused the API key (HTTP 401): check HASDATA_API_KEY",
            )
        except HasDataNoCredits as exc:
            self._fail(runner, exc)
            self._close(
                CLOSE_NO_CREDITS, message=f"HasData: no credits left (HTTP 403): {exc.text}"
            )
        except HasDataApiError as exc:
            self._fail(runner, exc)
            if exc.status == 404 and runner.record.job_id is not None and self.state:
                logger.error(
                    "HasData does not know job %s any more; to submit it again, remove "
                    "its entry %r from the state file %s (or delete the file)",
                    runner.label,
                    runner.job.key,
                    self.state.path,
                )
        except Exception:
            self._failed.add(runner.job.key)
            logger.exception("HasData job %s: unexpected error", runner.label)
            self._count("hasdata/jobs/failed", 1)
        return True

    def _nudge_engine(self) -> None:
        # The engine asks spider_idle again only on its 5 s heartbeat; after
        # the last job is drained, ask it now so the crawl ends promptly.
        if not self._closing_now and self.crawler.engine is not None:
            _compat.wake_engine(self.crawler.engine)

    def _fail(self, runner: JobRunner, exc: HasDataApiError) -> None:
        self._failed.add(runner.job.key)
        self._count("hasdata/jobs/failed", 1)
        logger.error("HasData job %s: %s", runner.label, exc)
        self._nudge_engine()

    async def _stop_unfinished(self) -> None:
        for runner in self.runners:
            if runner.record.job_id is None or runner.terminal:
                continue
            if not self._runs_here(runner):
                continue  # another worker's job: not this one's to stop
            try:
                await runner.stop_remote()
            except HasDataApiError as exc:
                logger.error("HasData job %s: could not stop it: %s", runner.label, exc)
            runner.wake()

    def _close(self, reason: str, *, message: str | None) -> None:
        if message:
            logger.error("%s; closing the spider (%s)", message, reason)
        if self._closing_now:
            return
        self._closing_now = True
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    # -- progress and bookkeeping ------------------------------------------------

    def log_progress(self) -> None:
        for runner in self.runners:
            if runner.done or runner.job.key in self._failed:
                continue
            if not self._runs_here(runner):
                continue  # another worker runs it and reports its progress
            record = runner.record
            total = "?" if record.rows_total is None else str(record.rows_total)
            logger.info(
                "HasData job %s: %s, %d/%s rows streamed, %g credits spent",
                runner.label,
                record.status or "submitting",
                runner.rows_delivered,
                total,
                record.credits_spent,
            )

    def _runs_here(self, runner: JobRunner) -> bool:
        """Whether this worker owns the job (always, without scrapy-redis)."""
        return self.workers is None or self.workers.runs_here(runner.job.key)

    def _count(self, name: str, value: int) -> None:
        if value:
            self.stats.inc_value(name, value)

    def _open_state(self, spider: Spider, keys: list[str]) -> StateFile | SharedJobStore:
        settings = self.crawler.settings
        if not uses_scrapy_redis(settings):
            return StateFile(self._state_path(spider))
        # Several workers share the crawl: the jobs are claimed in redis, so
        # each is submitted and delivered by one worker only.
        self.workers = WorkerClaims.connect(settings, spider.name, self.settings, keys)
        return self.workers.store

    def _state_path(self, spider: Spider) -> Path:
        if self.settings.state_file:
            return Path(self.settings.state_file)
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir:
            return Path(jobdir) / STATE_FILE_NAME
        return Path(data_path(f"hasdata/{spider.name}.json", createdir=False))
