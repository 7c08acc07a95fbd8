"""Job records kept in redis, so that several scrapy-redis workers run each job once.

Every worker of a scrapy-redis crawl declares the same jobs.  Without
coordination each would submit (and pay for) every job and deliver every
row.  Here each job is *claimed* in redis instead; one worker at a time owns
it, and the others leave it alone:

* ``<spider>:hasdata:<job key>:claim`` — the owner's token, set with
  ``SET NX PX``: the first worker to set it owns the job.  It expires after
  ``HASDATA_CLAIM_TTL`` seconds unless the owner renews it (the heartbeat,
  every third of that), so a worker that dies (SIGKILL, lost machine) lets
  another one take the job over;
* ``<spider>:hasdata:<job key>`` — the job's record as JSON (id, status,
  pages done, counts, ``drained``), the same fields as in the state file;
* ``<spider>:hasdata:<job key>:rows`` — the job's delivery ledger, one JSON
  entry per row handled, as in the state file's ``.rows`` side file.

The owner writes the record when the state file would be written, and one
ledger entry per row as it goes through.  Every write checks, in
the same redis script, that the writer still holds the claim: a worker whose
claim expired (it was stalled longer than the TTL) can no longer write and
stops at once (:class:`ClaimLost`).  A worker that takes a job over reads the
record and the rows list back: a job with an id is polled, never submitted
again, and the rows already handled are not delivered again.

Records outlive the crawl: a drained record tells a worker that starts later
that the job is done.  ``SCHEDULER_FLUSH_ON_START`` removes the drained ones,
never a record that is claimed or not yet drained.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.task import deferLater

from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._state import JobRecord, parse_entry, record_from_dict, record_to_dict

logger = logging.getLogger(__name__)

SCRAPY_REDIS_SCHEDULER = "scrapy_redis.scheduler.Scheduler"

# KEYS[1] = claim, KEYS[2] = target; ARGV = token, operation, value.
# Checking the claim and writing in one script: no write after the claim
# passed to another worker, however long this one was stalled.
_FENCED_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'set' then redis.call('SET', KEYS[2], ARGV[3])
elseif ARGV[2] == 'push' then redis.call('RPUSH', KEYS[2], ARGV[3])
elseif ARGV[2] == 'renew' then redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[2] == 'release' then redis.call('DEL', KEYS[1]) end
return 1
"""


