"""The downloader middleware that turns WDS API answers into Scrapy behaviour.

A WDS request is any request with ``meta["wds"]`` (built by the spider side).
This middleware

* adds ``WDS_API_HEADERS`` at download time only, and takes them off again
  when the answer is in, so they never travel back to the scheduler, JOBDIR
  or a scrapy-redis queue;
* answers 202 ("page not downloaded yet") by parking a copy of the request in
  the :class:`~scrapy_wds._wds._waiting_room.WaitingRoom` and dropping the
  current one quietly: the wait happens outside the downloader, so it holds
  no concurrency slot; when due, the copy goes back through the scheduler;
* retries 5xx answers, 408/429 and failed connections the same way, with
  backoff, a bounded number of times;
* turns 400/403/404/422 (and retries or waits that ran out) into typed
  :mod:`~scrapy_wds._wds._errors` delivered to the request's errback, with
  one log line that says what to do.

It sits at priority 560 (see ``configure_addon``): answers reach it after
HttpCompression (590) has decoded them and before Scrapy's RetryMiddleware
(550), and failed downloads reach its ``process_exception`` before
RetryMiddleware's too, so WDS calls are never retried twice.
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import load_object

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._wds._gate import TaskGate, hears_answers, returning
from scrapy_wds._wds._errors import (
    ERROR_BY_STATUS,
    WdsError,
    WdsGaveUpWaiting,
    WdsServerError,
    WdsUnexpectedResponse,
    describe_call,
)
from scrapy_wds._wds._settings import WdsSettings
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import WaitingRoom, load_parked, parked_file, save_parked

logger = logging.getLogger(__name__)

#: Statuses retried like 5xx: request timeout and "too many requests".
RETRY_STATUSES = frozenset({408, 429})


class _ParkedForLater(IgnoreRequest):
    """Ends the current download of a request whose copy waits in the waiting room."""


class WdsDownloaderMiddleware:
    """Headers, 202 polling, retries and typed errors for WDS API calls."""

    def __init__(self, crawler: Crawler, settings: WdsSettings) -> None:
        from twisted.internet import reactor

        self.crawler = crawler
        self.settings = settings
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.room = WaitingRoom(reactor, self._send_again)  # type: ignore[arg-type]
        self.gate = TaskGate(self._send_again, self.stats)  # a task's calls wait behind its first
        self._retry_exceptions = tuple(
            load_object(e) if isinstance(e, str) else e
            for e in crawler.settings.getlist("RETRY_EXCEPTIONS")
        )
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WdsDownloaderMiddleware:
        if not crawler.settings.get("WDS_API_URL"):
            raise NotConfigured(
                "WdsDownloaderMiddleware is off: WDS_API_URL is not set (give the WDS "
                "server's base URL, e.g. http://localhost:2807)"
            )
        # A bad value is a ValueError naming the setting: the crawl stops at start.
        settings = WdsSettings.from_settings(crawler.settings)
        logger.info(
            "WDS API at %s; extra headers on every call: %s",
            settings.api_url,
            settings.describe_headers(),
        )
        _warn_about_order(crawler)
        return cls(crawler, settings)

    # -- the downloader side --------------------------------------------

    def process_request(self, request: Request) -> None:
        if not _is_wds(request):
            return
        self.gate.check(request)  # raises to hold a call behind its task's first call
        self.stats.inc_value(f"wds/calls/{_action(request)}")
        for name, value in self.settings.headers.items():
            if name not in request.headers:
                request.headers[name] = value

    @hears_answers
    def process_response(self, request: Request, response: Response) -> Response:
        if not _is_wds(request):
            return response
        self._take_headers_off(request)
        status = response.status
        self.stats.inc_value(f"wds/status/{status}")
        if status == 202:
            self._wait_for_task(request, response)
        if 200 <= status < 300:
            return response
        text = self.settings.redact(response.body.decode("utf-8", "replace"))
        if status in ERROR_BY_STATUS:
            self._fail(ERROR_BY_STATUS[status], request, status=status, server_text=text)
        if status >= 500 or status in RETRY_STATUSES:
            self._retry(request, status=status, server_text=text, retry_after=_retry_after(response))
        self._fail(WdsUnexpectedResponse, request, status=status, server_text=text)

    @hears_answers
    def process_exception(self, request: Request, exception: Exception) -> None:
        if not _is_wds(request):
            return None
        self._take_headers_off(request)
        if isinstance(exception, IgnoreRequest) or not isinstance(
            exception, self._retry_exceptions
        ):
            return None  # not a connection problem: Scrapy's usual handling applies
        self.stats.inc_value(f"wds/exceptions/{type(exception).__name__}")
        self._retry(
            request,
            status=None,
            server_text="",
            reason=f"{type(exception).__name__}: {exception}",
        )

    # -- outcomes --------------------------------------------------------

    def _wait_for_task(self, request: Request, response: Response) -> NoReturn:
        """202: poll again later, from the waiting room, until WDS_POLL_MAX_WAIT."""
        wds = request.meta[META_KEY]
        now = time.time()
        since = float(wds.get("waiting_since", now))
        polls = int(wds.get("polls", 0)) + 1
        waited = now - since
        limit = self.settings.poll_max_wait
        if waited >= limit:
            self.stats.inc_value("wds/gave_up")
            self.stats.inc_value("wds/gave_up/waiting")
            self._fail(
                WdsGaveUpWaiting,
                request,
                status=202,
                server_text="",
                stat="gave_up_waiting",
                detail=(
                    f"still not downloaded after {polls} polls over {waited:.1f} s "
                    f"(WDS_POLL_MAX_WAIT = {limit:g} s)"
                ),
            )
        delay = _retry_after(response)
        if delay is None:
            delay = backoff_delay(
                polls - 1,
                first=self.settings.poll_first_delay,
                cap=self.settings.poll_max_delay,
            )
        # The last poll lands at the limit, so a task is never dropped early.
        delay = min(delay, limit - waited)
        self.stats.inc_value("wds/polls")
        logger.debug(
            "WDS %s: not downloaded yet (202, poll %d); asking again in %.2f s",
            _describe(request),
            polls,
            delay,
        )
        self._park(request, delay, polls=polls, waiting_since=since)

    def _retry(
        self,
        request: Request,
        *,
        status: int | None,
        server_text: str,
        reason: str = "",
        retry_after: float | None = None,
    ) -> NoReturn:
        """5xx/408/429 or a failed connection: try again later, a bounded number of times."""
        retries = int(request.meta[META_KEY].get("retries", 0))
        what = f"HTTP {status}" if status is not None else reason
        if retries >= self.settings.retry_times:
            self.stats.inc_value("wds/gave_up")
            self.stats.inc_value("wds/gave_up/retries")
            failing = (
                f"still failing after {retries} retries "
                f"(WDS_RETRY_TIMES = {self.settings.retry_times})"
            )
            self._fail(
                WdsServerError,
                request,
                status=status,
                server_text=server_text,
                stat=str(status) if status is not None else "connection",
                # The status is in the message already; a failed connection has only its reason.
                detail=failing if status is not None else f"{reason}, {failing}",
            )
        delay = retry_after
        if delay is None:
            delay = backoff_delay(
                retries,
                first=self.settings.retry_first_delay,
                cap=self.settings.retry_max_delay,
            )
        self.stats.inc_value("wds/retries")
        logger.info(
            "Retrying WDS %s (%s; retry %d of %d in %.1f s)",
            _describe(request),
            what,
            retries + 1,
            self.settings.retry_times,
            delay,
        )
        self._park(request, delay, retries=retries + 1)

    def _park(self, request: Request, delay: float, **bookkeeping: Any) -> NoReturn:
        wds = dict(request.meta[META_KEY])  # D2's dict may be shared: copy, never mutate
        wds.update(bookkeeping)
        meta = dict(request.meta)
        meta[META_KEY] = wds
        # Headers were taken off already, so the copy carries none of ours.
        self.room.park(request.replace(meta=meta, dont_filter=True), delay)
        self.gate.parked(request)
        # The copy now stands for this request.  Ending the current download
        # with an IgnoreRequest is the only quiet way out of process_response
        # (returning a Request would reschedule it at once; waiting here would
        # hold the concurrency slot).  Scrapy hands download failures to the
        # request's errback, and the spider must not see this one, so this
        # request (never used again) loses its errback; without an errback
        # Scrapy drops an IgnoreRequest silently.
        request.errback = None
        raise _ParkedForLater(f"WDS request parked for {delay:.2f} s")

    def _fail(
        self,
        error_class: type[WdsError],
        request: Request,
        *,
        status: int | None,
        server_text: str,
        stat: str | None = None,
        detail: str = "",
    ) -> NoReturn:
        error = error_class(
            status=status,
            **_call_facts(request),
            server_text=server_text,
            url=request.url,
            detail=detail,
        )
        self.stats.inc_value(f"wds/errors/{stat or status}")
        logger.error("%s", error, extra={"spider": self.crawler.spider})
        raise error

    # -- the waiting room's life ----------------------------------------

    def _send_again(self, request: Request) -> None:
        engine = self.crawler.engine
        assert engine is not None
        slot = getattr(engine, "_slot", None)
        if not engine.running or slot is None or slot.closing is not None:
            # A closing engine may already have closed its scheduler, which
            # would then keep the request in memory only and lose it on a
            # pause.  Refusing keeps it parked, and spider_closed saves it.
            raise RuntimeError("the engine is closing; the request stays parked")
        engine.crawl(returning(request))

    def _take_headers_off(self, request: Request) -> None:
        for name, value in self.settings.headers.items():
            if request.headers.get(name) == value.encode():
                del request.headers[name]

    def spider_opened(self, spider: Spider) -> None:
        jobdir = self.crawler.settings.get("JOBDIR")
        if not jobdir:
            return
        paused, parked = load_parked(jobdir, spider)
        for delay, request in parked:
            wds = dict(request.meta[META_KEY])
            if "waiting_since" in wds:
                # Time spent paused does not count against WDS_POLL_MAX_WAIT.
                wds["waiting_since"] = float(wds["waiting_since"]) + paused
            request.meta[META_KEY] = wds
            self.room.park(request, delay)
        if parked:
            logger.info("Resumed %d WDS requests that were waiting for a later try", len(parked))

    def spider_idle(self, spider: Spider) -> None:
        if len(self.room) or self.gate.release_stranded():
            raise DontCloseSpider  # the waiting room still owes the spider answers

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if len(self.gate):
            logger.warning("%d WDS calls held behind their task's first call are lost (%s)", len(self.gate), reason)
        left = self.room.close()
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir:
            if left:
                path = save_parked(jobdir, left, spider)
                logger.info(
                    "Kept %d waiting WDS requests in %s; they are polled when the crawl resumes",
                    len(left),
                    path,
                )
            else:
                parked_file(jobdir).unlink(missing_ok=True)
        elif left:
            logger.warning(
                "%d WDS requests were still waiting for a later try when the crawl stopped "
                "(%s) and are lost; set JOBDIR to keep them across a pause",
                len(left),
                reason,
            )


def _warn_about_order(crawler: Crawler) -> None:
    """Warn when the middleware sits where Scrapy's RetryMiddleware sees answers first."""
    from scrapy.downloadermiddlewares.retry import RetryMiddleware

    priorities = {
        middleware_class(key): priority
        for key, priority in crawler.settings.getwithbase("DOWNLOADER_MIDDLEWARES").items()
    }

    ours, retry = priorities.get(WdsDownloaderMiddleware), priorities.get(RetryMiddleware)
    if ours is not None and retry is not None and ours <= retry:
        logger.warning(
            "WdsDownloaderMiddleware has priority %s, not above RetryMiddleware (%s): "
            "Scrapy would retry failed WDS calls on top of the WDS retries; use 560 "
            "(the add-on's choice) in DOWNLOADER_MIDDLEWARES",
            ours,
            retry,
        )


def middleware_class(key: object) -> object:
    """What a ``DOWNLOADER_MIDDLEWARES`` key (an import path or a class) names.

    ``None`` for a path that does not load: that is the user's own entry,
    and Scrapy reports it when it builds the middlewares.
    """
    if not isinstance(key, str):
        return key
    try:
        return load_object(key)
    except (ImportError, NameError, ValueError):
        return None


def _is_wds(request: Request) -> bool:
    return isinstance(request.meta.get(META_KEY), dict)


def _action(request: Request) -> str:
    """The call's action; only asked of requests that passed :func:`_is_wds`."""
    return str(request.meta[META_KEY].get("action") or "unknown")


def _call_facts(request: Request) -> dict[str, Any]:
    """What a WDS request asks about, as the keywords of :func:`describe_call` and WdsError."""
    wds = request.meta[META_KEY]
    task = wds.get("task") if isinstance(wds.get("task"), dict) else {}
    return {
        "action": _action(request),
        "task_id": str(task["id"]) if "id" in task else None,
        "job": wds.get("job"),
        "page_url": task.get("url"),
    }


def _describe(request: Request) -> str:
    return describe_call(**_call_facts(request))


def _retry_after(response: Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or HTTP date), if any."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    value = raw.decode("latin-1").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
