"""Benchmark: rows per second from a big HasData job, pages fetched concurrently vs one by one.

Submits one synthetic ``amazon-search`` job to the local HasData emulator
(5 rows per keyword, so 1,000 keywords give 5,000 rows; the emulator's
synthetic scrapers are documented in docs/emulator-hasdata.md), and drains
it with HASDATA_PAGE_CONCURRENCY = 1 (sequential paging, the baseline) and
with the default (8), each in a fresh process.  A loopback proxy adds a
delay to every answer to play a network round trip (``--latency``, 0 for
bare loopback).  Prints rows delivered, pages, rows/s, the ratio, and each
process's peak RSS.  Then the same job and one 4x bigger are drained with
tracemalloc on: the growth of the peak of Python allocations per extra row,
next to the size of a row as a Python dict, shows whether rows accumulate or
stream (what stays per row is its content key, kept for exactly-once delivery).

    .venv/bin/python bench/hasdata_paging.py [--keywords 1000] [--latency 0.05]

Loopback only; about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _fresh_process import load_average, run_crawl
from _hasdata_runs import API_KEY, SPIDER, write_job
from _latency_proxy import LatencyProxy
from _table import print_table

from scrapy_wds.testing import HasDataEmulator


def drain(
    proxy_url: str, keywords: int, concurrency: int | None, *, trace: bool = False
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    settings = {
        "HASDATA_API_URL": proxy_url,
        "HASDATA_API_KEY": API_KEY,
        "HASDATA_JOBS": f"@{write_job(work, keywords)}",
        "HASDATA_POLL_FIRST_DELAY": "0.05",
        "HASDATA_POLL_MAX_DELAY": "0.05",
    }
    if concurrency is not None:
        settings["HASDATA_PAGE_CONCURRENCY"] = str(concurrency)
    if trace:
        settings["BENCH_TRACEMALLOC"] = "1"
    try:
        stats, wall = run_crawl(SPIDER, settings)
    finally:
        shutil.rmtree(work)
    rows = int(stats.get("item_scraped_count", 0))
    if rows != keywords * 5:
        sys.exit(f"expected {keywords * 5} rows, the crawl delivered {rows}")
    elapsed = float(stats["elapsed_time_seconds"])
    return {
        "HASDATA_PAGE_CONCURRENCY": concurrency if concurrency is not None else "default",
        "rows": rows,
        "pages": stats.get("hasdata/pages", 0),
        "crawl s": round(elapsed, 2),
        "wall s": round(wall, 2),
        "rows/s": round(rows / elapsed),
        "peak RSS MiB": round(stats["bench/max_rss_kib"] / 1024, 1),
        **(
            {
                "traced peak MiB": round(stats["bench/traced_peak_kib"] / 1024, 1),
                "traced at end MiB": round(stats["bench/traced_end_kib"] / 1024, 1),
            }
            if trace
            else {}
        ),
    }


def row_dict_bytes() -> int:
    """Rough size of one synthetic row held as a Python dict (the dict, its keys and values)."""
    row = {
        "input": "keyword 123",
        "inputField": "keywords",
        "position": 3,
        "id": "0123456789abcdef0123456789abcdef01234567",
        "title": "amazon-search result 3 for keyword 123",
        "url": "https://example.invalid/amazon-search/keyword%20123/3",
    }
    return sys.getsizeof(row) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in row.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keywords", type=int, default=1000, help="5 rows each")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to every API answer"
    )
    args = parser.parse_args()

    with (
        HasDataEmulator(api_key=API_KEY) as emulator,
        LatencyProxy(emulator.url, latency=args.latency) as proxy,
    ):
        print(
            f"job of {args.keywords * 5} rows, {args.latency * 1000:g} ms added per API answer "
            f"({load_average()})",
            flush=True,
        )
        sequential = drain(proxy.url, args.keywords, 1)
        concurrent = drain(proxy.url, args.keywords, None)
        print_table([sequential, concurrent])
        print(
            f"rows/s, default concurrency / sequential: {concurrent['rows/s'] / sequential['rows/s']:.1f}x",
            flush=True,
        )

        print("\nmemory (tracemalloc on, default concurrency):", flush=True)
        small = drain(proxy.url, args.keywords, None, trace=True)
        big = drain(proxy.url, args.keywords * 4, None, trace=True)
        print_table([small, big])
        extra_rows = big["rows"] - small["rows"]
        per_row = (big["traced peak MiB"] - small["traced peak MiB"]) * 2**20 / extra_rows
        print(
            f"traced peak grows {per_row:.0f} bytes per extra row; one row as a dict is "
            f"~{row_dict_bytes()} bytes"
        )
        print(f"at the end: {load_average()}")


if __name__ == "__main__":
    main()
