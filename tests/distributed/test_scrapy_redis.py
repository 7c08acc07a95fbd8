"""``scrapy crawl`` workers of the example project sharing one scrapy-redis scheduler.

Two ``books`` workers must give every book once; this proves that

* WDS requests (job start, task follow-ups, crawls, scrape-multiple, and the
  polls the middleware parks after a 202) pickle into redis and come out in
  another process working: requests cross from one worker to the other;
* the shared dupefilter lets the job start through once, and the shared
  ledger follows each task once and sends each call once, across both workers;
* the union of both feeds is exactly the demo site's truth, no book twice;
* the secret WDS header never reaches redis (checked on every request the
  workers pickle, see ``secret_checking_pickle.py``) nor the logs.

The workers end by themselves, with nothing but the package to keep them
open: the books spider is a plain spider, and a worker that finds the shared
queue empty stays open while the WDS ledger the workers share in redis owes
anything (polls parked by the other worker, or the job start the other one
is sending).  ``CLOSESPIDER_TIMEOUT`` bounds the run should anything hang.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from ._workers import books_job, books_settings, run_workers, start_worker

# Sent on every WDS call as a secret header; must never reach redis or the logs.
SECRET = "wds-secret-token-5f2c9a"


def test_two_workers_share_the_books_job_through_redis(
    tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    # Every task answers "not yet" first, so each one's follow-up is parked by
    # a worker's middleware and goes back through the shared queue.
    wds_emulator.configure(pending_polls=1)
    truth, env = books_job(wds_emulator, demo_site, SECRET)

    workers = [
        start_worker("books", name, tmp_path, redis_url, env, books_settings(SECRET))
        for name in "ab"
    ]
    results = run_workers(workers)

    stats = [result.stats for result in results]
    for result in results:
        assert result.stats["finish_reason"] == "finished", result.log[-3000:]
        assert "Traceback" not in result.log, result.log[-5000:]
        assert SECRET not in result.log

    # Nothing lost, nothing twice, across both workers.
    all_items = [item for result in results for item in result.items]
    urls = Counter(item["url"] for item in all_items)
    assert [url for url, count in urls.items() if count > 1] == []
    assert sorted(all_items, key=lambda item: item["url"]) == truth

    # Both workers worked: each took requests out of redis, called WDS and
    # delivered books (the download pace above makes this hold run after run:
    # the split was 95-105 books each in repeated runs on 2 cores).
    for result, worker in zip(results, workers):
        assert result.stats.get("scheduler/dequeued/redis", 0) >= 1, worker.name
        assert sum(v for k, v in result.stats.items() if k.startswith("wds/calls/")) >= 1, (
            worker.name
        )
        assert len(result.items) >= 1, f"worker {worker.name} delivered no book"

    # Requests really travelled through redis (pickled by one process,
    # unpickled by another): everything queued was taken out, nothing is left,
    # and what each worker took is not what it queued itself.
    enqueued = [s.get("scheduler/enqueued/redis", 0) for s in stats]
    dequeued = [s.get("scheduler/dequeued/redis", 0) for s in stats]
    assert sum(enqueued) == sum(dequeued) > 0
    assert enqueued != dequeued, "no request crossed from one worker to the other"
    client = redis.Redis.from_url(redis_url)
    assert client.zcard("books:requests") == 0

    # The job was started once; the shared ledger let each task be followed once.
    assert sum(s.get("wds/jobs/started", 0) for s in stats) == 1
    calls = [c for c in wds_emulator.calls() if c["path"].startswith("/api/v2/")]
    assert sum(1 for c in calls if c["path"].endswith("/start")) == 1
    answered = Counter(
        (c["method"], c["path"], json.dumps(c["query"], sort_keys=True))
        for c in calls
        if c["status"] == 200 and not c.get("pending")
    )
    assert [call for call, count in answered.items() if count > 1] == []
    # Only the job start goes through the shared dupefilter: a second copy of
    # any other call is dropped by the shared ledger's claim (none got two 200s).
    assert client.scard("books:dupefilter") == 1

    # The polls parked after each 202 came back through the shared queue and were answered.
    polls = sum(s.get("wds/polls", 0) for s in stats)
    assert polls == sum(1 for c in calls if c.get("pending")) > 0
    followed = sum(1 for _, path, _ in answered if path.endswith("/info"))
    # Every page of the site's shop: home, 25 listing pages, 200 books; only
    # the books are asked info (books' listing callbacks skip it).
    assert sum(s.get("wds/tasks/handled", 0) for s in stats) == followed == len(truth)
    assert sum(s.get("wds/tasks/info_skipped", 0) for s in stats) == 25
    # The shared ledger knows each page once, and owes nothing any more.
    assert client.scard("books:wds:pages:books") == followed + 25  # and those that skip info
    assert client.hlen("books:wds:owed") == 0 and client.zcard("books:wds:room") == 0


def test_without_scheduler_persist_the_first_worker_to_close_takes_nothing_from_the_other(
    tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    """scrapy-redis's default: the first worker to close flushes the shared queue and dupefilter.

    A WDS worker closes only once the shared ledger owes nothing, so by then
    nothing is left in the queue for the other one; and the ledger itself is
    removed with the queue, so the next crawl starts afresh.
    """
    wds_emulator.configure(pending_polls=1)
    truth, env = books_job(wds_emulator, demo_site, SECRET)
    settings = {**books_settings(SECRET), "SCHEDULER_PERSIST": "False"}

    results = run_workers(
        [start_worker("books", name, tmp_path, redis_url, env, settings) for name in "ab"]
    )

    for result in results:
        assert result.stats["finish_reason"] == "finished", result.log[-3000:]
    all_items = [item for result in results for item in result.items]
    assert sorted(all_items, key=lambda item: item["url"]) == truth
    assert all(len(result.items) >= 1 for result in results), [len(r.items) for r in results]
    assert redis.Redis.from_url(redis_url).keys("books:*") == []
