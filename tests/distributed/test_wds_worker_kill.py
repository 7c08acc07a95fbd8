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
  ``WDS_ORPHAN_GRACE``, although the shared dupefilter has their fingerprints.

So every book arrives (at most one twice: an item written by the pipelines
a moment before the kill, whose call was not yet settled), and the live
workers end ``finished`` by themselves.  No test extension keeps them open
(``worker_linger.py`` is gone): a worker that finds the shared queue empty
stays open while the shared ledger owes anything.

Items are counted by a pipeline that writes each one at once
(``append_items.py``): a feed export buffers, and a killed worker's feed
under-counts what it delivered.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from ._workers import Worker, run_workers, start_worker

# Sent on every WDS call as a secret header; must never reach redis or the logs.
SECRET = "wds-secret-token-91d4e7"
#: Books delivered (by both workers) when the first one is killed: ~40 % of 200.
KILL_AT = 80
#: Seconds the first workers may take to deliver KILL_AT books (a bound, not a measure).
PROGRESS_TIMEOUT = 120


def drill_settings() -> dict[str, str]:
    return {
        # Plain pickle, plus a check that no queued request carries the secret header.
        "SCHEDULER_SERIALIZER": "secret_checking_pickle",
        "WDS_API_HEADERS": json.dumps({"X-Tenant-Id": "default", "Authorization": f"Bearer {SECRET}"}),
        # A small pace per worker, so the crawl is still mid-way when the
        # kill lands and each worker takes a share of the shared queue.
        "DOWNLOAD_SLOTS": json.dumps({"127.0.0.1": {"delay": 0.02, "concurrency": 16}}),
        # Shorter than the defaults (15 s and 30 s), so the drill does not
        # sit idle waiting for them; the rules are the same.
        "WDS_WORKER_TIMEOUT": "3",
        "WDS_ORPHAN_GRACE": "5",
    }


def books(workers: list[Worker]) -> int:
    return sum(len(worker.appended_items()) for worker in workers)


def test_a_killed_worker_is_replaced_and_every_book_arrives(
    tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    # Every task answers "not yet" twice, so at any moment many polls are parked.
    wds_emulator.configure(pending_polls=2)
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        truth = json.load(answer)
    env = {"WDS_API_URL": wds_emulator.url, "DEMO_SITE_URL": demo_site.url, "WATCHED_SECRET": SECRET}

    def worker(name: str) -> Worker:
        return start_worker("books", name, tmp_path, redis_url, env, drill_settings(), append_items=True)

    killed, survivor = worker("killed"), worker("survivor")
    started = [killed, survivor]
    try:
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        while books(started) < KILL_AT:
            for running in started:
                assert running.process.poll() is None, running.log_file.read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers made no progress"
            time.sleep(0.02)
        killed.kill()
        at_kill = {w.name: len(w.appended_items()) for w in started}
        replacement = worker("replacement")
        started.append(replacement)
        results = run_workers([survivor, replacement])
    finally:
        for running in started:
            if running.process.poll() is None:
                running.process.kill()
                running.process.wait()

    delivered = {w.name: w.appended_items() for w in started}
    counts = {name: len(items) for name, items in delivered.items()}
    print(f"books at the kill: {at_kill}; delivered in all: {counts}")
    for result in results:
        assert result.stats["finish_reason"] == "finished", result.log[-3000:]
        assert "Traceback" not in result.log, result.log[-5000:]
        assert SECRET not in result.log

    # Every book, at most one twice.
    everything = [item for items in delivered.values() for item in items]
    urls = Counter(item["url"] for item in everything)
    twice = sum(count - 1 for count in urls.values())
    assert twice <= 1, [url for url, count in urls.items() if count > 1]
    unique = {item["url"]: item for item in everything}
    assert sorted(unique.values(), key=lambda item: item["url"]) == truth

    # The kill landed mid-way, and each worker did part of the work: the
    # survivor delivered books, and so did the killed one before it died.
    assert 0 < counts["killed"] < len(truth)
    assert counts["survivor"] >= 1
    assert counts["survivor"] + counts["replacement"] > at_kill["survivor"], "nobody went on after the kill"

    # The job was started once; nothing is owed any more; no secret in redis.
    starts = [c for c in wds_emulator.calls() if c["path"].endswith("/start") and c["status"] == 200]
    assert len(starts) == 1
    client = redis.Redis.from_url(redis_url)
    assert client.hlen("books:wds:owed") == 0
    for key in client.keys("*"):
        assert SECRET.encode() not in (client.dump(key) or b""), key
