"""In-process crawls whose only items are the rows of their HasData jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from scrapy_wds.testing import HasDataEmulator


class JobsOnlySpider(scrapy.Spider):
    name = "hasdata_jobs_only"

    async def start(self):  # type: ignore[no-untyped-def]
        return
        yield


def jobs_crawler(
    emulator: HasDataEmulator, tmp_path: Path, jobs: list[Any], **settings: Any
) -> tuple[Crawler, list[Any]]:
    """A crawler running ``jobs`` with webhooks on and test-fast polling, and the list its items land in."""
    crawler = get_crawler(
        JobsOnlySpider,
        {
            "ADDONS": {"scrapy_wds.Addon": 300},
            "HASDATA_API_KEY": emulator.api_key,
            "HASDATA_API_URL": emulator.url,
            "HASDATA_JOBS": jobs,
            "HASDATA_STATE_FILE": str(tmp_path / "state.json"),
            "HASDATA_WEBHOOK_ENABLED": True,
            "HASDATA_POLL_FIRST_DELAY": 0.05,
            "HASDATA_POLL_MAX_DELAY": 0.1,
            "HASDATA_RETRY_FIRST_DELAY": 0.01,
            "HASDATA_PROGRESS_INTERVAL": 0,
            **settings,
        },
    )
    items: list[Any] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    return crawler, items
