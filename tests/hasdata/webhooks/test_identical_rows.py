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
import scrapy
from scrapy import signals
from scrapy.utils.test import get_crawler

from scrapy_wds._hasdata._row_keys import canonical_json
from scrapy_wds.testing import DemoSite, HasDataEmulator

from ._http import request


class JobsOnlySpider(scrapy.Spider):
    name = "identical_rows"

    async def start(self):  # type: ignore[no-untyped-def]
        return
        yield


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
        b"GET", f"{emulator.url}/scrapers/jobs/{jobs[0]['id']}/results?page=1&limit=100",
        headers={"x-api-key": emulator.api_key},
    )
    wrapped = page.json()["data"]
    assert len({row["id"] for row in wrapped}) == len(wrapped)  # ids differ, content may not
    return Counter(canonical_json(row["data"]) for row in wrapped)


@pytest.mark.parametrize(
    ("webhooks", "mode", "batch"),
    [
        (False, None, None),
        (True, "in_order", 1),
        (True, "in_order", 4),  # all twins in one callback
        (True, "duplicated", 1),
        (True, "shuffled", 2),
        (True, "dropped", 1),
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
) -> None:
    twin, other = _contact_pages(demo_site)
    if webhooks:
        hasdata_emulator.configure(webhook_mode=mode, webhook_batch=batch, job_polls=4)
    crawler = get_crawler(JobsOnlySpider, {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "HASDATA_API_KEY": hasdata_emulator.api_key,
        "HASDATA_API_URL": hasdata_emulator.url,
        "HASDATA_JOBS": [{"scraper": "contacts", "input": {"urls": [twin, other, twin, twin]}}],
        "HASDATA_STATE_FILE": str(tmp_path / "state.json"),
        "HASDATA_WEBHOOK_ENABLED": webhooks,
        "HASDATA_POLL_INTERVAL": 0.05,
        "HASDATA_POLL_MAX_INTERVAL": 0.1,
        "HASDATA_RETRY_DELAY": 0.01,
        "HASDATA_PROGRESS_INTERVAL": 0,
    })
    items: list[Any] = []
    crawler.signals.connect(lambda item: items.append(item), signal=signals.item_scraped, weak=False)
    await crawler.crawl()

    paged = await _paged_rows(hasdata_emulator)
    assert sorted(paged.values()) == [1, 3]  # the job really has three identical rows
    assert Counter(canonical_json(dict(item)) for item in items) == paged
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["item_scraped_count"] == 4
    if webhooks and mode != "dropped":
        assert stats.get("hasdata/rows/webhook", 0) > 0, "no row came by webhook"
