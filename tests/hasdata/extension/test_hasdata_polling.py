"""Polling pace, counted on a fake clock: never faster than the interval, backing off."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from hasdata_runner_support import runner_for
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import reactor as real_reactor
from twisted.internet.task import Clock, deferLater

from scrapy_wds._hasdata._runner import JobRunner


class ScriptedClient:
    """Answers status polls from a script and notes the (fake) time of each."""

    def __init__(self, clock: Clock, script: list[dict[str, Any]]) -> None:
        self.clock, self.script, self.times = clock, script, []  # type: ignore[var-annotated]

    async def status(self, job_id: str) -> dict[str, Any]:
        self.times.append(self.clock.seconds())
        return self.script[len(self.times) - 1]


async def run_on_clock(runner: JobRunner, clock: Clock) -> None:
    waiting = deferred_from_coro(runner._wait_until_terminal(poll_now=False))
    for _ in range(5000):
        if waiting.called:
            break
        clock.advance(0.5)
        await deferLater(real_reactor, 0, lambda: None)  # let the runner's task step
    assert waiting.called, "the job never reached a terminal status"
    await waiting


@pytest_twisted.ensureDeferred
async def test_default_pace_is_at_least_ten_seconds_and_backs_off() -> None:
    clock = Clock()
    script = [{"status": "in_progress", "dataRowsCount": 0}] * 5 + [{"status": "finished"}]
    client = ScriptedClient(clock, script)
    await run_on_clock(runner_for(client, clock), clock)
    assert len(client.times) == 6
    gaps = [b - a for a, b in zip([0.0, *client.times], client.times)]
    assert all(gap >= 10 for gap in gaps)  # never faster than HasData asks
    assert all(gap <= 60.5 for gap in gaps)  # capped
    assert gaps[4] > gaps[0]  # nothing changed: the wait grew


@pytest_twisted.ensureDeferred
async def test_progress_resets_the_backoff_and_strings_are_numbers() -> None:
    clock = Clock()
    script = [{"status": "in_progress", "dataRowsCount": "0"}] * 4 + [
        {"status": "in_progress", "dataRowsCount": "5"},
        {"status": "in_progress", "dataRowsCount": "9"},
        {"status": "stopped", "dataRowsCount": "9", "creditsSpent": "9"},
    ]
    client = ScriptedClient(clock, script)
    runner = runner_for(client, clock, HASDATA_POLL_FIRST_DELAY=2, HASDATA_POLL_MAX_DELAY=30)
    await run_on_clock(runner, clock)
    gaps = [b - a for a, b in zip([0.0, *client.times], client.times)]
    assert all(gap >= 2 for gap in gaps)
    assert gaps[5] < gaps[4]  # rows appeared: back to the short interval
    assert runner.record.rows_total == 9 and runner.record.credits_spent == 9.0
    assert runner.terminal


class StoppableClient(ScriptedClient):
    """Answers ``status_word`` until DELETE, then ``stopped``; counts the DELETEs."""

    def __init__(self, clock: Clock, status_word: str, credits: list[int] | None = None) -> None:
        super().__init__(clock, [])
        self.word, self.deletes, self.credits = status_word, 0, credits or []

    async def status(self, job_id: str) -> dict[str, Any]:
        self.times.append(self.clock.seconds())
        spent = self.credits[min(len(self.times), len(self.credits)) - 1] if self.credits else 0
        word = "stopped" if self.deletes else self.word
        return {"status": word, "dataRowsCount": spent, "creditsSpent": spent}

    async def stop(self, job_id: str) -> None:
        self.deletes += 1


@pytest_twisted.ensureDeferred
async def test_an_unknown_status_forever_ends_at_the_job_timeout(caplog: Any) -> None:
    clock = Clock()
    client = StoppableClient(clock, "completed")
    runner = runner_for(client, clock, HASDATA_JOB_TIMEOUT=600)
    await run_on_clock(runner, clock)
    assert client.deletes == 1 and runner.timed_out and runner.record.status == "stopped"
    assert 600 <= client.times[-2] <= 600 + 60.5  # the poll that saw the deadline
    unknown = [r for r in caplog.records if "unknown status 'completed'" in r.getMessage()]
    assert len(unknown) == 1 and unknown[0].levelname == "WARNING"


@pytest_twisted.ensureDeferred
async def test_the_credit_cap_stops_the_job_at_the_first_answer_past_it() -> None:
    from scrapy_wds._hasdata._spending import SpendGuard

    clock = Clock()
    client = StoppableClient(clock, "in_progress", credits=[0, 3, 8, 20, 40])
    guard = SpendGuard(5)
    runner = runner_for(client, clock, guard=guard)
    await run_on_clock(runner, clock)
    assert guard.exhausted and client.deletes == 1
    assert len(client.times) == 4  # 0, 3, 8 (past 5: DELETE), then the stopped status
