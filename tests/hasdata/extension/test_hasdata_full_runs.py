"""Whole crawls in every reading of the spec the emulator can play: every row, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hasdata_ext_support import (
    book_pages_job,
    calls,
    crawl_jobs,
    emulator_jobs,
    submits,
)
from itemadapter import ItemAdapter

SWITCHES = [
    pytest.param({}, id="defaults"),
    pytest.param({"id_style": "uuid"}, id="uuid-ids"),
    pytest.param({"numbers_as_strings": True}, id="numbers-as-strings"),
    pytest.param({"job_polls": 4}, id="slow-job"),
    pytest.param({"page_size_cap": 7}, id="page-size-not-a-multiple"),
    pytest.param(
        {"id_style": "uuid", "numbers_as_strings": True, "job_polls": 2, "page_size_cap": 30},
        id="all-at-once",
    ),
]


@pytest.mark.parametrize("switches", SWITCHES)
@pytest_twisted.ensureDeferred
async def test_every_row_exactly_once(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    book_truth: list[dict[str, Any]],
    switches: dict[str, Any],
) -> None:
    hasdata_emulator.configure(**switches)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [book_pages_job(demo_site)], ROBOTSTXT_OBEY=True
    )

    (job,) = emulator_jobs(hasdata_emulator)
    # The API calls bypass Scrapy's downloader: no slot, no middleware, no robots.txt.
    assert "downloader/request_count" not in result.stats
    assert not [c for c in hasdata_emulator.calls() if c["path"] == "/robots.txt"]
    urls = [item["url"] for item in result.items]
    assert len(urls) == int(job["dataRowsCount"]) == len(book_truth) == 200
    assert sorted(urls) == sorted(book["url"] for book in book_truth)
    assert result.reason == "finished"
    assert len(submits(hasdata_emulator)) == 1
    assert result.stats["hasdata/rows"] == 200
    assert result.stats["item_scraped_count"] == 200
    assert result.stats.get("hasdata/rows/duplicates", 0) == 0
    pages = calls(hasdata_emulator, "GET", "/results")
    page_size = min(100, switches.get("page_size_cap", 100))
    assert len(pages) == result.stats["hasdata/pages"] == -(-200 // page_size)
    if switches.get("job_polls"):
        assert result.stats["hasdata/polls"] >= switches["job_polls"] + 1


@pytest_twisted.ensureDeferred
async def test_item_class_and_field_map(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    job = book_pages_job(
        demo_site,
        item_class="hasdata_ext_support.PageTitle",
        field_map={"page": "url", "heading": "title"},
    )
    job["input"]["limit"] = 12
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job])
    assert len(result.items) == 12
    assert {type(item).__name__ for item in result.items} == {"PageTitle"}
    first = ItemAdapter(result.items[0]).asdict()
    assert set(first) == {"page", "heading"}
    assert first["page"].startswith(demo_site.url + "/catalogue/book/")
    assert first["heading"]


@pytest_twisted.ensureDeferred
async def test_several_jobs_from_settings_and_spider(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    from hasdata_ext_support import JobsOnlySpider

    from scrapy_wds import HasDataJob

    class TwoSourcesSpider(JobsOnlySpider):
        name = "two_sources"

        def hasdata_jobs(self) -> list[HasDataJob]:
            return [
                HasDataJob(
                    scraper="contacts",
                    input={"urls": [demo_site.url + "/contact.html"]},
                    name="contacts",
                )
            ]

    small = book_pages_job(demo_site)
    small["input"]["limit"] = 5
    result = await crawl_jobs(hasdata_emulator, tmp_path, [small], spider_cls=TwoSourcesSpider)
    assert len(submits(hasdata_emulator)) == 2
    assert len(result.items) == 6
    assert sum(1 for item in result.items if "emails" in item) == 1
    assert result.stats["hasdata/jobs/finished"] == 2
