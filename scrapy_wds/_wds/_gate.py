"""A task's first call waits for its page; its other calls wait behind it, without calling.

Every crawl, scrape and scrape-multiple call waits for its task's page by
itself (202 or a pending state, then polls from the waiting room).  When a
callback builds two calls on a task that is not downloaded yet (a listing
page crawled for its next page and for its items, say), both would poll:
polls multiplied by the calls per task.  The gate keeps them in line:

* the first call of a task not known to be ready *leads*: it does the waiting;
* once the leader's answer said "pending", the task's other calls that reach
  the downloader middleware are held here (no API call, no slot: the
  current download ends quietly, like a parked poll).  A call that was sent
  while the leader's first answer was still on its way makes its own call; if
  that says pending too, it is parked, and held when it comes back: at most
  one extra 202 per call, never a poll loop of its own;
* when any call of the task gets a final good answer, the held calls go back
  through the scheduler and the task is known ready (its later calls pass
  straight through).  If the leader failed (an error, or waits that ran
  out), they go back too and the first of them leads.

Calls that come back from the waiting room, and held calls released, get
:data:`RETURNING_PRIORITY_BUMP` once: they have waited already, and must not
queue behind fresh tasks (Scrapy's scheduler serves higher priorities first,
whatever its queue order).  Not with ``JOBDIR`` (see ``TaskGate.bump``):
there Scrapy's LIFO queues serve returning calls first anyway.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest

from scrapy_wds._wds._ledger import Ledger, Owed
from scrapy_wds._wds._ledger_keeper import ticket_of
from scrapy_wds._wds._ledger_requests import request_to_data
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import RELEASE_RETRY_DELAY, NotNow, SetAside, WaitingRoom

logger = logging.getLogger(__name__)
_Method = TypeVar("_Method", bound=Callable[..., Any])

#: Added once to the priority of a call that has waited (parked poll or held call).
RETURNING_PRIORITY_BUMP = 1
#: How many tasks known ready are remembered (oldest forgotten first; a
#: forgotten task only costs its next call a short turn as leader).
READY_TASKS_KEPT = 100_000
#: ``meta["wds"]`` mark of a call whose priority got the bump already.
RETURNING = "returning"


class HeldBehindTask(SetAside):
    """Ends the download of a call held behind its task's leading call (a copy is kept)."""


