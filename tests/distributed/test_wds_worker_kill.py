"""Two scrapy-redis workers crawl the books job; one is SIGKILLed at ~40 % and a replacement joins.

What the killed worker owed is done by the others, through the WDS ledger
the workers share in redis:

* its calls in flight, and answers it had not yet turned into follow-ups or
  items, go back to the shared room once its heartbeat expires
  (``WDS_WORKER_TIMEOUT``), and a live worker sends them again;
* its polls parked after a 202 wait in the shared room, not in its memory:
  any live worker sends them when due;
* requests it had taken from the shared queue but not yet sent are owed,
  unclaimed orphans: an idle worker sends them again after
  ``WDS_ORPHAN_GRACE``.

So every book arrives (at most one twice: an item written by the pipelines
a moment before the kill, whose call was not yet settled), and the live
workers end ``finished`` by themselves.  No test extension keeps them open
(``worker_linger.py`` is gone): a worker that finds the shared queue empty
stays open while the shared ledger owes anything.

Items are counted by the example project's pipeline that writes each one
at once (``ITEM_LINES_FILE``): a feed export buffers, and a killed worker's
feed under-counts what it delivered.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from ._workers import Worker, books_job, books_settings, run_workers, start_worker

# Sent on every WDS call as a secret header; must never reach redis or the logs.
SECRET = "wds-secret-token-91d4e7"
#: Books delivered (by both workers) when the first one is killed: ~40 % of 200.
KILL_AT = 80
#: Seconds the first workers may take to deliver KILL_AT books (a bound, not a measure).
PROGRESS_TIMEOUT = 120


def drill_settings() -> dict[str, str]:
    return {
        **books_settings(SECRET),
        # Shorter than the defaults (15 s and 30 s), so the drill does not
        # sit idle waiting for them; the rules are the same.
        "WDS_WORKER_TIMEOUT": "3",
        "WDS_ORPHAN_GRACE": "5",
    }


def books(workers: list[Worker]) -> int:
    return sum(len(worker.appended_items()) for worker in workers)


def kill_at(worker: Worker, running: list[Worker], count: int) -> dict[str, int]:
    """SIGKILL ``worker`` once the ``running`` workers delivered ``count`` books; each one's count then."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while books(running) < count:
        for each in running:
            assert each.process.poll() is None, each.log_file.read_text()[-3000:]
        assert time.monotonic() < deadline, "the workers made no progress"
        time.sleep(0.02)
    worker.kill()
    return {each.name: len(each.appended_items()) for each in running}


def check_every_book_at_most_one_twice(
    workers: list[Worker], truth: list[dict[str, str]]
) -> dict[str, int]:
    """Every book of ``truth`` in the union of the workers' items, at most one twice; count by worker."""
    delivered = {w.name: w.appended_items() for w in workers}
    everything = [item for items in delivered.values() for item in items]
    urls = Counter(item["url"] for item in everything)
    twice = sum(count - 1 for count in urls.values())
    assert twice <= 1, [url for url, count in urls.items() if count > 1]
    unique = {item["url"]: item for item in everything}
    assert sorted(unique.values(), key=lambda item: item["url"]) == truth
    return {name: len(items) for name, items in delivered.items()}


def check_the_end(results: list[Any], wds_emulator: Any, redis_url: str) -> None:
    """Workers finished cleanly; the job started once; nothing owed; no secret in redis."""
    for result in results:
        assert result.stats["finish_reason"] == "finished", result.log[-3000:]
        assert "Traceback" not in result.log, result.log[-5000:]
        assert SECRET not in result.log
    starts = [
        c for c in wds_emulator.calls() if c["path"].endswith("/start") and c["status"] == 200
    ]
    assert len(starts) == 1
    client = redis.Redis.from_url(redis_url)
    assert client.hlen("books:wds:owed") == 0
    for key in client.keys("*"):
        assert SECRET.encode() not in (client.dump(key) or b""), key


