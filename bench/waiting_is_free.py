"""Benchmark: a task that answers 202 does not hold a download slot while it waits.

Crawls N WDS tasks that each answer 202 a few times before they are ready,
with CONCURRENT_REQUESTS = 16, twice against the same local emulators:

  parked   the package as it is: a 202 parks the request in the waiting room,
           outside the downloader, and the slot serves other tasks meanwhile;
  in-slot  baseline: a benchmark-only middleware (_poll_inside_the_slot.py)
           re-asks the same task in place, with the same backoff, holding
           the slot for the whole wait.

Prints wall time, API calls, tasks completed, distinct tasks polled within the
first WINDOW seconds, distinct tasks asked before any task was ready (waiting
inside the slot caps this at CONCURRENT_REQUESTS), and the ratios. ``--scale 10000`` then runs the package
alone with that many tasks to show that every one of them progresses early.

    .venv/bin/python bench/waiting_is_free.py [--tasks 2000] [--pending-polls 2] [--scale 10000]

Loopback only; the default run takes about three minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _demo_site_process import demo_site_process
from _many_tasks_spider import ManyTasksSpider
from _table import print_table
from _wds_runs import run_crawl

from scrapy_wds.testing import WdsEmulator

#: The issue's goal: the parked crawl at least this many times faster at 2,000 tasks.
GOAL = 20.0
SPIDER = "_many_tasks_spider:ManyTasksSpider"
BASELINE = {"_poll_inside_the_slot.PollInsideTheSlot": 580}


def start_urls(site: Any, count: int) -> list[str]:
    """``count`` distinct page URLs on the demo site (its pages, with a copy number)."""
    paths = [path for path in site.page_paths() if path.startswith("/catalogue/")]
    return [f"{site.url}{paths[i % len(paths)]}?copy={i // len(paths)}" for i in range(count)]


def download_first(emulator: WdsEmulator, urls_file: Path) -> None:
    """Start the crawl's job and wait until the emulator has downloaded every page of it.

    The emulator fetches each task's page itself (16 at a time) and holds a
    call on a page not yet there for up to 5 s: thousands of fresh pages would
    make both runs wait on the emulator's downloads rather than on their own
    polling.  Starting the same job again (the crawl does) keeps the tasks and
    their pages, and their 202s are still all to come: none was asked yet.
    """
    emulator.reset()
    config = {"StartUrls": urls_file.read_text().split(), "Type": "Intranet"}
    call = urllib.request.Request(
        f"{emulator.url}/api/v2/jobs/{ManyTasksSpider.name}/start",
        data=json.dumps(config).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Tenant-Id": "default"},
    )
    with urllib.request.urlopen(call, timeout=60) as answer:
        ids = [task["Id"] for task in json.load(answer)]
    deadline = time.monotonic() + 300
    # The emulator's own task book (bench only: no API call may touch the tasks).
    while any(emulator._book.get(id_).page is None for id_ in ids):  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            sys.exit("the emulator did not download the pages within 5 minutes")
        time.sleep(0.2)


def crawl(
    emulator: WdsEmulator, urls_file: Path, concurrency: int, extra: dict[str, str]
) -> dict[str, Any]:
    download_first(emulator, urls_file)
    return run_crawl(
        SPIDER,
        emulator,
        {
            "BENCH_START_URLS": str(urls_file),
            "CONCURRENT_REQUESTS": str(concurrency),
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
            **extra,
        },
        fresh=False,
    )


def polled_within(calls: list[dict[str, Any]], window: float) -> int:
    """Distinct tasks that got at least one call within ``window`` s of the job start."""
    start = min(c["time"] for c in calls)
    return len(
        {
            c["path"].split("/")[4]
            for c in calls
            if "/tasks/" in c["path"] and c["time"] - start <= window
        }
    )


def asked_before_first_ready(calls: list[dict[str, Any]]) -> int:
    """Distinct tasks asked at least once before any task answered 200: at most the slots, if waiting held them."""
    tasks = [c for c in sorted(calls, key=lambda c: c["time"]) if "/tasks/" in c["path"]]
    asked: set[str] = set()
    for call in tasks:
        if call["status"] == 200:
            break
        asked.add(call["path"].split("/")[4])
    return len(asked)


def every_task_asked_by(calls: list[dict[str, Any]]) -> float:
    """Seconds from the job start until the last task got its first call."""
    start = min(c["time"] for c in calls)
    first: dict[str, float] = {}
    for call in calls:
        if "/tasks/" in call["path"]:
            first.setdefault(call["path"].split("/")[4], call["time"] - start)
    return max(first.values())


def summary(name: str, run: dict[str, Any], window: float) -> dict[str, Any]:
    stats = run["stats"]
    return {
        "run": name,
        "wall s": round(run["wall"], 1),
        "crawl s": round(float(stats.get("elapsed_time_seconds", 0)), 1),
        "crawl CPU s": stats.get("bench/cpu_s"),
        "API calls": len(run["calls"]),
        "202 answers": sum(1 for c in run["calls"] if c["status"] == 202),
        "tasks completed": stats.get("bench/tasks_completed", 0),
        f"tasks polled in first {window:g} s": polled_within(run["calls"], window),
        "tasks asked before the first was ready": asked_before_first_ready(run["calls"]),
        "every task asked by (s)": round(every_task_asked_by(run["calls"]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument(
        "--pending-polls", type=int, default=2, help="202 answers per task before it is ready"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--window", type=float, default=5.0, help="seconds for the 'tasks polled' count"
    )
    parser.add_argument(
        "--scale", type=int, default=0, help="then run the package alone with this many tasks"
    )
    parser.add_argument(
        "--fifo",
        action="store_true",
        help="scheduler queues first-in first-out (Scrapy's default is LIFO)",
    )
    args = parser.parse_args()
    extra = (
        {
            "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
            "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        }
        if args.fifo
        else {}
    )

    # A waiting info answers 202 (not 200 + Created, the emulator's default):
    # the in-slot baseline re-asks on a 202 only.  The demo site runs in a process of its own: the emulator downloads every
    # task's page from it, and must not wait on its own interpreter for that.
    with (
        demo_site_process() as site,
        WdsEmulator(pending_polls=args.pending_polls, pending_info="202") as emulator,
        tempfile.TemporaryDirectory() as tmp,
    ):
        urls_file = Path(tmp) / "urls.txt"
        urls_file.write_text("\n".join(start_urls(site, args.tasks)))
        print(
            f"{args.tasks} tasks, each 202 x{args.pending_polls} before ready, "
            f"CONCURRENT_REQUESTS={args.concurrency}",
            flush=True,
        )
        parked = summary(
            "parked (scrapy-wds)", crawl(emulator, urls_file, args.concurrency, extra), args.window
        )
        in_slot = summary(
            "in-slot (baseline)",
            crawl(
                emulator,
                urls_file,
                args.concurrency,
                {**extra, "DOWNLOADER_MIDDLEWARES": json.dumps(BASELINE)},
            ),
            args.window,
        )
        print_table([parked, in_slot])
        ratio = in_slot["wall s"] / parked["wall s"]
        print(
            f"parked vs slot-holding at {args.tasks} tasks: {ratio:.1f}x the speed (goal >= {GOAL:g}x: "
            f"{'met' if ratio >= GOAL else 'NOT met'})"
        )
        print(
            f"wall time ratio in-slot / parked: {ratio:.1f}x; "
            f"tasks polled in the first {args.window:g} s, parked / in-slot: "
            f"{parked[f'tasks polled in first {args.window:g} s']} / "
            f"{in_slot[f'tasks polled in first {args.window:g} s']}"
        )

        if args.scale:
            urls_file.write_text("\n".join(start_urls(site, args.scale)))
            print(f"\nscale: {args.scale} tasks, package only", flush=True)
            run = crawl(emulator, urls_file, args.concurrency, extra)
            print_table([summary("parked (scrapy-wds)", run, args.window)])


if __name__ == "__main__":
    main()
