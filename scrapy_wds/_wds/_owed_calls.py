"""Sending again what the ledger says the crawl still owes.

* **Resume**: when the spider opens, every call a previous run left owed
  (JOBDIR journal, or Redis) is sent again: parked ones when due, the rest
  at once (``wds/ledger/resumed``).
* **A shared room** (Redis): about once a second, calls any worker parked
  whose time has come are taken and sent through this worker's engine.
* **Gaps at the end**: when the engine is idle and nothing waits in the
  room, an owed call nothing carries (dropped somewhere, its answer never
  reached a callback) is sent again (``wds/ledger/reissued``); after
  :data:`REISSUE_LIMIT` tries it is given up with a WARNING, and the crawl
  closes ``wds_incomplete`` instead of ``finished``.
* **Calls the engine will not take back**: the waiting room hands a due
  call back through :meth:`OwedCalls.send_again`.  One the scheduler keeps
  refusing (a broken JOBDIR queue file, say) is given up by the room after
  ``RELEASE_ATTEMPTS`` tries: one ERROR line, ``wds/ledger/unsendable``, and
  the crawl ends ``wds_incomplete``; the ledger still owes it, so a resumed
  crawl sends it again.
* The spider stays open while anything is owed (and can still be sent).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from twisted.internet.task import LoopingCall

from scrapy_wds._compat import engine_is_closing, remove_torn_request_queues
from scrapy_wds._wds._call_facts import describe
from scrapy_wds._wds._ledger import Ledger, Owed
from scrapy_wds._wds._ledger_keeper import ticket_of
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._ledger_requests import request_from_data, request_to_data
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import RELEASE_ATTEMPTS, NotNow, WaitingRoom

logger = logging.getLogger(__name__)

#: Times an owed call is sent again at idle before it is given up.
REISSUE_LIMIT = 3
#: Close reason of a crawl that gave up on owed calls.
INCOMPLETE_REASON = "wds_incomplete"
#: Seconds between looks at a shared room (Redis) for due calls.
SHARED_ROOM_INTERVAL = 1.0


class OwedCalls:
    """Resume, shared-room and end-of-crawl duties towards the ledger (one per crawler)."""

    def __init__(self, crawler: Any, ledger: Ledger, room: WaitingRoom) -> None:
        self.crawler = crawler
        self.ledger = ledger
        self.room = room
        self.stats = crawler.stats
        self._reissued: Counter[str] = Counter()
        self._given_up = 0
        #: calls the engine refused to take back (still owed in the ledger)
        self._unsendable = 0
        self._loop: LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def _request(self, owed: Owed) -> Request:
        return request_from_data(owed.request, self.crawler.spider)

    # -- resume --------------------------------------------------------------

    def spider_opened(self, spider: Any = None) -> None:
        for path in remove_torn_request_queues(self.crawler.settings):
            logger.warning(
                "Removed %s: a killed crawl left this Scrapy request queue file empty, "
                "and Scrapy cannot open it; the WDS calls it held are re-sent from the ledger",
                path,
            )
        owed = self.ledger.open()
        now = time.time()
        for entry in owed:
            request = self._request(entry)
            # A resumed wait starts afresh: time spent stopped is not waiting.
            request.meta[META_KEY].pop("waiting_since", None)
            self.room.park(request, max(0.0, entry.due - now) if entry.due else 0.0)
        if owed:
            self.stats.inc_value("wds/ledger/resumed", len(owed))
            logger.info("Resumed %d WDS calls a previous run still owed", len(owed))
        self._loop = LoopingCall(self._take_due)
        self._loop.start(SHARED_ROOM_INTERVAL, now=False)

    def _take_due(self) -> None:
        engine = self.crawler.engine
        if engine is None or not engine.running:
            return
        for owed in self.ledger.due(time.time()):
            request = self._request(owed)
            try:
                engine.crawl(request)
            except Exception as exc:
                self.release_failed(request, exc)

    # -- the waiting room's side ----------------------------------------------

    def send_again(self, request: Request, returning: Callable[[Request], Request]) -> None:
        """Hand a parked call back to the engine (``returning`` adds the gate's bump).

        Raises :class:`NotNow` while the engine is not running or is closing
        (the call stays parked, and owed); any other error is the scheduler's.
        """
        engine = self.crawler.engine
        if engine is None or engine_is_closing(engine):
            raise NotNow("the engine is not running; the request stays parked")
        ticket = ticket_of(request)
        if ticket is not None and not self.ledger.unpark(ticket):
            return  # settled meanwhile, or another worker took it
        try:
            engine.crawl(returning(request))
        except Exception:
            if ticket is not None:  # not sent: parked still, as far as the ledger knows
                self.ledger.park(Owed(ticket, request_to_data(request), due=time.time()))
            raise

    def release_failed(self, request: Request, error: Exception) -> None:
        """The engine keeps refusing ``request``: stop trying; the crawl ends incomplete."""
        self._unsendable += 1
        self.stats.inc_value("wds/ledger/unsendable")
        logger.error(
            "Could not hand WDS %s back to Scrapy's scheduler after %d tries (%s: %s); "
            "the crawl will end %r and the call stays owed for a resumed run. If JOBDIR "
            "is set, its requests.queue may be damaged (a killed run can leave a broken "
            "queue file): remove that directory's requests.queue and resume",
            describe(request),
            RELEASE_ATTEMPTS,
            type(error).__name__,
            error,
            INCOMPLETE_REASON,
        )

    # -- the end -------------------------------------------------------------

    def spider_idle(self, spider: Any = None) -> None:
        if len(self.room):
            raise DontCloseSpider  # the waiting room still owes the spider answers
        sent = 0
        for owed in self.ledger.orphans():
            self._reissued[owed.ticket] += 1
            if self._reissued[owed.ticket] > REISSUE_LIMIT:
                self._give_up(owed)
                continue
            assert self.crawler.engine is not None
            try:
                self.crawler.engine.crawl(self._request(owed))
            except Exception:
                # The scheduler refuses it (a damaged JOBDIR queue, say): the
                # crawl cannot finish whole, and must not end "finished".
                logger.exception("Could not schedule an owed WDS call again")
                self._give_up(owed)
                continue
            sent += 1
        if sent:
            self.stats.inc_value("wds/ledger/reissued", sent)
            logger.info(
                "Re-asking %d WDS calls the crawl still owes (sent, but no answer "
                "reached a callback)",
                sent,
            )
        # Calls the engine would not take back are owed too, but only a
        # resumed run can send them: they must not keep this one open.
        if sent or self.ledger.owed() > self._unsendable:
            raise DontCloseSpider
        if self._given_up or self._unsendable:
            raise CloseSpider(INCOMPLETE_REASON)

    def _give_up(self, owed: Owed) -> None:
        self.ledger.record(settled=[owed.ticket])
        self._given_up += 1
        self.stats.inc_value("wds/ledger/given_up")
        wds = owed.request.get("meta", {}).get(META_KEY, {})
        task = wds.get("task") or {}
        logger.warning(
            "Gave up WDS %s on %s of job %r: asked %d times, its answer never reached "
            "a callback; the crawl will end %r",
            wds.get("action"),
            task.get("url") or "the job start",
            wds.get("job"),
            REISSUE_LIMIT + 1,
            INCOMPLETE_REASON,
        )

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.room.close()
        left = self.ledger.owed()
        self.ledger.close(graceful=True)
        if not left:
            return
        if type(self.ledger) is MemoryLedger:
            logger.warning(
                "%d WDS calls were still owed when the crawl stopped (%s) and are lost; "
                "set JOBDIR to keep them across a pause or a crash",
                left,
                reason,
            )
        else:
            logger.info("%d WDS calls still owed are kept for the crawl's resumption", left)
