"""Running ``scrapy crawl`` workers of the example project that share one scrapy-redis scheduler.

A worker's items come from its feed (``-O``), and, with ``append_items``,
also from the example project's ``ItemLinesPipeline`` (``ITEM_LINES_FILE``),
which writes each item at once: the only count that holds for a worker
killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = ROOT / "example_project"
HERE = Path(__file__).resolve().parent
# The crawl tests' extension that writes the final stats to a JSON file.
STATS_EXTENSION_DIR = ROOT / "tests" / "wds" / "crawl"
WORKER_TIMEOUT = 180

#: What makes a worker part of the shared crawl (plus REDIS_URL).
SHARED_SCHEDULER = {
    "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    # Persist: with False, the first worker to close flushes the shared
    # queue and dupefilter under the other one.  The redis server is the
    # test's own, so nothing outlives it.
    "SCHEDULER_PERSIST": "True",
    # Bounds a run should anything hang (the tests expect "finished").
    "CLOSESPIDER_TIMEOUT": "150",
    "TELNETCONSOLE_ENABLED": "False",
    "LOG_LEVEL": "INFO",
}


def books_job(
    wds_emulator: Any, demo_site: Any, secret: str
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The demo site's books (the truth) and the environment of ``books`` workers watching ``secret``."""
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        truth: list[dict[str, str]] = json.load(answer)
    env = {
        "WDS_API_URL": wds_emulator.url,
        "DEMO_SITE_URL": demo_site.url,
        "WATCHED_SECRET": secret,
    }
    return truth, env


def books_settings(secret: str) -> dict[str, str]:
    """Settings of a ``books`` worker whose WDS header ``secret`` must never reach redis."""
    return {
        # Plain pickle, plus a check that no queued request carries the secret header.
        "SCHEDULER_SERIALIZER": "secret_checking_pickle",
        "WDS_API_HEADERS": json.dumps(
            {"X-Tenant-Id": "default", "Authorization": f"Bearer {secret}"}
        ),
        # A small per-worker pace keeps a backlog in the shared queue, so every
        # worker takes a share of it (and a kill lands mid-way) instead of one
        # worker doing the whole job before another dequeues anything.  The
        # pace is a slot entry for the API host: the add-on gives that host
        # its own slot without DOWNLOAD_DELAY unless the user wrote one.
        "DOWNLOAD_SLOTS": json.dumps({"127.0.0.1": {"delay": 0.02, "concurrency": 16}}),
    }


@dataclass
class WorkerResult:
    items: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    output: Path
    stats_file: Path
    log_file: Path
    #: The ``ITEM_LINES_FILE`` the worker writes each item to at once, if any.
    appended: Path | None = None

    def appended_items(self) -> list[dict[str, Any]]:
        """The items this worker has handed on so far (also while it runs, or after a kill)."""
        assert self.appended is not None, f"worker {self.name} was started without append_items"
        if not self.appended.exists():
            return []
        # A line being written right now has no newline yet: only whole lines count.
        whole = self.appended.read_text(encoding="utf-8").split("\n")[:-1]
        return [json.loads(line) for line in whole if line.strip()]

    def kill(self) -> None:
        """SIGKILL: the worker stops at once, writing nothing more (no close, no stats)."""
        self.process.kill()
        self.process.wait(timeout=WORKER_TIMEOUT)

    def finish(self) -> WorkerResult:
        self.process.wait(timeout=WORKER_TIMEOUT)
        log = self.log_file.read_text(errors="replace")
        assert self.process.returncode == 0, f"worker {self.name} failed:\n{log[-5000:]}"
        assert self.stats_file.exists(), f"worker {self.name} wrote no stats:\n{log[-5000:]}"
        items = [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]
        return WorkerResult(items, json.loads(self.stats_file.read_text()), log)


def start_worker(
    spider: str,
    name: str,
    tmp_path: Path,
    redis_url: str,
    env: dict[str, str],
    settings: dict[str, str],
    *,
    import_paths: tuple[Path, ...] = (),
    append_items: bool = False,
) -> Worker:
    """``scrapy crawl SPIDER`` in the example project, as one worker of the shared crawl.

    ``import_paths`` are added to the worker's ``PYTHONPATH`` (test-only pipelines);
    ``append_items`` gives the example project's pipeline that writes each
    item at once a file (see :meth:`Worker.appended_items`).
    """
    output = tmp_path / f"{spider}-{name}.jsonl"
    stats_file = tmp_path / f"stats-{spider}-{name}.json"
    log_file = tmp_path / f"log-{spider}-{name}.txt"
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [
                str(HERE),
                str(STATS_EXTENSION_DIR),
                *map(str, import_paths),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
        **env,
    }
    for unset in ("HASDATA_API_KEY", "WDS_API_URL", "HASDATA_API_URL"):
        if unset not in env:
            full_env.pop(unset, None)
    settings = dict(settings)
    extensions = {"stats_to_json.StatsToJson": 0, **json.loads(settings.pop("EXTENSIONS", "{}"))}
    appended = tmp_path / f"appended-{spider}-{name}.jsonl" if append_items else None
    if appended is not None:
        settings["ITEM_LINES_FILE"] = str(appended)
    all_settings = {
        **SHARED_SCHEDULER,
        "REDIS_URL": redis_url,
        "STATS_JSON_FILE": str(stats_file),
        "EXTENSIONS": json.dumps(extensions),
        **settings,
    }
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", f"{output}:jsonl"]
    for key, value in all_settings.items():
        command += ["-s", f"{key}={value}"]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=EXAMPLE_PROJECT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    return Worker(name, process, output, stats_file, log_file, appended)


def run_workers(workers: list[Worker]) -> list[WorkerResult]:
    """Wait for every worker; kill the others if one fails."""
    try:
        return [worker.finish() for worker in workers]
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
