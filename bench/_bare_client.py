"""Baseline for ``pages_per_second.py``: the package's calls made by a bare asyncio (aiohttp) client.

Usage: python _bare_client.py API_URL CONCURRENCY FIRST_DELAY MAX_DELAY rules DEMO_SITE_URL
       python _bare_client.py API_URL CONCURRENCY FIRST_DELAY MAX_DELAY wide URLS_FILE

``rules``: the calls the package makes for ``BooksRulesSpider`` (its rules,
read from the spider class; URLs built by the package's own URL function),
following each page found.  ``wide``: a job of the URLs in the file, and the
two calls ``_wide_spider.WideSpider`` makes per page.  Both make the calls
at most CONCURRENCY in flight, 202 answers polled again after the same
capped backoff (no slot held while waiting), each page followed once by
canonical URL, and a task's calls made one after another (so only its first
call waits, as the package's gate does).  No Scrapy: what is left is HTTP,
JSON and asyncio.  Prints ``{"pages": N, "items": M}`` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
from _wide_spider import LINKS
from example_project.items import BOOK_FIELDS
from example_project.spiders.books_rules import BooksRulesSpider
from w3lib.url import canonicalize_url

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._selectors import FieldSpec, parse_fields, parse_selector

Call = tuple[re.Pattern[str] | None, str, list[tuple[str, str]]]


def scrape_multiple_params(fields: dict[str, FieldSpec]) -> list[tuple[str, str]]:
    params = []
    for index, field in enumerate(parse_fields(fields, where="")):
        params += [
            (f"scrapeParams[{index}].name", field.name),
            (f"scrapeParams[{index}].selector", field.selector.wire),
        ]
        if field.attribute is not None:
            params.append((f"scrapeParams[{index}].attributeName", field.attribute))
    return params


def rule_calls() -> list[Call]:
    """(URL pattern, endpoint, query) per rule of the spider."""
    calls: list[Call] = []
    for rule in BooksRulesSpider.rules:
        pattern = re.compile(rule.on) if rule.on else None
        if rule.follow is not None:
            calls.append(
                (pattern, "crawl", [("selector", parse_selector(rule.follow, where="").wire)])
            )
        else:
            assert rule.scrape is not None
            calls.append((pattern, "scrape-multiple", scrape_multiple_params(dict(rule.scrape))))
    return calls


def wide_calls() -> list[Call]:
    """The two calls of ``WideSpider`` per page."""
    return [
        (None, "scrape-multiple", scrape_multiple_params(BOOK_FIELDS)),
        (
            None,
            "scrape",
            [("selector", parse_selector(LINKS, where="").wire), ("attributeName", "href")],
        ),
    ]


class BareClient:
    def __init__(
        self, api_url: str, calls: list[Call], concurrency: int, first: float, cap: float
    ) -> None:
        self.api = WdsApi(api_url)
        self.calls = calls
        self.slots = asyncio.Semaphore(concurrency)
        self.first, self.cap = first, cap
        self.seen: set[str] = set()
        self.running: set[asyncio.Task[None]] = set()
        self.pages = self.items = 0
        self.session: aiohttp.ClientSession

    async def call(self, method: str, url: str, body: Any = None) -> tuple[int, bytes]:
        attempt = 0
        while True:
            async with (
                self.slots,
                self.session.request(
                    method,
                    url,
                    json=body,
                    headers={"X-Tenant-Id": "default", "Accept": "application/json"},
                ) as answer,
            ):
                status, data = answer.status, await answer.read()
            if status != 202:
                return status, data
            await asyncio.sleep(backoff_delay(attempt, first=self.first, cap=self.cap))
            attempt += 1

    def follow(self, tasks: list[dict[str, str]]) -> None:
        for task in tasks:
            key = canonicalize_url(task["Url"])
            if key not in self.seen:
                self.seen.add(key)
                job = asyncio.create_task(self.page(task["Id"], task["Url"]))
                self.running.add(job)
                job.add_done_callback(self.running.discard)

    async def page(self, task_id: str, url: str) -> None:
        self.pages += 1
        for pattern, endpoint, params in self.calls:
            if pattern is not None and not pattern.search(url):
                continue
            status, data = await self.call("GET", self.api.task_url(task_id, endpoint, params))
            if status != 200:
                continue
            answer = json.loads(data)
            if endpoint == "crawl":
                self.follow(answer)
            elif endpoint == "scrape-multiple":
                self.items += 1

    async def run(self, job: str, start_urls: list[str]) -> None:
        async with aiohttp.ClientSession() as self.session:
            config = {"StartUrls": start_urls, "Type": "Intranet"}
            status, data = await self.call("POST", self.api.start_url(job), config)
            assert status == 200, data
            self.follow(json.loads(data))
            while self.running:
                await asyncio.gather(*list(self.running))


def main(argv: list[str]) -> None:
    api_url, concurrency, first, cap, mode, where = argv
    calls = rule_calls() if mode == "rules" else wide_calls()
    client = BareClient(api_url, calls, int(concurrency), float(first), float(cap))
    if mode == "rules":
        asyncio.run(client.run("books_rules", [where.rstrip("/") + "/"]))
    else:
        asyncio.run(client.run("wide", Path(where).read_text().split()))
    print(json.dumps({"pages": client.pages, "items": client.items}))


if __name__ == "__main__":
    main(sys.argv[1:])
