"""The wide benchmark's calls made by a plain Scrapy spider, without scrapy-wds: Scrapy's own floor.

The same job start and, for each task, the same two calls as
``_wide_spider.WideSpider`` and ``_bare_client.py wide`` (the query strings
come from the bare client, built by the package's own URL function), as plain
``scrapy.Request`` objects with plain callbacks: ``json.loads`` of each
answer, one dict item per scrape-multiple answer.  No add-on, no waiting
room, no ledger: what is left is Scrapy's own path per request (scheduler,
dupefilter, downloader and its middlewares, the Twisted HTTP client, the
scraper and the spider middlewares).  No 202 handling either: in
``pages_per_second.py`` every page is downloaded already, so every call
answers 200 (any other answer is counted as ``bench/not_ok``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from _bare_client import wide_calls
from scrapy.http import Response

from scrapy_wds._wds._api import WdsApi

HEADERS = {"X-Tenant-Id": "default", "Accept": "application/json"}


class PlainScrapySpider(scrapy.Spider):
    name = "wide"  # the same job as the wide spider's
    handle_httpstatus_all = True

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.api = WdsApi(self.settings["BENCH_API_URL"])
        self.calls = [(endpoint, params) for _, endpoint, params in wide_calls()]
        urls = Path(self.settings["BENCH_START_URLS"]).read_text().split()
        yield scrapy.Request(
            self.api.start_url(self.name),
            method="POST",
            body=json.dumps({"StartUrls": urls, "Type": "Intranet"}),
            headers={**HEADERS, "Content-Type": "application/json"},
            callback=self.tasks,
        )

    def tasks(self, response: Response) -> Iterator[scrapy.Request]:
        callbacks = {"scrape-multiple": self.item, "scrape": self.links}
        for task in json.loads(response.body):
            for endpoint, params in self.calls:
                yield scrapy.Request(
                    self.api.task_url(task["Id"], endpoint, params),
                    headers=HEADERS,
                    callback=callbacks[endpoint],
                )

    def item(self, response: Response) -> Any:
        if response.status != 200:
            self.crawler.stats.inc_value("bench/not_ok")
            return None
        return {
            entry["Name"]: entry["Values"][0]
            for entry in json.loads(response.body)
            if entry["Values"]
        }

    def links(self, response: Response) -> None:
        if response.status != 200:
            self.crawler.stats.inc_value("bench/not_ok")
            return
        json.loads(response.body)
        self.crawler.stats.inc_value("bench/links_answers")
