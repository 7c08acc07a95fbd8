"""Benchmark: pages/s of WDS crawls with the package vs a bare asyncio client making the same calls.

Two workloads, each run in a fresh process with ``CONCURRENT_REQUESTS`` = C
and by ``_bare_client.py`` (the same calls and URLs, at most C in flight, the
same poll backoff, no Scrapy), against the same emulator:

  wide   one job of ``--pages`` distinct book pages; each page's task skips
         info and gets two calls (scrape-multiple → one item, and a scrape):
         throughput, with plenty of work in flight (``_wide_spider.py``);
  rules  ``books_rules`` over the demo site (225 pages, a tree of pages found
         by crawl calls): mostly latency, each level waits for the one above.

In ``wide``, a third client gives Scrapy's own floor: ``_plain_scrapy_spider.py``
makes the same calls as plain Scrapy requests, without the package (no
add-on, no ledger, no waiting), at the same concurrency and
``CONCURRENT_ITEMS``.  Its ratio to the bare client bounds what any Scrapy
crawl can reach here.

Then, with ``--latency S`` (0.02 by default, 0 to skip), ``wide`` again with
every API answer ``S`` seconds late for all three clients alike
(``_latency_proxy.py`` in front of the emulator): a LAN round trip to a
self-hosted WDS, where the clients spend their time waiting rather than
computing.

A first, unmeasured run of the package downloads every page into the
emulator (which keeps the jobs: a job started again gets the same tasks), so
neither client waits for the emulator's own page downloads, whose order
would favour whichever client asks in the same order.  What differs is the
package's overhead: Scrapy's scheduler, downloader and middlewares, the
mixin, the gate.  Pages/s is pages over the time from the
first API call to the last one (the emulator's clock, the same instrument for
both), the median of ``--rounds`` rounds that alternate the two clients.

    .venv/bin/python bench/pages_per_second.py [--pages 2000] [--rounds 3] [--concurrency 16]
        [--only wide] [--latency 0.02]

Goal (issue 11): the package at >= 0.8x the bare client's pages/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from _fresh_process import run_script
from _latency_proxy import LatencyProxy
from _table import print_table
from _wds_runs import (
    active_seconds,
    api_calls,
    clear,
    run_crawl,
    script_env,
    task_of,
)
from waiting_is_free import start_urls

from scrapy_wds.testing import DemoSite, WdsEmulator

GOAL = 0.8
SPIDERS = {
    "wide": "_wide_spider:WideSpider",
    "rules": "example_project.spiders.books_rules:BooksRulesSpider",
}
PLAIN_SPIDER = "_plain_scrapy_spider:PlainScrapySpider"
PLAIN = "plain Scrapy (no scrapy-wds)"
POLLS = {"WDS_POLL_FIRST_DELAY": "0.05", "WDS_POLL_MAX_DELAY": "0.2"}


def bare(
    emulator: WdsEmulator, api_url: str, concurrency: int, mode: str, where: str
) -> dict[str, Any]:
    clear(emulator, fresh=False)
    polls = [POLLS["WDS_POLL_FIRST_DELAY"], POLLS["WDS_POLL_MAX_DELAY"]]
    counts, _ = run_script(
        ["_bare_client.py", api_url, str(concurrency), *polls, mode, where], env=script_env()
    )
    return measure("bare aiohttp client", counts["items"], api_calls(emulator), None)


def package(
    emulator: WdsEmulator, api_url: str, concurrency: int, mode: str, where: str
) -> dict[str, Any]:
    where_setting = {"wide": "BENCH_START_URLS", "rules": "DEMO_SITE_URL"}[mode]
    run = run_crawl(
        SPIDERS[mode],
        emulator,
        {
            "WDS_API_URL": api_url,
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


def plain(emulator: WdsEmulator, api_url: str, concurrency: int, where: str) -> dict[str, Any]:
    """The wide calls as a plain Scrapy spider: no add-on, the settings the add-on would give."""
    run = run_crawl(
        PLAIN_SPIDER,
        emulator,
        {
            "ADDONS": "{}",
            "BENCH_API_URL": api_url,
            "BENCH_START_URLS": where,
            "CONCURRENT_REQUESTS": str(concurrency),
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
            "CONCURRENT_ITEMS": "8",
        },
        fresh=False,
    )
    stats = run["stats"]
    if stats.get("bench/not_ok"):
        sys.exit(f"the plain Scrapy spider got {stats['bench/not_ok']} answers other than 200")
    return measure(
        PLAIN, stats.get("item_scraped_count", 0), run["calls"], stats.get("bench/cpu_s")
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


def compare(title: str, rounds: list[tuple[dict[str, Any], ...]]) -> float:
    print(title)
    print_table([row for runs in rounds for row in runs])
    package_speed = median([runs[0]["pages/s"] for runs in rounds])
    bare_speed = median([runs[1]["pages/s"] for runs in rounds])
    ratio = package_speed / bare_speed
    print(
        f"pages/s, median: scrapy-wds {package_speed:.1f}, bare client {bare_speed:.1f}: "
        f"{ratio:.2f}x (goal >= {GOAL:g}x: {'met' if ratio >= GOAL else 'NOT met'})"
    )
    if len(rounds[0]) > 2:
        plain_speed = median([runs[2]["pages/s"] for runs in rounds])
        print(
            f"Scrapy's own floor: plain Scrapy {plain_speed:.1f} pages/s, "
            f"{plain_speed / bare_speed:.2f}x the bare client; "
            f"scrapy-wds at {package_speed / plain_speed:.2f}x plain Scrapy"
        )
    print()
    return ratio


def measure_mode(
    emulator: WdsEmulator, api_url: str, args: argparse.Namespace, mode: str, where: str
) -> list[tuple[dict[str, Any], ...]]:
    """``args.rounds`` rounds of the package, the bare client (and plain Scrapy in ``wide``)."""
    rounds = []
    for _ in range(args.rounds):
        runs = (
            package(emulator, api_url, args.concurrency, mode, where),
            bare(emulator, api_url, args.concurrency, mode, where),
        )
        if mode == "wide":
            runs += (plain(emulator, api_url, args.concurrency, where),)
        rounds.append(runs)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the wide job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=sorted(SPIDERS), help="run one workload only")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="then wide again with this many seconds added to every API answer (0: skip)",
    )
    args = parser.parse_args()
    with DemoSite() as site, WdsEmulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        urls_file = Path(tmp) / "urls.txt"
        book_pages = [
            u for u in start_urls(site, args.pages * 3) if "/catalogue/category/" not in u
        ]
        urls_file.write_text("\n".join(book_pages[: args.pages]))
        where = {"wide": str(urls_file), "rules": site.url}
        for mode in [args.only] if args.only else ["wide", "rules"]:
            package(emulator, emulator.url, args.concurrency, mode, where[mode])  # downloads
            compare(
                f"{mode}: concurrency {args.concurrency}, pages downloaded already, "
                f"{args.rounds} rounds",
                measure_mode(emulator, emulator.url, args, mode, where[mode]),
            )
        if args.latency and args.only in (None, "wide"):
            with LatencyProxy(emulator.url, latency=args.latency) as proxy:
                compare(
                    f"wide, every API answer {args.latency * 1000:g} ms late (a LAN round "
                    f"trip): concurrency {args.concurrency}, {args.rounds} rounds",
                    measure_mode(emulator, proxy.url, args, "wide", where["wide"]),
                )


if __name__ == "__main__":
    main()
