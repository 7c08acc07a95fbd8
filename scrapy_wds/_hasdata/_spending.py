"""The crawl's credit cap, shared by every job runner.

Each runner reports its job's ``creditsSpent`` on every status answer; the
first report that brings the crawl's total to ``HASDATA_MAX_CREDITS`` marks
the crawl *exhausted* and wakes every runner, so each stops its own job at
once instead of at its next (backed-off) poll.  The overshoot is what the
jobs spend within one poll interval.  Nothing is submitted once the crawl is
exhausted or closing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

CLOSE_CREDIT_LIMIT = "hasdata_credit_limit"


class SpendGuard:
    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.exhausted = False
        #: Set when the spider closes: a job not submitted by then never is.
        self.closing = False
        self._spent: dict[str, float] = {}
        self._wakers: list[Callable[[], None]] = []

    @property
    def spent(self) -> float:
        return sum(self._spent.values())

    def may_submit(self) -> bool:
        return not (self.exhausted or self.closing)

    def on_exhausted(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` when the cap is reached (a runner's "poll now")."""
        self._wakers.append(wake)

    def note_spent(self, job_key: str, credits: float) -> None:
        self._spent[job_key] = credits
        if self.limit is None or self.exhausted or self.spent < self.limit:
            return
        self.exhausted = True
        logger.warning(
            "HasData: %g credits spent, HASDATA_MAX_CREDITS is %g; stopping the jobs still "
            "running (the rows they made are still delivered), then closing (%s)",
            self.spent,
            self.limit,
            CLOSE_CREDIT_LIMIT,
        )
        for wake in self._wakers:
            wake()