class TaskGate:
    """Leaders and held calls per task id; ``release`` sends a held call back to the scheduler.

    At idle with nothing in the waiting room, held calls are released (their
    leader was lost); until then the spider stays open.
    """

    def __init__(
        self,
        crawler: Any,
        release: Callable[[Request], None],
        ledger: Ledger,
        room: WaitingRoom,
        hold_for: float,
    ) -> None:
        self._release = release
        self._ledger = ledger
        self._room = room
        #: Seconds a held call is parked for in the ledger (a worker that takes
        #: over a dead one's calls sends it after that long).
        self._hold_for = hold_for
        self._stats = crawler.stats
        #: No bump with JOBDIR: each priority is a disk queue file of Scrapy's,
        #: and one created by a run killed before its first flush is left
        #: empty; a resumed crawl then fails on every push to that priority.
        self.bump = 0 if crawler.settings.get("JOBDIR") else RETURNING_PRIORITY_BUMP
        crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)
        #: task id → the leading call's (method, URL, body): its parked copies share them
        self._leader: dict[str, tuple[str, str, bytes]] = {}
        #: task ids whose leader was answered "pending" (it polls from the waiting room)
        self._pending: set[str] = set()
        #: task id → calls held until the task is ready
        self._held: dict[str, list[Request]] = {}
        self._ready: dict[str, None] = {}
        self._just_parked: Request | None = None

    def __len__(self) -> int:
        """Calls held behind a leader."""
        return sum(len(calls) for calls in self._held.values())

    # -- process_request --------------------------------------------------

    def check(self, request: Request) -> None:
        """Let ``request`` go to the API, or hold a copy of it and end this download."""
        task = _task_id(request)
        if task is None or task in self._ready:
            return
        leader = self._leader.get(task)
        if leader is None:
            self._leader[task] = _call_key(request)
            return
        if task not in self._pending or leader == _call_key(request):
            return  # the leader itself, or a call racing the leader's first answer
        copy = request.replace(dont_filter=True)
        ticket = ticket_of(copy)
        if ticket is not None:  # parked, as far as the ledger knows
            self._ledger.park(Owed(ticket, request_to_data(copy), due=time.time() + self._hold_for))
        self._held.setdefault(task, []).append(copy)
        self._stats.inc_value("wds/gate/held")
        # As for a parked poll: the copy stands for this request, and the
        # package's errback ends a SetAside quietly.
        raise HeldBehindTask(f"WDS call held behind the first call of task {task!r}")

    # -- answers ----------------------------------------------------------

    def parked(self, request: Request) -> None:
        """The middleware parked ``request`` for a later try (called from its ``_park``)."""
        self._just_parked = request

    def answered(self, request: Request, *, ok: bool) -> None:
        """``request``'s answer was handled: parked, ``ok`` (a final 2xx) or failed."""
        was_parked, self._just_parked = self._just_parked is request, None
        task = _task_id(request)
        if task is None or task in self._ready:
            return
        leads = self._leader.get(task) == _call_key(request)
        if was_parked:
            if leads:
                self._pending.add(task)
            return
        if ok:
            self._ready[task] = None
            if len(self._ready) > READY_TASKS_KEPT:
                del self._ready[next(iter(self._ready))]
        elif not leads:
            return  # a failed call of its own; the leader still speaks for the task
        self._leader.pop(task, None)
        self._pending.discard(task)
        for call in self._held.pop(task, ()):
            self._send_back(call)

    def _spider_idle(self, spider: Any = None) -> None:
        if not len(self._room) and self.release_stranded():
            raise DontCloseSpider

    def release_stranded(self) -> int:
        """At idle with nothing parked: release every held call (its leader was lost)."""
        released = 0
        for task in list(self._held):
            for call in self._held.pop(task):
                self._send_back(call)
                released += 1
        self._leader.clear()
        self._pending.clear()
        if released:
            logger.info("Released %d WDS calls whose task's first call was lost", released)
        return released

    def returning(self, request: Request) -> Request:
        """``request``, come back from waiting, with this crawl's priority bump."""
        return returning(request, self.bump)

    def _send_back(self, request: Request) -> None:
        self.returning(request)
        try:
            self._release(request)
        except NotNow:
            # The engine is closing: keep the call held (it is counted as left over).
            self._held.setdefault(str(_task_id(request)), []).append(request)  # released at idle
            logger.debug("Could not send a held WDS call back yet", exc_info=True)
            return
        except Exception:
            # The scheduler refused it: the waiting room tries again, and gives
            # it up (the crawl ends incomplete) if the refusals go on.
            logger.debug("Scrapy's scheduler refused a held WDS call", exc_info=True)
            self._room.park(request, RELEASE_RETRY_DELAY)
            return
        self._stats.inc_value("wds/gate/released")


def hears_answers(method: _Method) -> _Method:
    """Wrap the middleware's ``process_response``/``process_exception`` so its gate hears each outcome.

    An answer handled without an exception is final and good; one that ends
    in the middleware's ``_park`` (it calls :meth:`TaskGate.parked`) waits
    on; any other exception is a failure.  An ``IgnoreRequest`` reaching
    ``process_exception`` is no answer of the API (a held call, a dropped
    copy): the gate ignores it.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Scrapy passes the arguments by name (request=, response= or exception=).
        named = dict(zip(("request", "answer"), args))
        request = named.get("request", kwargs.get("request"))
        answer = named.get("answer", kwargs.get("response", kwargs.get("exception")))
        if (
            request is None
            or isinstance(answer, IgnoreRequest)
            or not isinstance(request.meta.get(META_KEY), dict)
        ):
            return method(self, *args, **kwargs)
        try:
            result = method(self, *args, **kwargs)
        except BaseException:
            self.gate.answered(request, ok=False)
            raise
        self.gate.answered(request, ok=not isinstance(answer, Exception))
        return result

    return wrapper  # type: ignore[return-value]


def returning(request: Request, bump: int = RETURNING_PRIORITY_BUMP) -> Request:
    """Give a call that has waited the priority bump, once (it keeps it for later polls)."""
    wds = request.meta[META_KEY]
    if bump and not wds.get(RETURNING):
        request.meta[META_KEY] = {**wds, RETURNING: True}
        request.priority += bump
    return request


def _call_key(request: Request) -> tuple[str, str, bytes]:
    return request.method, request.url, request.body


def _task_id(request: Request) -> str | None:
    """The id of the task a WDS call is about (``None`` for start-job calls)."""
    task = request.meta[META_KEY].get("task")
    if not isinstance(task, dict) or "id" not in task:
        return None
    return str(task["id"])
