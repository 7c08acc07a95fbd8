"""The webhook receiver wired to the crawl's job runners.

HasData calls the receiver (:mod:`._webhooks`) with row batches and a
"finished" event; this module hands each to the runner of that job id: rows
are delivered at once (paging still reads every row after the job ends, so a
lost batch loses nothing), and "finished" wakes the runner from its poll
wait.  It also builds the ``webhook`` block every submitted job carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import CancelledError, Deferred

from scrapy_wds._hasdata._delivery import CrawlClosing
from scrapy_wds._hasdata._runner import JobRunner
from scrapy_wds._hasdata._settings import WEBHOOK_EVENTS, HasDataSettings
from scrapy_wds._hasdata._shared_state import ClaimLost

logger = logging.getLogger(__name__)


class WebhookBridge:
    def __init__(
        self,
        settings: HasDataSettings,
        secret: str,
        runners: Callable[[], list[JobRunner]],
        runs_here: Callable[[JobRunner], bool],
        nudge_engine: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.secret = secret
        self._runners = runners
        self._runs_here = runs_here
        self._nudge_engine = nudge_engine
        self._receiver: Any = None
        self._url: str | None = None

    def start(self) -> None:
        """Listen; raises ``OSError`` / ``CannotListenError`` / ``ValueError`` if it cannot."""
        from scrapy_wds._hasdata._webhooks import WebhookReceiver

        self._receiver = WebhookReceiver(
            secret=self.secret,
            max_body=self.settings.webhook_max_body,
            is_known_job=self._known,
            on_rows=self._on_rows,
            on_finished=self._on_finished,
            host=self.settings.webhook_host,
            port=self.settings.webhook_port,
        )
        own_url = self._receiver.start()
        # Behind a tunnel or proxy HasData must call another address.
        self._url = self.settings.webhook_public_url or own_url

    def block(self) -> dict[str, Any] | None:
        """The ``webhook`` block of a submitted job; None while no receiver listens."""
        if self._url is None:
            return None
        return {
            "url": self._url,
            "events": list(WEBHOOK_EVENTS),
            "headers": {"X-Webhook-Secret": self.secret},
        }

    async def close(self, count: Callable[[str, int], None]) -> None:
        """Record what the receiver saw in the stats, then stop listening."""
        if self._receiver is None:
            return
        for outcome, seen in self._receiver.counts.items():
            count(f"hasdata/webhook/{outcome}", seen)
        stopping = self._receiver.stop()
        if isinstance(stopping, Deferred):
            await maybe_deferred_to_future(stopping)

    # -- the receiver's callbacks ----------------------------------------------

    def _runner_by_id(self, job_id: str) -> JobRunner | None:
        for runner in self._runners():
            if runner.record.job_id == job_id:
                return runner
        return None

    def _known(self, job_id: str) -> bool:
        return self._runner_by_id(job_id) is not None

    def _on_rows(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        runner = self._runner_by_id(job_id)
        if runner is None or not rows:
            return
        if not self._runs_here(runner):
            return  # another worker delivers this job now (its paging covers these rows)
        delivering = deferred_from_coro(runner.deliver_webhook_rows(rows))
        delivering.addErrback(self._delivery_failed, runner)
        # The batch kept the scraper busy; if the last job ended meanwhile,
        # the engine would only notice at its next heartbeat.
        delivering.addBoth(self._nudge_after)

    def _nudge_after(self, result: Any) -> Any:
        self._nudge_engine()
        return result

    def _delivery_failed(self, failure: Any, runner: JobRunner) -> None:
        if not failure.check(CrawlClosing, CancelledError, ClaimLost):
            logger.error(
                "HasData job %s: webhook rows not delivered: %s",
                runner.label,
                failure.getErrorMessage(),
            )
        # Paging reads every row again after the job ends: nothing is lost.

    def _on_finished(self, job_id: str) -> None:
        runner = self._runner_by_id(job_id)
        if runner is not None:
            runner.wake()
