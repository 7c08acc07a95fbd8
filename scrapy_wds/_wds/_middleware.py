"""The downloader middleware that turns WDS API answers into Scrapy behaviour.

A WDS request is any request with ``meta["wds"]`` (built by the spider side).
This middleware owns *waiting*:

* it adds ``WDS_API_HEADERS`` at download time only, and takes them off again
  when the answer is in, so they never travel back to the scheduler, JOBDIR,
  the ledger or a scrapy-redis queue;
* it claims the call's ticket from the ledger first: a copy of a call that is
  settled, in flight or parked is dropped quietly (see ``_ledger``);
* it answers 202 ("page not downloaded yet"), and an ``info`` 200 whose task
  state is still ``Created``/``InProgress`` (the documented reading), by
  parking a copy of the request in the
  :class:`~scrapy_wds._wds._waiting_room.WaitingRoom` and in the ledger, and
  dropping the current one quietly: the wait holds no concurrency slot, and
  callbacks only ever see final task states;
* it retries 5xx answers, 408/429 and failed connections the same way, with
  backoff, up to ``WDS_RETRY_TIMES`` *consecutive* failures of one call (a
  202 or a pending state starts the count again); Scrapy's
  ``get_retry_request`` makes the copy, counts it and logs it;
* it turns 400/403/404/422 (and retries or waits that ran out) into typed
  :mod:`~scrapy_wds._wds._errors` delivered to the request's errback, with
  one log line that says what to do.

API requests say ``dont_retry`` and ``dont_cache``, so Scrapy's
RetryMiddleware and HttpCacheMiddleware leave them alone wherever they sit.
What is owed is re-sent at start, at idle and from a shared room by
:class:`~scrapy_wds._wds._owed_calls.OwedCalls`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import load_object

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._wds._answer_shape import shape_problem
from scrapy_wds._wds._answers import TaskState
from scrapy_wds._wds._call_facts import (
    action_of,
    call_facts,
    describe,
    is_wds,
    pending_state,
    retry_after,
)
from scrapy_wds._wds._config_check import is_refused, settings_or_refuse
from scrapy_wds._wds._errors import (
    ERROR_BY_STATUS,
    WdsBadAnswer,
    WdsError,
    WdsGaveUpWaiting,
    WdsServerError,
    WdsUnexpectedResponse,
)
from scrapy_wds._wds._gate import TaskGate, hears_answers
from scrapy_wds._wds._ledger import Owed
from scrapy_wds._wds._ledger_keeper import keeper_for, ticket_of
from scrapy_wds._wds._ledger_requests import request_to_data
from scrapy_wds._wds._owed_calls import OwedCalls
from scrapy_wds._wds._selector_watch import SelectorWatch
from scrapy_wds._wds._settings import WdsSettings
from scrapy_wds._wds._start_patience import RetryBudget, close_after_failed_start
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import SetAside, WaitingRoom

logger = logging.getLogger(__name__)

#: Statuses retried like 5xx: request timeout and "too many requests".
RETRY_STATUSES = frozenset({408, 429})
#: Scrapy's retry stats for WDS calls: wds/retries/count, …/reason_count/<reason>.
RETRY_STATS_KEY = "wds/retries"
#: Times a call that failed WDS_RETRY_TIMES times in a row rests (WDS_RETRY_MAX_DELAY)
#: and starts again before it is given up: a server that fails one call in ten
#: over a crawl of thousands of calls must not cost pages.
RETRY_RESTS = 3


class WdsDownloaderMiddleware:
    """Headers, waiting (202, pending states), retries and typed errors for WDS API calls."""

    def __init__(self, crawler: Crawler, settings: WdsSettings) -> None:
        from twisted.internet import reactor

        self.crawler = crawler
        self.settings = settings
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.ledger = keeper_for(crawler).ledger
        self.room = WaitingRoom(
            reactor,  # type: ignore[arg-type]
            self._send_again,
            lambda request, error: self.owed.release_failed(request, error),
        )
        self.owed = OwedCalls(crawler, self.ledger, self.room)
        self.selector_watch = SelectorWatch(crawler, settings.selector_warn_pages)
        # A task's other calls wait behind its first one (see _gate).
        self.gate = TaskGate(
            crawler, self._send_again, self.ledger, self.room, settings.poll_max_delay
        )
        self._retry_exceptions = tuple(
            load_object(e) if isinstance(e, str) else e
            for e in crawler.settings.getlist("RETRY_EXCEPTIONS")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WdsDownloaderMiddleware:
        if not crawler.settings.get("WDS_API_URL"):
            raise NotConfigured(
                "WdsDownloaderMiddleware is off: WDS_API_URL is not set (give the WDS "
                "server's base URL, e.g. http://localhost:2807)"
            )
        # A bad value is one line naming the setting, and the spider closed at open.
        settings = settings_or_refuse(crawler)
        if is_refused(crawler):
            return cls(crawler, settings)
        logger.info(
            "WDS API at %s; extra headers on every call: %s",
            settings.api_url,
            settings.describe_headers(),
        )
        return cls(crawler, settings)

    # -- the downloader side --------------------------------------------

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not is_wds(request):
            return
        if is_refused(self.crawler):
            raise IgnoreRequest("the WDS crawl was refused at open; nothing is sent")
        ticket = ticket_of(request)
        if ticket is not None and not self.ledger.claim(ticket):
            # Settled already, or another copy is in flight or parked (a copy
            # restored from Scrapy's queue next to the ledger's own, say).
            self.stats.inc_value("wds/ledger/copies_dropped")
            self._set_aside(request, "another copy of this WDS call carries its ticket")
        self.gate.check(request)  # raises to hold a call behind its task's first call
        self.stats.inc_value(f"wds/calls/{action_of(request)}")
        for name, value in self.settings.headers.items():
            if name not in request.headers:
                request.headers[name] = value

    @hears_answers  # noqa: RET503 (each path ends in a return or a NoReturn call)
    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if not is_wds(request):
            return response
        self._take_headers_off(request)
        status = response.status
        self.stats.inc_value(f"wds/status/{status}")
        if status == 202:
            self._wait_for_task(request, response)
        pending = pending_state(request, response) if status == 200 else None
        if pending is not None:
            self.stats.inc_value("wds/pending_answers")
            self._wait_for_task(request, response, pending)
        if 200 <= status < 300:
            problem = shape_problem(action_of(request), response.body)
            if problem is None:
                self.selector_watch.observe(request, response)
                return response
            self.stats.inc_value(f"wds/bad_answers/{action_of(request)}")
            body = self.settings.redact(response.body.decode("utf-8", "replace"))
            self._retry(
                request, status=status, server_text=body, reason=problem, give_up_as=WdsBadAnswer
            )
        text = self.settings.redact(response.body.decode("utf-8", "replace"))
        if status in ERROR_BY_STATUS:
            self._fail(ERROR_BY_STATUS[status], request, status=status, server_text=text)
        if status >= 500 or status in RETRY_STATUSES:
            self._retry(request, status=status, server_text=text, retry_after=retry_after(response))
        self._fail(WdsUnexpectedResponse, request, status=status, server_text=text)

    @hears_answers
    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        if not is_wds(request):
            return
        self._take_headers_off(request)
        if isinstance(exception, SetAside):
            return  # a copy carries the call on
        if isinstance(exception, IgnoreRequest) or not isinstance(
            exception, self._retry_exceptions
        ):
            # Not a connection problem: Scrapy's usual handling applies, and
            # the call is over (its errback gets the failure).
            self._settle(request)
            return
        self.stats.inc_value(f"wds/exceptions/{type(exception).__name__}")
        self._retry(
            request,
            status=None,
            server_text="",
            reason=f"{type(exception).__name__}: {exception}",
        )

    # -- outcomes --------------------------------------------------------

    def _wait_for_task(
        self, request: Request, response: Response, state: TaskState | None = None
    ) -> NoReturn:
        """202 or a pending state: ask again later, from the waiting room, until WDS_POLL_MAX_WAIT."""
        answer = f"HTTP {response.status}" + (f", state {state.name}" if state else "")
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
                status=response.status,
                server_text="",
                stat="gave_up_waiting",
                detail=(
                    f"still not downloaded ({answer}) after {polls} polls over "
                    f"{waited:.1f} s (WDS_POLL_MAX_WAIT = {limit:g} s)"
                ),
            )
        delay = retry_after(response)
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
            "WDS %s: not downloaded yet (%s, poll %d); asking again in %.2f s",
            describe(request),
            answer,
            polls,
            delay,
        )
        # The server answered: the call is working, so its failures count anew.
        # One copy per poll, made by _park (polls are the hot path of a crawl):
        # this request ends here, so its own meta may take the reset.
        request.meta["retry_times"] = 0
        self._park(request, request, delay, polls=polls, waiting_since=since, rests=0)

    def _retry(
        self,
        request: Request,
        *,
        status: int | None,
        server_text: str,
        reason: str = "",
        retry_after: float | None = None,
        give_up_as: type[WdsError] = WdsServerError,
    ) -> NoReturn:
        """5xx/408/429 or a failed connection: try again later, a bounded number of times."""
        retries = int(request.meta.get("retry_times", 0))
        what = reason or f"HTTP {status}"
        budget = RetryBudget(request, self.settings, retries)  # the job start waits longer
        rests = int(request.meta[META_KEY].get("rests", 0))
        if budget.ran_out() and not budget.is_start and rests < RETRY_RESTS:
            self._rest(request, what, retries, rests)
        if budget.ran_out():
            self.stats.inc_value("wds/gave_up")
            self.stats.inc_value("wds/gave_up/retries")
            failing = budget.failing_text()
            if not budget.is_start:
                failing += f", and after {RETRY_RESTS} rests"
            self._fail(
                give_up_as,
                request,
                status=status,
                server_text=server_text,
                stat="bad_answer" if give_up_as is WdsBadAnswer else str(status or "connection"),
                # The status is in the message already; a failed connection has only its reason.
                detail=f"{reason}, {failing}" if reason else failing,
            )
        assert self.crawler.spider is not None
        copy = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"{status}" if status is not None else reason.split(":", 1)[0],
            max_retry_times=retries + 1,  # the bound was checked above (a count, or patience)
            priority_adjust=0,
            logger=logger,
            stats_base_key=RETRY_STATS_KEY,
        )
        assert copy is not None
        delay = retry_after
        if delay is None:
            delay = backoff_delay(
                retries,
                first=self.settings.retry_first_delay,
                cap=self.settings.retry_max_delay,
            )
        delay = budget.cap(delay)
        logger.info(
            "Retrying WDS %s (%s; retry %d %s in %.1f s)",
            describe(request),
            what,
            retries + 1,
            budget.limit_text(),
            delay,
        )
        self._park(request, copy, delay, **budget.bookkeeping())

    def _rest(self, request: Request, what: str, retries: int, rests: int) -> NoReturn:
        """WDS_RETRY_TIMES failures in a row: wait WDS_RETRY_MAX_DELAY, then count afresh."""
        rest = self.settings.retry_max_delay
        self.stats.inc_value("wds/retries/rests")
        logger.warning(
            "WDS %s still failing after %d retries (%s); trying again in %.0f s (rest %d of %d)",
            describe(request),
            retries,
            what,
            rest,
            rests + 1,
            RETRY_RESTS,
        )
        meta = {**request.meta, "retry_times": 0}
        self._park(request, request.replace(meta=meta), rest, rests=rests + 1)

    def _park(
        self, request: Request, next_try: Request, delay: float, **bookkeeping: Any
    ) -> NoReturn:
        """A copy of ``next_try`` waits ``delay`` seconds in the room; ``request`` ends quietly."""
        wds = dict(next_try.meta[META_KEY])  # the spider side's dict may be shared: copy it
        wds.update(bookkeeping)
        meta = dict(next_try.meta)
        meta[META_KEY] = wds
        # Headers were taken off already, so the copy carries none of ours.
        copy = next_try.replace(meta=meta, dont_filter=True)
        ticket = ticket_of(copy)
        if ticket is not None:
            self.ledger.park(Owed(ticket, request_to_data(copy), due=time.time() + delay))
        self.room.park(copy, delay)
        self.gate.parked(request)
        # The copy now stands for this request.  Ending the current download
        # with an IgnoreRequest is the only quiet way out of process_response
        # (returning a Request would reschedule it at once; waiting here would
        # hold the concurrency slot).
        self._set_aside(request, f"WDS request parked for {delay:.2f} s")

    def _set_aside(self, request: Request, why: str) -> NoReturn:
        # Scrapy hands download failures to the request's errback: the
        # package's errback (_wds_on_error) knows SetAside and returns None,
        # so the spider's own errback never sees it and Scrapy logs nothing.
        raise SetAside(why)

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
            **call_facts(request),
            server_text=server_text,
            url=request.url,
            detail=detail,
        )
        self.stats.inc_value(f"wds/errors/{stat or status}")
        logger.error("%s", error, extra={"spider": self.crawler.spider})
        self._settle(request)
        close_after_failed_start(self.crawler, request, error)
        raise error

    def _settle(self, request: Request) -> None:
        """The call failed for good: the crawl owes nothing more for it."""
        ticket = ticket_of(request)
        if ticket is not None:
            self.ledger.record(settled=[ticket])

    # -- the waiting room's side ----------------------------------------

    def _send_again(self, request: Request) -> None:
        self.owed.send_again(request, self.gate.returning)

    def _take_headers_off(self, request: Request) -> None:
        for name, value in self.settings.headers.items():
            if request.headers.get(name) == value.encode():
                del request.headers[name]
