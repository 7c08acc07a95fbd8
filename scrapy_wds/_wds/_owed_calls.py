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
* The spider stays open while anything is owed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from twisted.internet.task import LoopingCall

from scrapy_wds._compat import remove_torn_request_queues
from scrapy_wds._wds._ledger import Ledger, Owed
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._ledger_requests import request_from_data
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import WaitingRoom

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
            engine.crawl(self._request(owed))

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
        if sent or self.ledger.owed():
            raise DontCloseSpider
        if self._given_up:
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
