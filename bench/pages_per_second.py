"""Benchmark: pages/s of WDS crawls with the package vs a bare asyncio client making the same calls.

Two workloads, each run in a fresh process with ``CONCURRENT_REQUESTS`` = C
and by ``_bare_client.py`` (the same calls and URLs, at most C in flight, the
same poll backoff, no Scrapy), against the same emulator:

  wide   one job of ``--pages`` distinct book pages; each page's task skips
         info and gets two calls (scrape-multiple → one item, and a scrape):
         throughput, with plenty of work in flight (``_wide_spider.py``);
  rules  ``books_rules`` over the demo site (225 pages, a tree of pages found
         by crawl calls): mostly latency, each level waits for the one above.

A first, unmeasured run of the package downloads every page into the
emulator (which keeps the jobs: a job started again gets the same tasks), so
neither client waits for the emulator's own page downloads, whose order
would favour whichever client asks in the same order.  What differs is the
package's overhead: Scrapy's scheduler, downloader and middlewares, the
mixin, the gate.  Pages/s is pages over the time from the
first API call to the last one (the emulator's clock, the same instrument for
both), the median of ``--rounds`` rounds that alternate the two clients.

    .venv/bin/python bench/pages_per_second.py [--pages 2000] [--rounds 3] [--concurrency 16] [--only wide]

Goal (issue 11): the package at >= 0.8x the bare client's pages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _table import print_table
from _wds_runs import (
    EXAMPLE_PROJECT,
    HERE,
    active_seconds,
    api_calls,
    clear,
    median,
    run_crawl,
    task_of,
)
from waiting_is_free import start_urls

from scrapy_wds.testing import DemoSite, WdsEmulator

GOAL = 0.8
SPIDERS = {
    "wide": "_wide_spider:WideSpider",
    "rules": "example_project.spiders.books_rules:BooksRulesSpider",
}
POLLS = {"WDS_POLL_FIRST_DELAY": "0.05", "WDS_POLL_MAX_DELAY": "0.2"}


def bare(emulator: WdsEmulator, concurrency: int, mode: str, where: str) -> dict[str, Any]:
    clear(emulator, fresh=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(EXAMPLE_PROJECT)])}
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "_bare_client.py"),
            emulator.url,
            str(concurrency),
            POLLS["WDS_POLL_FIRST_DELAY"],
            POLLS["WDS_POLL_MAX_DELAY"],
            mode,
            where,
        ],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the bare client failed:\n{done.stderr[-3000:]}")
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    return measure("bare aiohttp client", counts["items"], api_calls(emulator), None)


def package(emulator: WdsEmulator, concurrency: int, mode: str, where: str) -> dict[str, Any]:
    where_setting = {"wide": "BENCH_START_URLS", "rules": "DEMO_SITE_URL"}[mode]
    run = run_crawl(
        SPIDERS[mode],
        emulator,
        {
            where_setting: where,
            "CONCURRENT_REQUESTS": str(concurrency),
            **POLLS,
        },
        fresh=False,
    )
    stats = run["stats"]
    return measure(
        "scrapy-wds", stats.get("item_scraped_count", 0), run["calls"], stats.get("bench/cpu_s")
    )


def measure(
    name: str, items: int, calls: list[dict[str, Any]], cpu: float | None
) -> dict[str, Any]:
    pages = len({task_of(c) for c in calls} - {None})
    seconds = active_seconds(calls)
    return {
        "run": name,
        "pages": pages,
        "items": items,
        "API calls": len(calls),
        "active s": round(seconds, 3),
        "pages/s": round(pages / seconds, 1),
        "crawl CPU s": cpu,
    }


def compare(title: str, rounds: list[tuple[dict[str, Any], dict[str, Any]]]) -> float:
    print(title)
    print_table([row for pair in rounds for row in pair])
    package_speed = median([ours["pages/s"] for ours, _ in rounds])
    bare_speed = median([theirs["pages/s"] for _, theirs in rounds])
    ratio = package_speed / bare_speed
    print(
        f"pages/s, median: scrapy-wds {package_speed:.1f}, bare client {bare_speed:.1f}: "
        f"{ratio:.2f}x (goal >= {GOAL:g}x: {'met' if ratio >= GOAL else 'NOT met'})\n"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the wide job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=sorted(SPIDERS), help="run one workload only")
    args = parser.parse_args()
    with DemoSite() as site, WdsEmulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        urls_file = Path(tmp) / "urls.txt"
        book_pages = [
            u for u in start_urls(site, args.pages * 3) if "/catalogue/category/" not in u
        ]
        urls_file.write_text("\n".join(book_pages[: args.pages]))
        where = {"wide": str(urls_file), "rules": site.url}
        for mode in [args.only] if args.only else ["wide", "rules"]:
            package(emulator, args.concurrency, mode, where[mode])  # downloads the pages
            rounds = [
                (
                    package(emulator, args.concurrency, mode, where[mode]),
                    bare(emulator, args.concurrency, mode, where[mode]),
                )
                for _ in range(args.rounds)
            ]
            compare(
                f"{mode}: concurrency {args.concurrency}, pages downloaded already, "
                f"{args.rounds} rounds",
                rounds,
            )


if __name__ == "__main__":
    main()
