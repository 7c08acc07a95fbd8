"""``scrapy crawl`` workers of the example project sharing one scrapy-redis scheduler.

Two ``books`` workers must give every book once; this proves that

* WDS requests (job start, task follow-ups, crawls, scrape-multiple, and the
  polls the middleware parks after a 202) pickle into redis and come out in
  another process working: requests cross from one worker to the other;
* the shared dupefilter lets the job start through once and follows each
  task once, across both workers;
* the union of both feeds is exactly the demo site's truth, no book twice;
* the secret WDS header never reaches redis (checked on every request the
  workers pickle, see ``secret_checking_pickle.py``) nor the logs.

The workers end by themselves: the books spider is a plain spider, so a
worker closes when it is idle (see ``worker_linger.py`` for why each one
waits a little for the other before it does), and ``CLOSESPIDER_TIMEOUT``
bounds the run should anything hang.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from ._workers import run_workers, start_worker

# Sent on every WDS call as a secret header; must never reach redis or the logs.
SECRET = "wds-secret-token-5f2c9a"


def books_worker_settings() -> dict[str, str]:
    return {
        # Plain pickle, plus a check that no queued request carries the secret header.
        "SCHEDULER_SERIALIZER": "secret_checking_pickle",
        "WDS_API_HEADERS": json.dumps({"X-Tenant-Id": "default", "Authorization": f"Bearer {SECRET}"}),
        "EXTENSIONS": json.dumps({"worker_linger.WorkerLinger": 0}),
        "WORKER_LINGER_SECONDS": "3",
        # A small per-worker pace keeps a backlog in the shared queue, so the
        # worker that did not get the job start finds work at its next
        # engine heartbeat (every 5 s) instead of an empty queue every time.
        # The pace is a slot entry for the API host: the add-on gives that
        # host its own slot without DOWNLOAD_DELAY unless the user wrote one.
        "DOWNLOAD_SLOTS": json.dumps({"127.0.0.1": {"delay": 0.02, "concurrency": 16}}),
    }


def test_two_workers_share_the_books_job_through_redis(
    tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    # Every task answers 202 first, so each one's follow-up is parked by a
    # worker's middleware and goes back through the shared queue.
    wds_emulator.configure(pending_polls=1)
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        truth = json.load(answer)
    env = {"WDS_API_URL": wds_emulator.url, "DEMO_SITE_URL": demo_site.url, "WATCHED_SECRET": SECRET}

    workers = [
        start_worker("books", name, tmp_path, redis_url, env, books_worker_settings()) for name in "ab"
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
        assert sum(v for k, v in result.stats.items() if k.startswith("wds/calls/")) >= 1, worker.name
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

    # The job was started once; the shared dupefilter let each task be followed once.
    assert sum(s.get("wds/jobs/started", 0) for s in stats) == 1
    calls = [c for c in wds_emulator.calls() if c["path"].startswith("/api/v2/")]
    assert sum(1 for c in calls if c["path"].endswith("/start")) == 1
    answered = Counter(
        (c["method"], c["path"], json.dumps(c["query"], sort_keys=True)) for c in calls
        if c["status"] == 200 and not c.get("pending")
    )
    assert [call for call, count in answered.items() if count > 1] == []
    # Each request that is not a re-sent poll has one fingerprint in redis, and got one 200.
    assert client.scard("books:dupefilter") == len(answered)

    # The polls parked after each 202 came back through the shared queue and were answered.
    polls = sum(s.get("wds/polls", 0) for s in stats)
    assert polls == sum(1 for c in calls if c.get("pending")) > 0
    followed = sum(1 for _, path, _ in answered if path.endswith("/info"))
    # Every page of the site's shop: home, 25 listing pages, 200 books.
    assert sum(s.get("wds/tasks/handled", 0) for s in stats) == followed == len(truth) + 25
