"""The job start waits for the API; a start that fails ends the crawl with a reason.

Every other call gives up after ``WDS_RETRY_TIMES`` retries.  The job start
is different: nothing else can happen without it, and a WDS server that is
restarting (or a deployment where the crawl starts first) comes back within
seconds.  So the start keeps retrying failed connections, 5xx answers and
malformed answers for ``WDS_START_PATIENCE`` seconds; when it fails for good,
the crawl closes with ``wds_unreachable`` (or ``wds_bad_config`` when the
server refused the start: a wrong path, headers or job config) instead of
ending ``finished`` with nothing done.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy import Request

from scrapy_wds._wds._config_check import BAD_CONFIG_REASON, UNREACHABLE_REASON, close_spider
from scrapy_wds._wds._errors import WdsBadAnswer, WdsError, WdsServerError
from scrapy_wds._wds._settings import WdsSettings
from scrapy_wds._wds._task import META_KEY

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

#: Request meta key (under ``meta["wds"]``) of the first failed try of a start.
_SINCE = "failing_since"


def _is_start(request: Request) -> bool:
    return request.meta[META_KEY].get("action") == "start"


class RetryBudget:
    """How long a failing call may still be retried: a count, or the start's patience."""

    def __init__(self, request: Request, settings: WdsSettings, retries: int) -> None:
        self.settings = settings
        self.retries = retries
        self.is_start = _is_start(request)
        self.since = float(request.meta[META_KEY].get(_SINCE, time.time()))

    @property
    def elapsed(self) -> float:
        return time.time() - self.since

    def ran_out(self) -> bool:
        if self.is_start:
            return self.elapsed >= self.settings.start_patience
        return self.retries >= self.settings.retry_times

    def failing_text(self) -> str:
        if self.is_start:
            # No count or duration here: the line stays the same from run to run.
            return f"still failing when WDS_START_PATIENCE ({self.settings.start_patience:g} s) ran out"
        return f"still failing after {self.retries} retries (WDS_RETRY_TIMES = {self.settings.retry_times})"

    def limit_text(self) -> str:
        """The cap shown in the retry log line."""
        if self.is_start:
            return f"within WDS_START_PATIENCE = {self.settings.start_patience:g} s"
        return f"of {self.settings.retry_times}"

    def cap(self, delay: float) -> float:
        """The start's last try lands at the end of its patience, never after it."""
        if not self.is_start:
            return delay
        return max(0.0, min(delay, self.settings.start_patience - self.elapsed))

    def bookkeeping(self) -> dict[str, float]:
        return {_SINCE: self.since} if self.is_start else {}


def close_after_failed_start(crawler: Crawler, request: Request, error: WdsError) -> None:
    """A failed job start leaves the crawl nothing to do: close it, saying why."""
    if not _is_start(request):
        return
    server_trouble = isinstance(error, (WdsServerError, WdsBadAnswer))
    reason = UNREACHABLE_REASON if server_trouble else BAD_CONFIG_REASON
    if crawler.stats is not None:
        crawler.stats.set_value(f"wds/refused/{reason}", 1)
    close_spider(crawler, reason)
