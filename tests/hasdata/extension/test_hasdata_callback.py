"""A job's rows can go to a spider method, whose output is handled like a callback's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import scrapy
from hasdata_ext_support import PageTitle, crawl_jobs, small_job
from scrapy.http import Response

from scrapy_wds import HasDataJob, HasDataJobError
from scrapy_wds._hasdata._job import collect_jobs

ROWS = 6


class RowsToSpider(scrapy.Spider):
    """Each row yields a summary item and a request for the row's page."""

    name = "rows_to_spider"

    async def start(self):  # type: ignore[no-untyped-def]
        return
        yield

    def on_row(self, row: PageTitle) -> Iterator[Any]:
        yield {"kind": "row", "page": row.page}
        yield scrapy.Request(row.page, callback=self.parse_page)

    def parse_page(self, response: Response) -> dict[str, Any]:
        return {"kind": "page", "page": response.url, "h1": response.css("h1::text").get()}


@pytest_twisted.ensureDeferred
async def test_rows_go_to_the_spider_method(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    job = small_job(
        demo_site,
        limit=ROWS,
        callback="on_row",
        item_class=PageTitle,
        field_map={"page": "url", "heading": "title"},
    )
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job], spider_cls=RowsToSpider)

    assert result.reason == "finished"
    rows = [item for item in result.items if item["kind"] == "row"]
    pages = [item for item in result.items if item["kind"] == "page"]
    assert len(rows) == ROWS  # every row reached the method, once
    assert len({item["page"] for item in rows}) == ROWS
    assert {item["page"] for item in pages} == {item["page"] for item in rows}
    assert all(item["h1"] for item in pages)  # the requests were really crawled
    assert result.stats["hasdata/rows"] == ROWS
    assert result.stats["downloader/request_count"] == len(rows)
    assert not any(isinstance(item, PageTitle) for item in result.items)  # rows went to the method


@pytest_twisted.ensureDeferred
async def test_a_failing_callback_is_logged_and_the_crawl_goes_on(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    class Failing(RowsToSpider):
        name = "failing_rows"

        def on_row(self, row: PageTitle) -> Iterator[Any]:
            raise ValueError("a bug in the spider's row callback")

    caplog.set_level(logging.ERROR)
    job = small_job(
        demo_site, limit=3, callback="on_row", item_class=PageTitle, field_map={"page": "url"}
    )
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job], spider_cls=Failing)
    assert result.reason == "finished"
    assert result.stats["hasdata/rows/callback_errors"] == 3
    assert result.items == []
    assert caplog.text.count("Failing.on_row failed on a row") == 3
    assert caplog.text.count("ValueError: a bug in the spider's row callback") == 3  # tracebacks


def test_callback_name_is_checked_at_spider_open() -> None:
    spider = RowsToSpider()
    [job] = collect_jobs([{"scraper": "crawler", "callback": "on_row"}], spider)
    assert job.callback == "on_row"
    with pytest.raises(HasDataJobError) as info:
        collect_jobs([{"scraper": "crawler", "name": "pages", "callback": "on_rwo"}], spider)
    message = str(info.value)
    assert "HASDATA_JOBS[0]" in message and "'pages'" in message
    assert "field 'callback'" in message and "RowsToSpider" in message
    with pytest.raises(HasDataJobError, match="field 'callback'"):
        collect_jobs([HasDataJob("crawler", callback=42)], spider)  # type: ignore[arg-type]
    with pytest.raises(HasDataJobError, match="field 'callback'"):
        # ``name`` is an attribute of the spider, not a method
        collect_jobs([{"scraper": "crawler", "callback": "name"}], spider)
