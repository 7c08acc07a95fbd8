"""Benchmark: HasData rows/s against the sequential recipe, and peak memory as jobs grow.

One synthetic ``amazon-search`` job on the local HasData emulator (5 rows
per keyword; see docs/emulator-hasdata.md), reached through a loopback proxy
that adds ``--latency`` seconds (50 ms) to every answer.  Side by side:

* **recipe** (``_hasdata_recipe.py``): what HasData's docs show, with
  ``requests``: submit, poll, then results pages of 100 one after another,
  each row unwrapped and counted;
* **scrapy-wds**: the same job through the extension, each row through
  Scrapy's item pipelines (none configured) with its ``item_scraped``
  signal, default settings but 50 ms polls.

With ``--feed`` both also write every row to a JSON-lines file (the recipe
with ``json.dumps``, the package with a ``FEEDS`` export).

Each runs in a fresh process; rows/s counts from submit to the last row
(the crawl's ``elapsed_time_seconds`` for the package).  Then the package
drains jobs of 10 k, 50 k and 100 k rows, and the growth of its peak RSS
is set against the goal (< 10 MiB from 10 k to 100 k rows).

    .venv/bin/python bench/hasdata_rows.py [--rows 100000] [--latency 0.05]

Loopback only; about 2 minutes on 2 cores at the default size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _fresh_process import load_average, run_crawl, run_script
from _hasdata_runs import API_KEY, SPIDER, write_job
from _latency_proxy import LatencyProxy
from _table import print_table

from scrapy_wds.testing import HasDataEmulator

POLL = 0.05
RATIO_GOAL = 4.0
RSS_GOAL_MIB = 10.0


def lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def recipe(api_url: str, rows: int, feed: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    try:
        out = work / "rows.jsonl"
        target = str(out) if feed else "-"
        job = str(write_job(work, rows // 5))
        result, _ = run_script(["_hasdata_recipe.py", api_url, API_KEY, job, target, str(POLL)])
        assert result["rows"] == rows, result
        assert not feed or lines(out) == rows
    finally:
        shutil.rmtree(work)
    return {
        "run": "recipe (requests, sequential)",
        "rows": result["rows"],
        "seconds": round(result["seconds"], 2),
        "rows/s": round(result["rows"] / result["seconds"]),
        "CPU s": round(result["cpu_s"], 2),
        "crawl CPU s": None,
        "peak RSS MiB": round(result["max_rss_kib"] / 1024, 1),
    }


def package(
    api_url: str, rows: int, *, feed: bool = False, profile: str | None = None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    try:
        out = work / "rows.jsonl"
        settings = {
            "HASDATA_API_URL": api_url,
            "HASDATA_API_KEY": API_KEY,
            "HASDATA_JOBS": f"@{write_job(work, rows // 5)}",
            "HASDATA_POLL_FIRST_DELAY": str(POLL),
            "HASDATA_POLL_MAX_DELAY": str(POLL),
            "HASDATA_STATE_FILE": str(work / "state.json"),
        }
        if feed:
            settings["FEEDS"] = json.dumps({str(out): {"format": "jsonlines"}})
        stats, _ = run_crawl(SPIDER, settings, profile=profile)
        delivered = int(stats.get("item_scraped_count", 0))
        assert delivered == rows, (delivered, rows)
        assert not feed or lines(out) == rows
    finally:
        shutil.rmtree(work)
    elapsed = float(stats["elapsed_time_seconds"])
    return {
        "run": "scrapy-wds",
        "rows": delivered,
        "seconds": round(elapsed, 2),
        "rows/s": round(delivered / elapsed),
        "CPU s": stats["bench/cpu_s"],
        "crawl CPU s": stats["bench/crawl_cpu_s"],
        "peak RSS MiB": round(stats["bench/max_rss_kib"] / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to every API answer"
    )
    parser.add_argument("--profile", help="write the package run's cProfile stats here")
    parser.add_argument(
        "--feed", action="store_true", help="both write every row to a JSON-lines file"
    )
    args = parser.parse_args()

    with (
        HasDataEmulator(api_key=API_KEY) as emulator,
        LatencyProxy(emulator.url, latency=args.latency) as proxy,
    ):
        print(
            f"one job of {args.rows} rows, {args.latency * 1000:g} ms added per API answer "
            f"({load_average()})",
            flush=True,
        )
        base = recipe(proxy.url, args.rows, args.feed)
        ours = package(proxy.url, args.rows, feed=args.feed, profile=args.profile)
        print_table([base, ours])
        ratio = ours["rows/s"] / base["rows/s"]
        print(
            f"rows/s, scrapy-wds / recipe: {ratio:.1f}x (goal >= {RATIO_GOAL:g}x: "
            f"{'met' if ratio >= RATIO_GOAL else 'NOT met'}); crawl-process CPU per row: "
            f"{ours['CPU s'] / ours['rows'] * 1e6:.0f} us, "
            f"{ours['crawl CPU s'] / ours['rows'] * 1e6:.0f} us of it while the spider was open\n",
            flush=True,
        )

        by_size = {}
        for size in sorted({10_000, 50_000, 100_000, args.rows}):
            emulator.reset()  # the emulator lives in this process: drop the jobs it holds
            by_size[size] = ours if size == args.rows else package(proxy.url, size, feed=args.feed)
        table = [by_size[n] for n in sorted(by_size)]
        print_table(table)
        growth = by_size[max(by_size)]["peak RSS MiB"] - by_size[min(by_size)]["peak RSS MiB"]
        print(
            f"peak RSS growth {min(by_size)} -> {max(by_size)} rows: {growth:.1f} MiB "
            f"(goal < {RSS_GOAL_MIB:g} MiB: {'met' if growth < RSS_GOAL_MIB else 'NOT met'})"
        )
        print(f"at the end: {load_average()}")


if __name__ == "__main__":
    main()