def stop_all(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


class Drill:
    """Starts ``books`` workers of one shared crawl; knows the site's truth."""

    def __init__(self, tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str) -> None:
        self.tmp_path, self.redis_url = tmp_path, redis_url
        self.truth, self.env = books_job(wds_emulator, demo_site, SECRET)

    def worker(self, name: str) -> Worker:
        return start_worker(
            "books",
            name,
            self.tmp_path,
            self.redis_url,
            self.env,
            drill_settings(),
            append_items=True,
        )


@pytest.fixture
def drill(tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str) -> Drill:
    # Every task answers "not yet" twice (a 200 whose state is still pending,
    # the documented reading), so at any moment many polls are parked; and a
    # page found again comes back under a new task id, so only the ledger's
    # shared pages keep the workers from following it twice.
    wds_emulator.configure(pending_polls=2, pending_info="200", known_pages="new")
    return Drill(tmp_path, wds_emulator, demo_site, redis_url)


def test_a_killed_worker_is_replaced_and_every_book_arrives(
    drill: Drill, wds_emulator: Any
) -> None:
    killed, survivor = drill.worker("killed"), drill.worker("survivor")
    started = [killed, survivor]
    try:
        at_kill = kill_at(killed, started, KILL_AT)
        replacement = drill.worker("replacement")
        started.append(replacement)
        results = run_workers([survivor, replacement])
    finally:
        stop_all(started)

    counts = check_every_book_at_most_one_twice(started, drill.truth)
    print(f"books at the kill: {at_kill}; delivered in all: {counts}")
    check_the_end(results, wds_emulator, drill.redis_url)
    # The kill landed mid-way, and each worker did part of the work: the
    # survivor delivered books, and so did the killed one before it died.
    assert 0 < counts["killed"] < len(drill.truth)
    assert counts["survivor"] >= 1
    assert counts["survivor"] + counts["replacement"] > at_kill["survivor"], (
        "nobody went on after the kill"
    )
    # The killed worker's calls in flight were taken over (its downloader was
    # full: the shared queue had a backlog when it died).
    assert sum(result.stats.get("wds/ledger/taken_over", 0) for result in results) >= 1


def test_the_only_worker_killed_and_started_again_goes_on_where_it_stopped(
    drill: Drill, wds_emulator: Any
) -> None:
    """No live worker to take over: the new one finds the dead one's claims, room and orphans."""
    killed = drill.worker("killed")
    started = [killed]
    try:
        kill_at(killed, started, KILL_AT)
        again = drill.worker("again")
        started.append(again)
        results = run_workers([again])
    finally:
        stop_all(started)

    counts = check_every_book_at_most_one_twice(started, drill.truth)
    print(
        f"delivered: {counts}; the second worker's ledger stats: "
        f"{ {k: v for k, v in results[0].stats.items() if k.startswith('wds/ledger/')} }"
    )
    check_the_end(results, wds_emulator, drill.redis_url)
    assert 0 < counts["killed"] < len(drill.truth)
    assert results[0].stats.get("wds/jobs/already_started") == 1
    assert results[0].stats.get("wds/ledger/taken_over", 0) >= 1


def test_a_worker_stalled_past_the_timeout_gives_no_book_twice(
    drill: Drill, wds_emulator: Any
) -> None:
    """SIGSTOP, then SIGCONT: a worker taken for dead comes back with answers that are no longer its own.

    Its calls went to the other worker meanwhile; its late answers are
    dropped (``wds/ledger/answers_dropped``) and its "not yet" answers cannot
    park a call away from the worker that took it over.
    """
    stalled, other = drill.worker("stalled"), drill.worker("other")
    started = [stalled, other]
    try:
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        while books(started) < KILL_AT:
            assert time.monotonic() < deadline, "the workers made no progress"
            time.sleep(0.02)
        os.kill(stalled.process.pid, signal.SIGSTOP)
        # Long enough for its heartbeat (WDS_WORKER_TIMEOUT = 3 s) to expire
        # and the other worker's next beat to take its calls over.
        time.sleep(8)
        os.kill(stalled.process.pid, signal.SIGCONT)
        results = run_workers(started)
    finally:
        stop_all(started)

    counts = check_every_book_at_most_one_twice(started, drill.truth)
    dropped = results[0].stats.get("wds/ledger/answers_dropped", 0)
    print(f"delivered: {counts}; answers the stalled worker dropped: {dropped}")
    check_the_end(results, wds_emulator, drill.redis_url)
    assert results[1].stats.get("wds/ledger/taken_over", 0) >= 1
    assert dropped >= 1
