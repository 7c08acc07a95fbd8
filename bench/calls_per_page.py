"""Benchmark: API calls per page, for the example spiders, with and without the info call.

Crawls the demo site's books (one WDS job) with ``books_rules`` and ``books``
as they are, and with their info-first twins (every task asked ``info`` before
its callback, as all spiders did before), against the same emulator, each
task answering "not yet" ``--pending-polls`` times first (202, or for
``info`` a 200 with a pending state: the emulator's default reading).
Counts, per page (task), the calls answered 200 for good, the "not yet"
answers, and the ``info`` calls, from the emulator's call log.

    .venv/bin/python bench/calls_per_page.py [--pending-polls 2]

Goal (issue 11): ``books_rules`` makes 0 info calls and at most 2 calls
answered 200 per task; ``books`` no more calls than before.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from _table import print_table
from _wds_runs import run_crawl, task_of

from scrapy_wds.testing import DemoSite, WdsEmulator

SPIDERS = [
    ("books_rules", "example_project.spiders.books_rules:BooksRulesSpider"),
    ("books_rules, info first (before)", "_info_first_spiders:BooksRulesInfoFirst"),
    ("books", "example_project.spiders.books:BooksSpider"),
    ("books, info first (before)", "_info_first_spiders:BooksInfoFirst"),
]
FAST_POLLS = {"WDS_POLL_FIRST_DELAY": "0.05", "WDS_POLL_MAX_DELAY": "0.2"}


def waiting(call: dict[str, Any]) -> bool:
    """A "not yet" answer: 202, or an info 200 whose state is pending (the emulator marks both)."""
    return bool(call.get("pending")) or call["status"] == 202


def summary(name: str, run: dict[str, Any]) -> dict[str, Any]:
    tasks = [c for c in run["calls"] if task_of(c) is not None]
    pages = len({task_of(c) for c in tasks})
    answered = Counter(task_of(c) for c in tasks if c["status"] == 200 and not waiting(c))
    return {
        "spider": name,
        "items": run["stats"].get("item_scraped_count", 0),
        "pages": pages,
        "info calls": sum(1 for c in tasks if c["path"].endswith("/info")),
        "answered 200": sum(answered.values()),
        "not yet answers": sum(1 for c in tasks if waiting(c)),
        "200 per page": round(sum(answered.values()) / pages, 2),
        "max 200 per page": max(answered.values()),
        "all calls per page": round(len(tasks) / pages, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pending-polls", type=int, default=2, help="202 answers per task before it is ready"
    )
    args = parser.parse_args()
    rows = {}
    with DemoSite() as site, WdsEmulator(pending_polls=args.pending_polls) as emulator:
        for name, spider in SPIDERS:
            rows[name] = summary(
                name, run_crawl(spider, emulator, {"DEMO_SITE_URL": site.url, **FAST_POLLS})
            )
    print(f"demo site books, each task 'not yet' x{args.pending_polls} before ready")
    print_table(list(rows.values()))
    rules, books, before = rows["books_rules"], rows["books"], rows["books, info first (before)"]
    rules_ok = rules["info calls"] == 0 and rules["max 200 per page"] <= 2
    print(
        f"books_rules: {rules['info calls']} info calls, at most {rules['max 200 per page']} calls answered "
        f"200 per page, {rules['200 per page']} on average (goal: 0 and <= 2: {'met' if rules_ok else 'NOT met'})"
    )
    ratio = books["all calls per page"] / before["all calls per page"]
    print(
        f"books: {books['all calls per page']} calls per page, {ratio:.2f}x before "
        f"(goal <= 1x: {'met' if ratio <= 1 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
