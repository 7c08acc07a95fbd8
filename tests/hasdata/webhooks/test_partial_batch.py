"""A batch that stops partway records only the rows that went through.

One webhook callback carries three rows; the second cannot become an item
(its item class fails once, unexpectedly), so the batch stops there. The rows
after it were never delivered, so they must not count as delivered: paging
brings them (and the failed one) later, each exactly once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest_twisted

from scrapy_wds._hasdata._row_keys import canonical_json
from scrapy_wds.testing import HasDataEmulator

from ._crawls import jobs_crawler
from ._http import request

KEYWORDS = ["lamp", "desk"]
ROWS = 5 * len(KEYWORDS)  # the synthetic scrapers give 5 rows per input value


class FlakyRow(dict):  # type: ignore[type-arg]
    """A row item whose second construction fails (as a buggy item class might)."""

    made: ClassVar[int] = 0

    def __init__(self, **fields: Any) -> None:
        FlakyRow.made += 1
        if FlakyRow.made == 2:
            raise RuntimeError("flaky item class")
        super().__init__(**fields)


@pytest_twisted.ensureDeferred
async def test_rows_after_a_failure_in_a_batch_are_not_lost(
    hasdata_emulator: HasDataEmulator, tmp_path: Path
) -> None:
    FlakyRow.made = 0
    hasdata_emulator.configure(webhook_mode="in_order", webhook_batch=3, job_polls=4)
    crawler, items = jobs_crawler(
        hasdata_emulator,
        tmp_path,
        [
            {"scraper": "amazon-search", "input": {"keywords": KEYWORDS}, "item_class": FlakyRow},
        ],
    )
    await crawler.crawl()

    assert FlakyRow.made > 2, "the failure never happened"
    jobs = (await request(b"GET", f"{hasdata_emulator.url}/__emulator__/jobs")).json()
    page = await request(
        b"GET",
        f"{hasdata_emulator.url}/scrapers/jobs/{jobs[0]['id']}/results?page=1&limit=100",
        headers={"x-api-key": hasdata_emulator.api_key},
    )
    paged = Counter(canonical_json(wrapped["data"]) for wrapped in page.json()["data"])
    assert len(paged) == ROWS
    assert Counter(canonical_json(dict(item)) for item in items) == paged
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["item_scraped_count"] == ROWS
    assert stats.get("hasdata/rows/webhook", 0) >= 1  # the row before the failure
