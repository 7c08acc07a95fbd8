"""Where WDS requests wait, outside Scrapy's downloader, until their next try is due.

A task that answers 202 (or a call that failed and will be retried) must not
hold one of Scrapy's ``CONCURRENT_REQUESTS`` slots while it waits.  The
middleware therefore takes the request out of the downloader altogether and
parks a copy here: a heap of due times driven by a single reactor timer.
When a copy is due it is handed to ``release`` (the engine's ``crawl``), so it
goes back through the scheduler like any new request.  Thousands of waiting
tasks cost one timer and one heap entry each, and no download slot.

The room only knows *when*: what is owed (and so survives a pause, a
``kill -9`` or a dead worker) is the ledger's business (``_ledger``), which
the middleware tells of every parked copy.

A release may fail.  While the engine is not running yet, or is closing,
``release`` raises :class:`NotNow` and the request simply stays parked (at
close it stays owed).  Any other failure (Scrapy's JOBDIR disk queue refusing
a push, say) is counted: after :data:`RELEASE_ATTEMPTS` failed tries the room
gives the request up to ``give_up``, so a crawl whose scheduler cannot take
requests back ends instead of waiting for ever.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from twisted.internet.base import DelayedCall

logger = logging.getLogger(__name__)

#: Seconds before trying again when ``release`` refused a due request.
RELEASE_RETRY_DELAY = 1.0
#: Failed releases of one request (other than :class:`NotNow`) before it is
#: given up: about half a minute at RELEASE_RETRY_DELAY, time enough for a
#: passing fault, not for a broken queue file that fails every push.
RELEASE_ATTEMPTS = 30


class SetAside(IgnoreRequest):
    """Ends a download quietly: a copy of the call waits in the room, or carries its ticket."""


class NotNow(Exception):
    """Raised by ``release`` while the engine cannot take requests yet (or any more)."""


class Clock(Protocol):
    """What the room needs of a reactor (``twisted.internet.task.Clock`` in tests)."""

    def seconds(self) -> float: ...

    def callLater(self, delay: float, f: Callable[[], None]) -> DelayedCall: ...


class WaitingRoom:
    """Requests parked until a due time, released one by one through ``release``.

    ``release`` may raise: the request then stays parked and is offered again
    a little later; after :data:`RELEASE_ATTEMPTS` failures other than
    :class:`NotNow` it leaves the room through ``give_up`` (request, last error).
    """

    def __init__(
        self,
        clock: Clock,
        release: Callable[[Request], None],
        give_up: Callable[[Request, Exception], None] | None = None,
    ) -> None:
        self._clock = clock
        self._release = release
        self._give_up = give_up
        self._heap: list[tuple[float, int, Request]] = []
        self._order = itertools.count()  # ties keep parking order; Requests don't compare
        self._timer: DelayedCall | None = None
        self._closed = False
        #: parking order → failed releases of that request so far
        self._failures: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._heap)

    def park(self, request: Request, delay: float) -> None:
        """Keep ``request`` until ``delay`` seconds from now."""
        due = self._clock.seconds() + max(0.0, delay)
        heapq.heappush(self._heap, (due, next(self._order), request))
        self._arm()

    def close(self) -> list[tuple[float, Request]]:
        """Stop the timer; return every parked request with the seconds it still had to wait."""
        self._closed = True
        self._cancel_timer()
        now = self._clock.seconds()
        left = [(max(0.0, due - now), request) for due, _, request in sorted(self._heap)]
        self._heap.clear()
        self._failures.clear()
        return left

    def _arm(self) -> None:
        if self._closed or not self._heap:
            return
        due = self._heap[0][0]
        if self._timer is not None and self._timer.active():
            if self._timer.getTime() <= due:
                return  # the running timer fires first anyway
            self._timer.cancel()
        self._timer = self._clock.callLater(max(0.0, due - self._clock.seconds()), self._fire)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.seconds()
        while self._heap and self._heap[0][0] <= now and not self._closed:
            due, order, request = heapq.heappop(self._heap)
            try:
                self._release(request)
            except NotNow:
                # The engine is starting or closing: keep it, with no limit
                # (at close the ledger still owes it).
                self._keep(due, order, request)
                return
            except Exception as exc:
                failures = self._failures.get(order, 0) + 1
                if failures < RELEASE_ATTEMPTS or self._give_up is None:
                    self._failures[order] = failures
                    logger.debug("Could not hand a parked WDS request back yet", exc_info=True)
                    self._keep(due, order, request)
                    return
                self._failures.pop(order, None)
                self._give_up(request, exc)
                continue
            self._failures.pop(order, None)
        self._arm()

    def _keep(self, due: float, order: int, request: Request) -> None:
        """Put a request whose release failed back, and try again a little later."""
        heapq.heappush(self._heap, (due, order, request))
        self._timer = self._clock.callLater(RELEASE_RETRY_DELAY, self._fire)
