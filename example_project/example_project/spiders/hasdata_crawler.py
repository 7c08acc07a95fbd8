"""Every book page of the demo site through HasData's ``crawler`` scraper.

The spider itself requests nothing: it declares one HasData job, and the
HasData extension (enabled by the add-on when a key is set) submits it,
polls it and streams its rows into the item pipelines as ``BookPage`` items.
Run it against the local emulators (``python -m scrapy_wds.testing serve``
prints the addresses)::

    HASDATA_API_URL=http://127.0.0.1:8001 HASDATA_API_KEY=hasdata-test-key \\
    DEMO_SITE_URL=http://127.0.0.1:8000 scrapy crawl hasdata_crawler -O pages.jsonl

``HASDATA_API_URL`` and ``DEMO_SITE_URL`` are read by the project settings
from the environment, ``HASDATA_API_KEY`` by the extension (setting or
environment).  Stop it with Ctrl-C and start it again: the job is not paid
for twice, and rows already delivered are not delivered again.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import scrapy

from scrapy_wds import HasDataJob


@dataclass
class BookPage:
    url: str
    title: str | None = None
    status: int | None = None
    depth: int | None = None
    text: str | None = None


class HasDataCrawlerSpider(scrapy.Spider):
    name = "hasdata_crawler"
    # The environment (when set) wins over the project's settings, so one
    # shell line points the spider at the emulator or at the real service
    # (and may poll the emulator faster than HasData's 10 s).
    custom_settings = {
        name: os.environ[name]
        for name in ("HASDATA_API_URL", "HASDATA_POLL_FIRST_DELAY")
        if os.environ.get(name)
    }

    def hasdata_jobs(self) -> list[HasDataJob]:
        site = self.settings.get("DEMO_SITE_URL") or os.environ.get("DEMO_SITE_URL")
        if not site:
            raise ValueError(
                "DEMO_SITE_URL is not set: give the demo site's address (python -m "
                "scrapy_wds.testing serve prints it), e.g. DEMO_SITE_URL=http://127.0.0.1:8000"
            )
        return [
            HasDataJob(
                scraper="crawler",
                input={
                    "urls": [site.rstrip("/") + "/"],
                    # Crawl the whole shop, keep one row per book page (the
                    # footer's dead "out-of-print" links are not books).
                    "includePaths": [r"^/catalogue/book/(?!out-of-print)"],
                    "outputFormat": ["text"],
                    "limit": 0,
                },
                item_class=BookPage,
                field_map={
                    "url": "url",
                    "title": "title",
                    "status": "statusCode",
                    "depth": "depth",
                    "text": "text",
                },
                content_key="url",
            )
        ]

    async def start(self) -> AsyncIterator[Any]:
        # Nothing to download here: the rows come from the HasData job.
        return
        yield
