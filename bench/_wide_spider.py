"""A WDS spider for throughput: one job with one start URL per page (BENCH_START_URLS), no following.

Each page's task skips ``info`` and gets two calls: scrape-multiple of the
book fields (one item) and a scrape of its breadcrumb links.  The same calls
as ``_bare_client.py wide``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scrapy
from example_project.items import BOOK_FIELDS
from scrapy.http import Response

from scrapy_wds import JobConfig, WdsSpiderMixin, wds_skip_info

#: The second call of every page.
LINKS = "CSS: ul.breadcrumb a"


class WideSpider(WdsSpiderMixin, scrapy.Spider):
    name = "wide"

    def wds_job_config(self) -> JobConfig:
        urls = Path(self.settings["BENCH_START_URLS"]).read_text().split()
        return JobConfig(start_urls=urls, type="Intranet")

    @wds_skip_info
    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        yield self.wds_scrape_multiple(response, BOOK_FIELDS)
        yield self.wds_scrape(response, LINKS, attribute="href", callback=self.links)

    def links(self, response: Any) -> None:
        self.crawler.stats.inc_value("bench/links_answers")
