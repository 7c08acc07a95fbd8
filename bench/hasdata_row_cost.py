"""Benchmark: the package's own CPU per HasData row, next to Scrapy's own per item.

In a real crawl (no HTTP), pages of 100 synthetic rows go through, timed
page by page with the process's CPU clock, two ways:

* **Scrapy alone**: each row handed to ``scraper.start_itemproc_async``
  (the pipelines, ``item_scraped``, the "Scraped from" record), as the
  package does; nothing else;
* **the package**: each page through ``ItemPusher.deliver``, the path of
  every paged row (ledger check, row to item, the same Scrapy call, the
  side-file line written to the operating system, closing checks).

The difference is what the package adds per row.  Minimum and median per
row over the pages (the minimum is the least disturbed by other work on
the machine), each way in a fresh process, ``--rounds`` times alternating.

    .venv/bin/python bench/hasdata_row_cost.py [--pages 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from _fresh_process import load_average, run_script
from scrapy.crawler import CrawlerProcess

ROWS_PER_PAGE = 100


def page_rows(page: int) -> list[dict[str, Any]]:
    return [
        {
            "input": f"keyword {page}",
            "inputField": "keywords",
            "position": i,
            "title": f"amazon-search result {i} for keyword {page}",
            "url": f"https://example.invalid/amazon-search/keyword%20{page}/{i}",
        }
        for i in range(ROWS_PER_PAGE)
    ]


class CostSpider(scrapy.Spider):
    name = "row_cost"
    way = "package"
    pages = 300
    per_row_us: list[float]

    async def start(self) -> AsyncIterator[Any]:
        self.task = asyncio.ensure_future(self.run())  # held: asyncio keeps tasks weakly
        return
        yield

    async def run(self) -> None:
        from scrapy_wds import HasDataJob
        from scrapy_wds._hasdata._delivery import ItemPusher
        from scrapy_wds._hasdata._ledger import JobLedger
        from scrapy_wds._hasdata._state import StateFile

        assert self.crawler.engine is not None
        job = HasDataJob("amazon-search", {"keywords": ["x"]})
        state = StateFile(tempfile.mkdtemp() + "/state.json")
        state.record(job.key, job.scraper, "http://127.0.0.1")
        ledger = JobLedger(job.key, state)
        pusher = ItemPusher(self.crawler)
        push = self.crawler.engine.scraper.start_itemproc_async
        self.per_row_us = []
        for page in range(self.pages):
            rows = page_rows(page)
            started = time.process_time()
            if self.way == "scrapy":
                for row in rows:
                    await push(row, response=None)
            else:
                await pusher.deliver(
                    job, ledger, rows, "pages", first_position=page * ROWS_PER_PAGE
                )
            self.per_row_us.append((time.process_time() - started) / ROWS_PER_PAGE * 1e6)
        state.close()


def one_way(way: str, pages: int) -> None:
    """Runs in a fresh process: one crawl, prints min and median µs per row as JSON."""
    process = CrawlerProcess(settings={"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False})
    crawler = process.create_crawler(CostSpider)
    process.crawl(crawler, way=way, pages=pages)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, CostSpider)
    assert crawler.stats is not None
    assert crawler.stats.get_value("item_scraped_count") == pages * ROWS_PER_PAGE
    times = spider.per_row_us
    print(json.dumps({"min": min(times), "median": statistics.median(times)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--way", choices=("scrapy", "package"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        one_way(args.way, args.pages)
        return
    started_at = load_average()
    found: dict[str, list[dict[str, float]]] = {"scrapy": [], "package": []}
    for _ in range(args.rounds):
        for way in found:
            result, _ = run_script([__file__, "--way", way, "--pages", str(args.pages)])
            found[way].append(result)
    print(f"{args.pages} pages of {ROWS_PER_PAGE} rows, CPU µs per row (min / median over pages)")
    print(f"at the start: {started_at}; at the end: {load_average()}")
    for way, runs in found.items():
        cells = ", ".join(f"{run['min']:.1f} / {run['median']:.1f}" for run in runs)
        print(f"{'Scrapy alone' if way == 'scrapy' else 'the package':>13}: {cells}")
    scrapy_min = min(run["min"] for run in found["scrapy"])
    package_min = min(run["min"] for run in found["package"])
    print(
        f"the package's own per row: {package_min - scrapy_min:.1f} µs "
        f"({(package_min - scrapy_min) / package_min:.0%} of delivering a row; best of each way)"
    )


if __name__ == "__main__":
    main()
