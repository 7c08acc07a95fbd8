"""Several scrapy-redis workers, one crawl: which worker runs which HasData job.

Every worker declares the same jobs; the records in redis
(:class:`~._shared_state.SharedJobStore`) make sure each job is submitted
and delivered by one of them only.  This module is what the extension does
with that store:

* at spider open, connect to redis (and, on ``SCHEDULER_FLUSH_ON_START``,
  forget the jobs a previous crawl finished);
* before running a job, claim it — or watch it while another worker owns it,
  ready to take it over should that worker stop;
* while the crawl runs, renew the claims (the heartbeat), so they expire
  only when this worker dies;
* when a job is drained, let its claim go.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.settings import BaseSettings
from twisted.internet.task import LoopingCall

from scrapy_wds._hasdata._runner import JobRunner
from scrapy_wds._hasdata._settings import HasDataSettings
from scrapy_wds._hasdata._shared_state import SharedJobStore
from scrapy_wds._hasdata._state import HasDataStateError

logger = logging.getLogger(__name__)

#: Shortest wait between two looks at a job another worker owns (scrapy-redis).
WATCH_MIN_INTERVAL = 0.05


class WorkerClaims:
    """This worker's claims on the crawl's jobs, kept alive and let go in time."""

    def __init__(self, store: SharedJobStore, settings: HasDataSettings) -> None:
        self.store = store
        self.settings = settings
        self._heartbeat: LoopingCall | None = None

    @classmethod
    def connect(
        cls,
        crawler_settings: BaseSettings,
        spider_name: str,
        settings: HasDataSettings,
        keys: list[str],
    ) -> WorkerClaims:
        """The crawl's shared job records; :class:`HasDataStateError` if redis is unusable."""
        from redis.exceptions import RedisError

        store = SharedJobStore.from_settings(crawler_settings, spider_name, settings.claim_ttl)
        if crawler_settings.getbool("SCHEDULER_FLUSH_ON_START"):
            try:
                forgotten = store.forget_drained(keys)
            except RedisError as exc:
                raise HasDataStateError(
                    f"HasData: cannot reach redis to share the jobs between workers ({exc}); "
                    "check REDIS_URL (or REDIS_HOST / REDIS_PORT)"
                ) from None
            if forgotten:
                logger.info(
                    "HasData: SCHEDULER_FLUSH_ON_START: %d finished job(s) forgotten", forgotten
                )
        return cls(store, settings)

    def start_heartbeat(self, reactor: Any) -> None:
        # A third of the TTL: two beats may be missed (a stalled reactor, a
        # slow redis) before the claim expires and another worker takes over.
        self._heartbeat = LoopingCall(self.store.renew)
        self._heartbeat.clock = reactor
        self._heartbeat.start(self.settings.claim_ttl / 3, now=False)

    def stop_heartbeat(self) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()

    async def claim_or_watch(self, runner: JobRunner) -> bool:
        """True once this worker owns the job; False if another worker delivered it."""
        from twisted.internet import reactor

        interval = max(WATCH_MIN_INTERVAL, self.settings.poll_first_delay)
        record = await self.store.claim_or_watch(
            runner.job, self.settings.api_url, interval, reactor
        )
        if record is None:
            runner.record.drained = True
            return False
        runner.adopt(record)
        return True

    def runs_here(self, key: str) -> bool:
        """Whether this worker owns job ``key`` (only the owner stops, delivers, reports it)."""
        return self.store.owns(key)

    def release(self, key: str) -> None:
        """The job is drained: let its claim go at once rather than at expiry."""
        self.store.release(key)
