"""Polling pace, counted on a fake clock: never faster than the interval, backing off."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import reactor as real_reactor
from twisted.internet.task import Clock, deferLater

from scrapy_wds import HasDataJob
from scrapy_wds._hasdata._runner import JobRunner, RunnerContext
from scrapy_wds._hasdata._settings import HasDataSettings
from scrapy_wds._hasdata._state import JobRecord


class ScriptedClient:
    """Answers status polls from a script and notes the (fake) time of each."""

    def __init__(self, clock: Clock, script: list[dict[str, Any]]) -> None:
        self.clock, self.script, self.times = clock, script, []  # type: ignore[var-annotated]

    async def status(self, job_id: str) -> dict[str, Any]:
        self.times.append(self.clock.seconds())
        return self.script[len(self.times) - 1]


def runner_for(client: ScriptedClient, clock: Clock, **settings: Any) -> JobRunner:
    context = RunnerContext(
        client=client,  # type: ignore[arg-type]
        settings=HasDataSettings.from_settings(Settings({"HASDATA_API_KEY": "k", **settings})),
        pusher=None,  # type: ignore[arg-type]
        save_state=lambda key: None,
        append_rows=lambda key, progress: None,
        count=lambda name, n: None,
        on_status=lambda runner: None,
        webhook_block=lambda: None,
        may_submit=lambda: True,
        reactor=clock,
    )
    return JobRunner(HasDataJob("crawler", {}), JobRecord("crawler", job_id="7"), context)


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
    runner = runner_for(client, clock, HASDATA_POLL_INTERVAL=2, HASDATA_POLL_MAX_INTERVAL=30)
    await run_on_clock(runner, clock)
    gaps = [b - a for a, b in zip([0.0, *client.times], client.times)]
    assert all(gap >= 2 for gap in gaps)
    assert gaps[5] < gaps[4]  # rows appeared: back to the short interval
    assert runner.record.rows_total == 9 and runner.record.credits_spent == 9.0
    assert runner.terminal
