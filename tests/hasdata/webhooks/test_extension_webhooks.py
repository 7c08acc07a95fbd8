"""Full crawls with webhooks on: every row exactly once, whatever HasData's delivery does.

Real Scrapy crawls (the add-on, the HasData extension and its receiver) in the
test's reactor, against the HasData emulator, which calls the receiver back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.task import deferLater

from scrapy_wds._hasdata._row_keys import row_content_key
from scrapy_wds.testing import HasDataEmulator

from ._crawls import jobs_crawler
from ._http import post, request

KEYWORDS = ["lamp", "desk", "chair", "shelf"]
ROWS = 5 * len(KEYWORDS)  # the synthetic scrapers give 5 rows per input value
JOB = {"scraper": "amazon-search", "input": {"keywords": KEYWORDS}}


def _crawler(
    emulator: HasDataEmulator, tmp_path: Path, **settings: Any
) -> tuple[Crawler, list[Any]]:
    return jobs_crawler(emulator, tmp_path, [JOB], **settings)


async def _paged_keys(emulator: HasDataEmulator) -> Counter[str]:
    """Content keys of every row of the emulator's (only) job, read by paging."""
    jobs = (await request(b"GET", f"{emulator.url}/__emulator__/jobs")).json()
    assert len(jobs) == 1
    page = await request(
        b"GET",
        f"{emulator.url}/scrapers/jobs/{jobs[0]['id']}/results?page=1&limit=100",
        headers={"x-api-key": emulator.api_key},
    )
    return Counter(row_content_key(wrapped["data"]) for wrapped in page.json()["data"])


@pytest.mark.parametrize("mode", ["in_order", "shuffled", "duplicated", "dropped"])
@pytest_twisted.ensureDeferred
async def test_every_row_once_in_every_delivery_mode(
    hasdata_emulator: HasDataEmulator, tmp_path: Path, mode: str
) -> None:
    # A job that needs a few polls, so callbacks arrive while it runs.
    hasdata_emulator.configure(webhook_mode=mode, webhook_batch=3, job_polls=4)
    crawler, items = _crawler(hasdata_emulator, tmp_path)
    await crawler.crawl()

    keys = Counter(row_content_key(dict(item)) for item in items)
    assert keys == await _paged_keys(hasdata_emulator)
    assert len(items) == ROWS
    accepted = [e for e in hasdata_emulator.webhook_deliveries() if e["status"] == 200]
    assert any(e["event"] == "scraper.data.scraped" for e in accepted), "no rows by webhook"
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["item_scraped_count"] == ROWS
    assert stats.get("hasdata/rows") == ROWS


async def _wait_for_submitted_webhook(emulator: HasDataEmulator) -> dict[str, Any]:
    from twisted.internet import reactor

    for _ in range(500):
        jobs = (await request(b"GET", f"{emulator.url}/__emulator__/jobs")).json()
        if jobs and "webhook" in jobs[0]["input"]:
            return dict(jobs[0]["input"]["webhook"])
        await deferLater(reactor, 0.01, lambda: None)  # type: ignore[arg-type]
    pytest.fail("no job with a webhook was submitted")


@pytest_twisted.ensureDeferred
async def test_forged_and_oversized_callbacks_are_refused_during_a_crawl(
    hasdata_emulator: HasDataEmulator, tmp_path: Path
) -> None:
    # Long enough for the test to call the receiver while the job runs.
    hasdata_emulator.configure(webhook_batch=3, job_polls=30)
    crawler, items = _crawler(hasdata_emulator, tmp_path, HASDATA_WEBHOOK_MAX_BODY=2048)
    crawling = deferred_from_coro(crawler.crawl())

    webhook = await _wait_for_submitted_webhook(hasdata_emulator)
    job_id = (await request(b"GET", f"{hasdata_emulator.url}/__emulator__/jobs")).json()[0]["id"]
    secret = webhook["headers"]["X-Webhook-Secret"]
    assert webhook["url"].startswith("http://127.0.0.1:")
    forged_row = {"title": "forged row", "url": "https://attacker.invalid/"}
    forged = {"event": "scraper.data.scraped", "jobId": job_id, "data": [forged_row]}
    assert (await post(webhook["url"], forged, secret="guessed-" + secret)).status == 401
    assert (await post(webhook["url"], forged, secret=None)).status == 401
    padded = dict(forged, data=[dict(forged_row, pad="x" * 4096)])
    assert (await post(webhook["url"], padded, secret=secret)).status == 413
    assert (await post(webhook["url"], padded, secret=secret, declare_length=False)).status == 413
    await crawling

    assert all(dict(item).get("title") != "forged row" for item in items)
    keys = Counter(row_content_key(dict(item)) for item in items)
    assert keys == await _paged_keys(hasdata_emulator)
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats.get("hasdata/webhook/unauthorized") == 2
    assert stats.get("hasdata/webhook/too_large") == 2
    assert stats.get("hasdata/webhook/accepted", 0) > 0
    # Secrets stay out of what the crawl leaves behind.
    assert secret not in repr(stats)
    for left_behind in tmp_path.rglob("*"):  # the state file and its side files
        if left_behind.is_file():
            assert secret not in left_behind.read_text(errors="replace"), left_behind.name


@pytest.mark.parametrize("mode", ["in_order", "shuffled", "duplicated"])
@pytest_twisted.ensureDeferred
async def test_the_crawl_closes_without_waiting_for_the_engine_heartbeat(
    hasdata_emulator: HasDataEmulator, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the engine's idle heartbeat out of the way, only the extension's
    # nudges (after the last job, after each webhook batch) can end the crawl.
    from scrapy.core.engine import ExecutionEngine
    from twisted.internet import reactor as installed

    reactor: Any = installed  # zope interfaces escape mypy
    monkeypatch.setattr(ExecutionEngine, "_SLOT_HEARTBEAT_INTERVAL", 3600.0)
    hasdata_emulator.configure(webhook_mode=mode, webhook_batch=3, job_polls=4)
    crawler, items = _crawler(hasdata_emulator, tmp_path)

    def stuck() -> None:  # a guard so a regression fails instead of hanging
        if crawler.engine is not None and crawler.engine.spider is not None:
            deferred_from_coro(crawler.engine.close_spider_async(reason="stuck"))

    guard = reactor.callLater(60, stuck)
    try:
        await crawler.crawl()
    finally:
        if guard.active():
            guard.cancel()
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert len(items) == ROWS
