"""Shared helpers of the HasData extension tests: in-process crawls of a jobs-only spider against the HasData emulator.

``crawl_jobs`` runs a real Scrapy crawl (the add-on, the extension, the item
pipelines, stats) in the test's reactor and returns what the pipelines got.
Poll and retry intervals are set tiny so tests stay fast; nothing asserts
on time, only on calls, rows and stats.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from scrapy_wds.testing import DemoSite, HasDataEmulator

API_KEY = "hasdata-test-key"

FAST = {
    "HASDATA_POLL_FIRST_DELAY": 0.02,
    "HASDATA_POLL_MAX_DELAY": 0.05,
    "HASDATA_RETRY_FIRST_DELAY": 0.01,
    "HASDATA_RETRY_MAX_DELAY": 0.05,
    "HASDATA_PROGRESS_INTERVAL": 0,
    "LOG_LEVEL": "INFO",
}


class JobsOnlySpider(scrapy.Spider):
    """Requests nothing: its items come from the HasData jobs in ``HASDATA_JOBS``."""

    name = "jobs_only"

    async def start(self):  # type: ignore[no-untyped-def]
        return
        yield


@dataclass
class CrawlResult:
    items: list[Any]
    stats: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.stats.get("finish_reason"))


def book_pages_job(site: DemoSite, **extra: Any) -> dict[str, Any]:
    """A ``crawler`` job over the demo site keeping the 200 book pages."""
    job: dict[str, Any] = {
        "scraper": "crawler",
        "input": {
            "urls": [site.url + "/"],
            "includePaths": [r"^/catalogue/book/(?!out-of-print)"],
            "limit": 0,
        },
    }
    job.update(extra)
    return job


def small_job(site: DemoSite, limit: int = 23, **extra: Any) -> dict[str, Any]:
    job = book_pages_job(site, **extra)
    job["input"]["limit"] = limit
    return job


async def crawl_jobs(
    emulator: HasDataEmulator,
    tmp_path: Path,
    jobs: list[dict[str, Any]],
    *,
    spider_cls: type[scrapy.Spider] = JobsOnlySpider,
    on_crawler: Callable[[Crawler], None] | None = None,
    **settings: Any,
) -> CrawlResult:
    all_settings: dict[str, Any] = {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "HASDATA_API_KEY": API_KEY,
        "HASDATA_API_URL": emulator.url,
        "HASDATA_JOBS": jobs,
        "HASDATA_STATE_FILE": str(tmp_path / "hasdata-state.json"),
        **FAST,
    }
    all_settings.update(settings)
    crawler = get_crawler(spider_cls, all_settings)
    items: list[Any] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    if on_crawler is not None:
        on_crawler(crawler)
    await crawler.crawl()
    assert crawler.stats is not None
    return CrawlResult(items=items, stats=crawler.stats.get_stats())


def emulator_jobs(emulator: HasDataEmulator) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{emulator.url}/__emulator__/jobs") as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def calls(emulator: HasDataEmulator, method: str, path_part: str) -> list[dict[str, Any]]:
    return [c for c in emulator.calls() if c["method"] == method and path_part in c["path"]]


def submits(emulator: HasDataEmulator) -> list[dict[str, Any]]:
    return [c for c in calls(emulator, "POST", "/scrapers/") if c["status"] == 200]


def close_once(crawler: Crawler, ready: Callable[[], bool], reason: str = "test_close") -> None:
    """Close the crawl (as Ctrl-C or CLOSESPIDER_* would) as soon as ``ready()`` holds."""
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet.task import LoopingCall

    def check() -> None:
        engine = crawler.engine
        if ready() and engine is not None and engine.spider is not None:
            watcher.stop()
            deferred_from_coro(engine.close_spider_async(reason=reason))

    watcher = LoopingCall(check)

    def start() -> None:
        watcher.start(0.01)

    def stop() -> None:
        if watcher.running:
            watcher.stop()

    crawler.signals.connect(start, signal=signals.spider_opened, weak=False)
    crawler.signals.connect(stop, signal=signals.spider_closed, weak=False)


@dataclass
class PageTitle:
    """An item class for the field_map tests."""

    page: str
    heading: str | None = None


@pytest.fixture
def book_truth(demo_site: DemoSite) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{demo_site.url}/__truth__/books.json") as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]