class ClaimLost(Exception):
    """This worker no longer owns the job: another worker has taken it over."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the claim on HasData job {key!r} passed to another worker")
        self.key = key


def uses_scrapy_redis(settings: BaseSettings) -> bool:
    """Whether the crawl's scheduler is scrapy-redis's (or a subclass of it)."""
    scheduler = settings.get("SCHEDULER")
    if not scheduler:
        return False
    try:
        scheduler_class = load_object(scheduler) if isinstance(scheduler, str) else scheduler
    except (ImportError, AttributeError, ValueError, NameError):
        return False  # Scrapy itself reports an unloadable SCHEDULER
    # A scheduler built on scrapy-redis's has imported it; any other crawl
    # does not pay for importing scrapy-redis and redis (a third of a second).
    module = sys.modules.get("scrapy_redis.scheduler")
    return (
        module is not None
        and isinstance(scheduler_class, type)
        and issubclass(scheduler_class, module.Scheduler)
    )


class SharedJobStore:
    """The crawl's job records in redis, written only by the worker that owns each job.

    Offers what :class:`~._state.StateFile` offers (:class:`~._store.JobStore`) plus the
    claims: :meth:`try_claim`, :meth:`drained_elsewhere`, :meth:`renew`,
    :meth:`release`.
    """

    def __init__(self, server: Any, spider_name: str, claim_ttl: float) -> None:
        self.server = server
        self.prefix = f"{spider_name}:hasdata:"
        #: Named in log lines where a state file's path would be.
        self.path = f"redis keys {self.prefix}*"
        self.claim_ttl_ms = max(1, int(claim_ttl * 1000))
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.jobs: dict[str, JobRecord] = {}
        self._entries: dict[str, list[list[Any]]] = {}
        self._owned: set[str] = set()
        self._script = server.register_script(_FENCED_WRITE)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, spider_name: str, claim_ttl: float
    ) -> SharedJobStore:
        from scrapy_redis.connection import get_redis_from_settings

        return cls(get_redis_from_settings(settings), spider_name, claim_ttl)

    # -- keys ----------------------------------------------------------------

    def _record_key(self, key: str) -> str:
        return self.prefix + key

    def _claim_key(self, key: str) -> str:
        return self.prefix + key + ":claim"

    def _rows_key(self, key: str) -> str:
        return self.prefix + key + ":rows"

    # -- what StateFile offers -----------------------------------------------

    def record(self, key: str, scraper: str, api_url: str) -> JobRecord:
        """A local stand-in until the job is claimed (:meth:`try_claim` loads the real one)."""
        known = self.jobs.get(key)
        if known is None:
            known = self.jobs[key] = JobRecord(scraper=scraper, api_url=api_url)
        return known

    def row_entries(self, key: str) -> list[list[Any]]:
        return self._entries.pop(key, [])

    def append_row(self, key: str, entry: list[Any]) -> None:
        self._write(key, self._rows_key(key), "push", json.dumps(entry, separators=(",", ":")))

    def save_job(self, key: str) -> None:
        if key in self._owned:
            record = json.dumps(record_to_dict(self.jobs[key]), separators=(",", ":"))
            self._write(key, self._record_key(key), "set", record)

    def save(self) -> None:
        for key in list(self._owned):
            try:
                self.save_job(key)
            except ClaimLost:
                pass  # closing anyway: the new owner has the record

    def clear(self) -> None:
        """The crawl finished: keep the records (they tell later workers the jobs are done)."""
        self.save()

    def close(self) -> None:
        """Let go of every claim, so another worker can take unfinished jobs over at once."""
        for key in list(self._owned):
            self.release(key)

    # -- claims --------------------------------------------------------------

    def try_claim(self, key: str, scraper: str, api_url: str) -> JobRecord | None:
        """Own job ``key`` if no live worker does; its record (read back from redis) or None."""
        got = self.server.set(self._claim_key(key), self.token, nx=True, px=self.claim_ttl_ms)
        if not got:
            return None
        self._owned.add(key)
        self._entries.pop(key, None)
        record = self._load(key)
        if record is not None and (
            record.api_url not in (None, api_url) or record.scraper != scraper
        ):
            logger.warning(
                "HasData job %r: the record in redis (%s) was made for %s (%s), not %s (%s); "
                "starting it afresh",
                key,
                self._record_key(key),
                record.api_url,
                record.scraper,
                api_url,
                scraper,
            )
            record = None
            self._entries.pop(key, None)
            self.server.delete(self._rows_key(key))
        if record is None:
            record = JobRecord(scraper=scraper, api_url=api_url)
        self.jobs[key] = record
        return record

    async def claim_or_watch(
        self, job: HasDataJob, api_url: str, interval: float, reactor: Any
    ) -> JobRecord | None:
        """Wait until this worker owns the job (its record) or another one has drained it (None).

        The owner's claim expires if it dies, so a watching worker (or a
        restarted one) takes the job over and goes on from its record.
        """
        told = False
        while True:
            record = self.try_claim(job.key, job.scraper, api_url)
            if record is not None and not record.drained:
                return record
            if record is not None or self.drained_elsewhere(job.key):
                self.release(job.key)
                logger.info("HasData job %r: delivered by another worker", job.key)
                return None
            if not told:
                told = True
                logger.info(
                    "HasData job %r: another worker owns it (%s); this worker neither submits "
                    "nor delivers it, and takes it over should that worker stop",
                    job.key,
                    self.path,
                )
            await maybe_deferred_to_future(deferLater(reactor, interval, lambda: None))

    def check_claim(self, key: str) -> None:
        """Raise :class:`ClaimLost` if the heartbeat found the claim on ``key`` gone."""
        if key not in self._owned:
            raise ClaimLost(key)

    def owns(self, key: str) -> bool:
        return key in self._owned

    def drained_elsewhere(self, key: str) -> bool:
        record = self._load_record(key)
        return record is not None and record.drained

    def renew(self) -> None:
        """The heartbeat: extend every claim still held; forget the ones that passed on."""
        from redis.exceptions import RedisError

        for key in list(self._owned):
            claim = self._claim_key(key)
            try:
                renewed = self._script(
                    keys=[claim, claim], args=[self.token, "renew", self.claim_ttl_ms]
                )
            except RedisError as exc:
                # Redis may come back before the claim expires; the next
                # beat tries again, and fenced writes fail if it does not.
                logger.warning(
                    "HasData: could not renew the claim on job %r in redis: %s", key, exc
                )
                continue
            if not renewed:
                self._owned.discard(key)

    def release(self, key: str) -> None:
        if key in self._owned:
            self._owned.discard(key)
            claim = self._claim_key(key)
            self._script(keys=[claim, claim], args=[self.token, "release", ""])

    def forget_drained(self, keys: list[str]) -> int:
        """Remove the drained, unclaimed records of ``keys`` (a fresh crawl); how many."""
        forgotten = 0
        for key in keys:
            if self.server.exists(self._claim_key(key)) or not self.drained_elsewhere(key):
                continue  # a live claim or an unfinished job: never throw its id away
            self.server.delete(self._record_key(key), self._rows_key(key))
            forgotten += 1
        return forgotten

    # -- internals -------------------------------------------------------------

    def _write(self, key: str, target: str, operation: str, value: str) -> None:
        if key not in self._owned or not self._script(
            keys=[self._claim_key(key), target], args=[self.token, operation, value]
        ):
            self._owned.discard(key)
            raise ClaimLost(key)

    def _load_record(self, key: str) -> JobRecord | None:
        raw = self.server.get(self._record_key(key))
        if raw is None:
            return None
        try:
            return record_from_dict(json.loads(raw))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"the HasData record {self._record_key(key)!r} in redis is damaged ({exc}); "
                "it holds the id of a job already paid for - repair it, or delete it (and "
                f"{self._rows_key(key)!r}) to submit the job again"
            ) from None

    def _load(self, key: str) -> JobRecord | None:
        record = self._load_record(key)
        if record is None:
            return None
        entries = [parse_entry(raw) for raw in self.server.lrange(self._rows_key(key), 0, -1)]
        self._entries[key] = [entry for entry in entries if entry is not None]
        return record
