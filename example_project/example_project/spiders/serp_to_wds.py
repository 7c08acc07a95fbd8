"""Search with HasData, scrape with WDS: the two services in one crawl.

1. A HasData ``google-serp`` job searches for the ``keywords`` (spider
   argument, comma-separated; default ``poetry``).  Its result rows go, as
   ``SerpHit`` objects, to the spider's ``on_hit`` method (the job's
   ``callback``), not to the item pipelines: they are inputs, not output.
2. Every hit that is a book page of the demo shop becomes a start URL of the
   spider's WDS job (started in batches while the search rows stream in).
3. WDS downloads those pages; each becomes a ``Book`` item, scraped with the
   same selectors as the ``books`` spider.

Against the local emulators (``python -m scrapy_wds.testing serve`` prints
the addresses, and points the HasData emulator's search at the demo site)::

    HASDATA_API_URL=http://127.0.0.1:8001 HASDATA_API_KEY=hasdata-test-key \\
    WDS_API_URL=http://127.0.0.1:2807 DEMO_SITE_URL=http://127.0.0.1:8000 \\
    scrapy crawl serp_to_wds -a keywords=poetry -O books.jsonl
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from example_project.items import BOOK_FIELDS, Book
from example_project.spiders.hasdata_contacts import demo_site_url
from scrapy_wds import HasDataJob, JobConfig, WdsSpiderMixin


@dataclass
class SerpHit:
    """One search result: an input of the crawl, never exported."""

    link: str
    keyword: str | None = None
    position: int | None = None
    title: str | None = None


class SerpToWdsSpider(WdsSpiderMixin, scrapy.Spider):
    name = "serp_to_wds"
    custom_settings: dict[str, Any] = {
        # The environment (when set) wins over the project's settings, so one
        # shell line points the spider at the emulator or at the real service.
        **(
            {"HASDATA_API_URL": os.environ["HASDATA_API_URL"]}
            if os.environ.get("HASDATA_API_URL")
            else {}
        ),
    }
    #: Which hits are worth scraping: book pages of the shop.
    book_path = re.compile(r"^/catalogue/book/")
    #: Start URLs per WDS "start job" call; the rest go when the spider idles.
    seed_batch = 20
    wds_start_callback = "parse_book"

    def __init__(self, *args: Any, keywords: str = "poetry", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keywords = [k.strip() for k in keywords.split(",") if k.strip()]
        if not self.keywords:
            raise ValueError("-a keywords= is empty; give one or more comma-separated keywords")
        self._seen: set[str] = set()
        self._pending: list[str] = []
        self._starting: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SerpToWdsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._start_pending, signal=signals.spider_idle)
        return spider

    # -- HasData: the search -------------------------------------------------------

    def hasdata_jobs(self) -> list[HasDataJob]:
        return [
            HasDataJob(
                scraper="google-serp",
                input={"keywords": self.keywords, "limit": 0},
                item_class=SerpHit,
                field_map={
                    "link": "link",
                    "keyword": "keyword",
                    "position": "position",
                    "title": "title",
                },
                content_key="link",
                callback="on_hit",
            )
        ]

    def on_hit(self, hit: SerpHit) -> Iterator[scrapy.Request]:
        """Every search hit (the job's callback); a full batch starts WDS work."""
        shop = urlsplit(demo_site_url(self.settings))
        link = urlsplit(hit.link)
        if link.netloc != shop.netloc or not self.book_path.search(link.path):
            return
        if hit.link in self._seen:  # several keywords can find the same page
            return
        self._seen.add(hit.link)
        self._pending.append(hit.link)
        if len(self._pending) >= self.seed_batch:
            yield self._start_pending_request()

    # -- WDS: the pages -------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        # Nothing yet: start URLs come from the search rows as they arrive.
        return
        yield

    def wds_job_config(self) -> JobConfig:
        # "Start job" on a running job adds these start URLs to it.
        return JobConfig(start_urls=list(self._starting), type="Intranet")

    def _start_pending_request(self) -> scrapy.Request:
        self._starting, self._pending = self._pending, []
        return self.wds_start_request()

    def _start_pending(self, *args: Any, **kwargs: Any) -> None:
        # spider_idle: the search may end with fewer than seed_batch hits left.
        if self._pending:
            self.crawler.engine.crawl(self._start_pending_request())
            raise DontCloseSpider()

    def parse_book(self, response: Response) -> Iterator[scrapy.Request]:
        task = self.wds_task(response)
        if not task.page_ok:
            self.logger.warning("Skipping %s: HTTP status %s", task.url, task.http_status)
            return
        yield self.wds_scrape_multiple(response, BOOK_FIELDS, item_class=Book, url_field="url")
