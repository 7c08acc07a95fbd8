"""The ledger in redis, shared by every scrapy-redis worker of a crawl.

Chosen by :func:`~scrapy_wds._wds._ledger.backend_for` when the crawl uses
the scrapy-redis scheduler.  Same rules as the memory and journal backends
(see :class:`~scrapy_wds._wds._ledger.Ledger`), with what several worker
processes add:

* **one shared room.**  A parked ticket waits in a redis sorted set by due
  time.  The worker that parked it sends it again when its own timer fires
  (:meth:`RedisLedger.unpark`), unless another worker took it first:
  :meth:`RedisLedger.due`, which every live worker calls about once a
  second, takes any due ticket, whoever parked it;
* **claims with a heartbeat.**  A claimed ticket records the worker that
  downloads it.  Each worker renews a heartbeat key with a TTL
  (``WDS_WORKER_TIMEOUT``) from a timer, and at each beat moves the claims of
  workers whose heartbeat expired back into the room, due now: a SIGKILLed
  worker's calls in flight, and answers it had not yet turned into
  follow-ups, are done by the live ones;
* **orphans after a grace.**  An owed ticket nobody claims or parks may be
  on its way through the shared queue of a live worker; only one untouched
  for ``WDS_ORPHAN_GRACE`` seconds counts as an orphan, to be sent again;
* **open while anything is owed**, by any worker: :meth:`RedisLedger.owed`
  counts the shared hash, so a worker that finds the scrapy-redis queue empty
  stays open while another one's calls wait in the room.

Every step is one round trip; the ones that read then write are Lua scripts
(``_ledger_redis_scripts``), so no two workers ever both follow a page, both
send a ticket, or both take over a dead worker's claim.  Requests are kept
as the JSON data the other backends keep: no credentials (checked here once
more: a request holding a secret ``WDS_API_HEADERS`` value is refused).

The keys live under ``<spider>:wds:`` next to scrapy-redis's own, and follow
its settings: ``SCHEDULER_FLUSH_ON_START`` empties them when a worker opens;
with ``SCHEDULER_PERSIST`` off they are removed when a worker closes with
nothing owed (a crawl that stops short keeps what it owes, and says so).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any

from scrapy_wds._wds._ledger import Owed, Page
from scrapy_wds._wds._ledger_redis_scripts import (
    CLAIM,
    HOLDS,
    KEY_NAMES,
    ORPHANS,
    PARK,
    RECORD,
    RELEASE,
    SWEEP,
    TAKE_DUE,
    UNPARK,
)
from scrapy_wds._wds._settings import WdsSettings, _positive_number

logger = logging.getLogger(__name__)

#: Most tickets one :meth:`RedisLedger.due` or :meth:`RedisLedger.orphans` hands out.
BATCH = 500
#: Prefix of the ledger's keys; ``%(spider)s`` is the spider's name (as in scrapy-redis).
KEY_PREFIX = "%(spider)s:wds:"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _secret_values(settings: Any) -> tuple[str, ...]:
    try:
        return WdsSettings.from_settings(settings).secret_values
    except ValueError:
        return ()  # the middleware reports the bad setting, and the crawl stops


class RedisLedger:
    """:class:`~scrapy_wds._wds._ledger.Ledger` in redis, for several scrapy-redis workers."""

    def __init__(self, crawler: Any) -> None:
        # scrapy-redis's own connection settings (REDIS_URL, REDIS_HOST…), imported
        # here: scrapy-redis and redis are needed only when the crawl uses them.
        from scrapy_redis.connection import get_redis_from_settings

        settings = crawler.settings
        self.server = server = get_redis_from_settings(settings)
        self.stats = crawler.stats
        spider = getattr(crawler, "spider", None) or crawler.spidercls
        self.prefix = KEY_PREFIX % {"spider": spider.name}
        self.keys = [self.prefix + name for name in KEY_NAMES]
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.heartbeat_key = f"{self.prefix}worker:{self.worker}"
        # Seconds without a heartbeat after which a worker counts as dead, and
        # seconds an owed ticket nobody carries waits before it is an orphan.
        self.worker_timeout = _positive_number(settings, "WDS_WORKER_TIMEOUT")
        self.orphan_grace = _positive_number(settings, "WDS_ORPHAN_GRACE")
        self.persist = settings.getbool("SCHEDULER_PERSIST")
        self.flush_on_start = settings.getbool("SCHEDULER_FLUSH_ON_START")
        self._secrets = _secret_values(settings)
        self._scripts = {
            name: server.register_script(source)
            for name, source in {
                "record": RECORD,
                "claim": CLAIM,
                "holds": HOLDS,
                "park": PARK,
                "unpark": UNPARK,
                "due": TAKE_DUE,
                "sweep": SWEEP,
                "release": RELEASE,
                "orphans": ORPHANS,
            }.items()
        }
        self._beating: Any = None  # the heartbeat's LoopingCall, once open

    def _run(self, script: str, *args: Any) -> Any:
        return self._scripts[script](keys=self.keys, args=list(args))

    def _key(self, name: str) -> str:
        return self.prefix + name

    # -- life ------------------------------------------------------------------

    def open(self) -> list[Owed]:
        """Join the crawl: beat at once, then every third of ``WDS_WORKER_TIMEOUT``.

        Nothing is handed back here: what earlier workers left owed comes
        through :meth:`due` (parked, or taken back from a dead worker by the
        sweep) and :meth:`orphans`, so that a worker joining a live crawl
        never sends what another one carries.
        """
        if self.flush_on_start:
            removed = self.flush()
            if removed:
                logger.info(
                    "SCHEDULER_FLUSH_ON_START: removed the WDS ledger in redis (%s*)", self.prefix
                )
        self.beat()
        from twisted.internet.task import LoopingCall

        self._beating = LoopingCall(self._beat_safely)
        self._beating.start(self.worker_timeout / 3, now=False)
        logger.info(
            "WDS ledger shared in redis under %s* (worker %s; a worker silent for %g s "
            "(WDS_WORKER_TIMEOUT) is taken for dead and its calls are done by the others)",
            self.prefix,
            self.worker,
            self.worker_timeout,
        )
        self._say_what_is_there()
        return []

    def _say_what_is_there(self) -> None:
        """One line on what this worker joins: a crawl under way, or one already done."""
        owed, done = self.owed(), int(self.server.scard(self._key("settled")))
        if owed:
            logger.info("Joining a crawl that owes %d WDS calls (%d done already)", owed, done)
        elif done:
            logger.info(
                "The WDS ledger in redis (%s*) holds a crawl that is done (%d calls, nothing "
                "owed): there is nothing to do. Set SCHEDULER_FLUSH_ON_START=True to crawl "
                "afresh",
                self.prefix,
                done,
            )

    def beat(self) -> list[str]:
        """Renew this worker's heartbeat; hand dead workers' claims back to the room."""
        self.server.set(self.heartbeat_key, "1", px=int(self.worker_timeout * 1000))
        gone, moved = self._run("sweep", self.prefix)
        moved = [_text(ticket) for ticket in moved]
        if gone:
            self.stats.inc_value("wds/ledger/taken_over", len(moved))
            logger.info(
                "Worker %s gave no heartbeat for %g s (WDS_WORKER_TIMEOUT): taken for dead; "
                "its %d WDS calls in flight go back to the shared room",
                ", ".join(_text(worker) for worker in gone),
                self.worker_timeout,
                len(moved),
            )
        return moved

    def _beat_safely(self) -> None:
        # An exception would stop the LoopingCall, and the other workers would
        # take this one for dead: log it and beat again next time.
        from redis.exceptions import RedisError

        try:
            self.beat()
        except RedisError as exc:
            logger.warning("WDS ledger: could not renew this worker's heartbeat in redis: %s", exc)
        except Exception:
            logger.exception("WDS ledger: the heartbeat failed")

    def close(self, graceful: bool) -> None:
        """Stop beating and let go of every claim (back into the room, due now)."""
        if self._beating is not None and self._beating.running:
            self._beating.stop()
        self._run("release", self.worker)
        self.server.delete(self.heartbeat_key)
        # Like scrapy-redis's queue and dupefilter without SCHEDULER_PERSIST; but
        # what a crawl that stopped short still owes is kept for the next worker.
        if not self.persist and self.owed() == 0:
            self.flush()

    def flush(self) -> int:
        """Remove the whole ledger from redis (pages known, tickets, room, heartbeats)."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        names = list(self.server.scan_iter(match=pattern, count=1000))
        return int(self.server.delete(*names)) if names else 0

    # -- reading ---------------------------------------------------------------

    def known(self, pages: Sequence[Page]) -> list[bool]:
        if not pages:
            return []
        pipe = self.server.pipeline(transaction=False)
        for job, url in pages:
            pipe.sismember(self._key(f"pages:{job}"), url)
        return [bool(flag) for flag in pipe.execute()]

    def is_settled(self, ticket: str) -> bool:
        return bool(self.server.sismember(self._key("settled"), ticket))

    def is_owed(self, ticket: str) -> bool:
        return bool(self.server.hexists(self._key("owed"), ticket))

    def owed(self) -> int:
        return int(self.server.hlen(self._key("owed")))

    # -- changing --------------------------------------------------------------

    def record(
        self,
        *,
        pages: Sequence[Page] = (),
        issued: Sequence[Owed] = (),
        settled: Sequence[str] = (),
    ) -> list[bool]:
        if not (pages or issued or settled):
            return []
        index: dict[Page, int] = {}
        for position, page in enumerate(pages, start=1):
            index.setdefault(page, position)  # a page listed twice is first seen at its first place
        change = {
            "prefix": self.prefix,
            "pages": [list(page) for page in pages],
            "issued": [
                [
                    owed.ticket,
                    self._data(owed),
                    0 if owed.page is None else index.get(owed.page, -1),
                ]
                for owed in issued
            ],
            "settled": list(settled),
        }
        # cjson reads an empty list as an object: give it nothing instead.
        flags = self._run("record", json.dumps({k: v for k, v in change.items() if v}))
        return [bool(flag) for flag in flags]

    def claim(self, ticket: str) -> bool:
        return bool(self._run("claim", ticket, self.worker))

    def holds(self, ticket: str) -> bool:
        """Whether this worker still holds ``ticket`` (claimed, not taken over, not settled).

        A worker stalled longer than ``WDS_WORKER_TIMEOUT`` is taken for dead
        and its claims pass on; an answer it then receives for one of them
        is dropped by the spider side, or its items would arrive twice.
        """
        return bool(self._run("holds", ticket, self.worker))

    def park(self, owed: Owed) -> None:
        wait = 0.0 if owed.due is None else max(0.0, owed.due - time.time())
        self._run("park", owed.ticket, self._data(owed), repr(wait), self.worker)

    def unpark(self, ticket: str) -> bool:
        return bool(self._run("unpark", ticket))

    def due(self, now: float) -> list[Owed]:
        """Due tickets of the shared room, by the redis server's clock (``now`` is not used)."""
        return self._owed_pairs(self._run("due", BATCH))

    def orphans(self) -> list[Owed]:
        return self._owed_pairs(self._run("orphans", repr(self.orphan_grace), BATCH, self.worker))

    # -- data ------------------------------------------------------------------

    def _data(self, owed: Owed) -> str:
        data = json.dumps(owed.request, separators=(",", ":"), sort_keys=True)
        if any(secret in data for secret in self._secrets):
            raise ValueError(
                f"the WDS request of ticket {owed.ticket} carries a secret WDS_API_HEADERS "
                "value; it is not written to redis (headers are added at download time only)"
            )
        return data

    @staticmethod
    def _owed_pairs(flat: list[Any]) -> list[Owed]:
        return [
            Owed(_text(flat[i]), json.loads(_text(flat[i + 1]))) for i in range(0, len(flat), 2)
        ]
