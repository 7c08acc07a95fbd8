"""Two ``scrapy crawl books`` workers sharing one scrapy-redis scheduler give every book once.

What this proves about scrapy-wds and scrapy-redis together:

* WDS requests (job start, task follow-ups, crawls, scrape-multiple, and the
  polls the middleware parks after a 202) pickle into redis and come out in
  another process working: requests cross from one worker to the other;
* the shared dupefilter lets the job start through once and follows each
  task once, across both workers;
* the union of both feeds is exactly the demo site's truth, no book twice;
* the secret WDS header never reaches redis (checked on every request the
  workers pickle, see ``secret_checking_pickle.py``) nor the logs.

Both workers end by themselves: the books spider is a plain spider, so a
worker closes when it is idle (see ``worker_linger.py`` for why each one
waits a little for the other before it does), and ``CLOSESPIDER_TIMEOUT``
bounds the run should anything hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = ROOT / "example_project"
HERE = Path(__file__).resolve().parent
# The crawl tests' extension that writes the final stats to a JSON file.
STATS_EXTENSION_DIR = ROOT / "tests" / "wds" / "crawl"
WORKER_TIMEOUT = 180
# Sent on every WDS call as a secret header; must never reach redis or the logs.
SECRET = "wds-secret-token-5f2c9a"


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    output: Path
    stats_file: Path
    log_file: Path

    def finish(self) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        self.process.wait(timeout=WORKER_TIMEOUT)
        log = self.log_file.read_text(errors="replace")
        assert self.process.returncode == 0, f"worker {self.name} failed:\n{log[-5000:]}"
        assert self.stats_file.exists(), f"worker {self.name} wrote no stats:\n{log[-5000:]}"
        items = [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]
        return items, json.loads(self.stats_file.read_text()), log


def start_worker(name: str, tmp_path: Path, wds_url: str, demo_url: str, redis_url: str) -> Worker:
    output = tmp_path / f"books-{name}.jsonl"
    stats_file = tmp_path / f"stats-{name}.json"
    log_file = tmp_path / f"log-{name}.txt"
    env = {
        **os.environ,
        "WDS_API_URL": wds_url,
        "DEMO_SITE_URL": demo_url,
        "WATCHED_SECRET": SECRET,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(STATS_EXTENSION_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("HASDATA_API_KEY", None)
    settings = {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis_url,
        # Plain pickle, plus a check that no queued request carries the secret header.
        "SCHEDULER_SERIALIZER": "secret_checking_pickle",
        "WDS_API_HEADERS": json.dumps({"X-Tenant-Id": "default", "Authorization": f"Bearer {SECRET}"}),
        # Persist: with False, the first worker to close flushes the shared
        # queue and dupefilter under the other one.  The redis server is this
        # test's own, so nothing outlives it.
        "SCHEDULER_PERSIST": "True",
        "EXTENSIONS": json.dumps({"stats_to_json.StatsToJson": 0, "worker_linger.WorkerLinger": 0}),
        "STATS_JSON_FILE": str(stats_file),
        "WORKER_LINGER_SECONDS": "3",
        # A small per-worker pace keeps a backlog in the shared queue, so the
        # worker that did not get the job start finds work at its next
        # engine heartbeat instead of seeing an empty queue every time.
        "DOWNLOAD_DELAY": "0.02",
        "CLOSESPIDER_TIMEOUT": "150",
        "TELNETCONSOLE_ENABLED": "False",
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "scrapy", "crawl", "books", "-O", f"{output}:jsonl"]
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, cwd=EXAMPLE_PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Worker(name, process, output, stats_file, log_file)


def test_two_workers_share_the_books_job_through_redis(
    tmp_path: Path, wds_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    # Every task answers 202 first, so each one's follow-up is parked by a
    # worker's middleware and goes back through the shared queue.
    wds_emulator.configure(pending_polls=1)
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        truth = json.load(answer)

    workers = [start_worker(name, tmp_path, wds_emulator.url, demo_site.url, redis_url) for name in "ab"]
    try:
        results = [worker.finish() for worker in workers]
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()

    all_items = [item for items, _, _ in results for item in items]
    stats = [worker_stats for _, worker_stats, _ in results]
    for _, worker_stats, log in results:
        assert worker_stats["finish_reason"] == "finished", log[-3000:]
        assert "Traceback" not in log, log[-5000:]
        assert SECRET not in log

    # Nothing lost, nothing twice, across both workers.
    urls = Counter(item["url"] for item in all_items)
    assert [url for url, count in urls.items() if count > 1] == []
    assert sorted(all_items, key=lambda item: item["url"]) == truth

    # Both workers worked: each took requests out of redis, called WDS and
    # delivered books (the download pace above makes this hold run after run:
    # the split was 95-105 books each in repeated runs on 2 cores).
    for (items, worker_stats, _), worker in zip(results, workers):
        assert worker_stats.get("scheduler/dequeued/redis", 0) >= 1, worker.name
        assert sum(v for k, v in worker_stats.items() if k.startswith("wds/calls/")) >= 1, worker.name
        assert len(items) >= 1, f"worker {worker.name} delivered no book"

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
    answered = Counter((c["method"], c["path"], json.dumps(c["query"], sort_keys=True)) for c in calls if c["status"] == 200)
    assert [call for call, count in answered.items() if count > 1] == []
    # Each request that is not a re-sent poll has one fingerprint in redis, and got one 200.
    assert client.scard("books:dupefilter") == len(answered)

    # The polls parked after each 202 came back through the shared queue and were answered.
    polls = sum(s.get("wds/polls", 0) for s in stats)
    assert polls == sum(1 for c in calls if c["status"] == 202) > 0
    followed = sum(1 for method, path, _ in answered if path.endswith("/info"))
    assert sum(s.get("wds/tasks/handled", 0) for s in stats) == followed == len(truth) + 25
