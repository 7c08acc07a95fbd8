"""A job whose rows include identical content delivers every one of them.

The emulator's ``contacts`` scraper gives one row per input URL, so a URL
listed three times gives three identical rows (with three row ids). Paging
is the source of truth: each of them reaches the pipelines, with webhooks off
and in every webhook delivery mode (where a webhook row must be matched by
exactly one paged row, never by all of its twins).
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.task import LoopingCall

from scrapy_wds._hasdata._row_keys import canonical_json
from scrapy_wds.testing import DemoSite, HasDataEmulator

from ._crawls import jobs_crawler
from ._http import request


def _get(url: str) -> Any:
    with urllib.request.urlopen(url) as answer:
        return json.loads(answer.read())


def _contact_pages(site: DemoSite) -> list[str]:
    pages = sorted(_get(site.url + "/__truth__/contacts.json"))
    assert len(pages) >= 2
    return pages[:2]


async def _paged_rows(emulator: HasDataEmulator) -> Counter[str]:
    jobs = (await request(b"GET", f"{emulator.url}/__emulator__/jobs")).json()
    assert len(jobs) == 1
    page = await request(
        b"GET",
        f"{emulator.url}/scrapers/jobs/{jobs[0]['id']}/results?page=1&limit=100",
        headers={"x-api-key": emulator.api_key},
    )
    wrapped = page.json()["data"]
    assert len({row["id"] for row in wrapped}) == len(wrapped)  # ids differ, content may not
    return Counter(canonical_json(row["data"]) for row in wrapped)


def _crawler(
    emulator: HasDataEmulator,
    tmp_path: Path,
    urls: list[str],
    webhooks: bool,
    *,
    json_file: bool = False,
) -> tuple[Crawler, list[Any]]:
    return jobs_crawler(
        emulator,
        tmp_path,
        [{"scraper": "contacts", "input": {"urls": urls}}],
        HASDATA_WEBHOOK_ENABLED=webhooks,
        HASDATA_USE_JSON_FILE=json_file,  # bare rows: known by their place in the file
        HASDATA_PAGE_LIMIT=1,  # a page per row: a close can fall between twins
        HASDATA_POLL_FIRST_DELAY=0.02,
        HASDATA_POLL_MAX_DELAY=0.05,
    )


@pytest.mark.parametrize(
    ("webhooks", "mode", "batch", "json_file"),
    [
        (False, None, None, False),
        (False, None, None, True),
        (True, "in_order", 1, False),
        (True, "in_order", 1, True),
        (True, "in_order", 4, False),  # all twins in one callback
        (True, "duplicated", 1, False),
        (True, "shuffled", 2, False),
        (True, "dropped", 1, False),
    ],
)
@pytest_twisted.ensureDeferred
async def test_identical_rows_are_all_delivered(
    hasdata_emulator: HasDataEmulator,
    demo_site: DemoSite,
    tmp_path: Path,
    webhooks: bool,
    mode: str | None,
    batch: int | None,
    json_file: bool,
) -> None:
    twin, other = _contact_pages(demo_site)
    if webhooks:
        hasdata_emulator.configure(webhook_mode=mode, webhook_batch=batch, job_polls=4)
    urls = [twin, other, twin, twin]
    crawler, items = _crawler(hasdata_emulator, tmp_path, urls, webhooks, json_file=json_file)
    await crawler.crawl()

    paged = await _paged_rows(hasdata_emulator)
    assert sorted(paged.values()) == [1, 3]  # the job really has three identical rows
    assert Counter(canonical_json(dict(item)) for item in items) == paged
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["item_scraped_count"] == 4
    if webhooks and mode != "dropped":
        # Callbacks that come once paging has begun are counted, not delivered:
        # paging reads those rows (all of them, when the batch is the whole job).
        came = stats.get("hasdata/rows/webhook", 0) + stats.get("hasdata/rows/webhook_late", 0)
        assert came > 0, "no row came by webhook"
    if json_file:
        assert stats.get("hasdata/json_file/used") == 1


@pytest_twisted.ensureDeferred
async def test_matching_goes_on_after_a_resume(
    hasdata_emulator: HasDataEmulator, demo_site: DemoSite, tmp_path: Path
) -> None:
    # Run 1 takes rows by webhook, then stops (as Ctrl-C would) before the job
    # ends. Run 2 resumes: HasData's callbacks go to run 1's dead receiver, so
    # it pages every row, and must skip exactly the ones run 1 delivered early.
    twin, other = _contact_pages(demo_site)
    urls = [twin, other, twin, twin]
    hasdata_emulator.configure(webhook_mode="in_order", webhook_batch=1, job_polls=20)
    first, first_items = _crawler(hasdata_emulator, tmp_path, urls, True)

    def close_after_two() -> None:
        engine = first.engine
        if len(first_items) >= 2 and engine is not None and engine.spider is not None:
            watcher.stop()
            deferred_from_coro(engine.close_spider_async(reason="shutdown"))

    watcher = LoopingCall(close_after_two)

    def watch() -> None:
        watcher.start(0.01)

    def unwatch() -> None:
        if watcher.running:
            watcher.stop()

    first.signals.connect(watch, signal=signals.spider_opened, weak=False)
    first.signals.connect(unwatch, signal=signals.spider_closed, weak=False)
    await first.crawl()
    assert first.stats is not None
    assert first.stats.get_value("finish_reason") == "shutdown"
    assert first.stats.get_value("hasdata/rows/pages", 0) == 0  # all of run 1 came early
    assert 2 <= len(first_items) < 4

    second, second_items = _crawler(hasdata_emulator, tmp_path, urls, True)
    await second.crawl()
    assert second.stats is not None
    assert second.stats.get_value("finish_reason") == "finished"
    assert second.stats.get_value("hasdata/jobs/resumed") == 1
    paged = await _paged_rows(hasdata_emulator)
    both = Counter(canonical_json(dict(item)) for item in first_items + second_items)
    assert both == paged
