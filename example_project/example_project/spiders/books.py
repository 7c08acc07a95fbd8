"""Every book of the demo site through WDS, written with callbacks.

home → categories → (next pages of a category) → book pages → one Book each.
Only ``parse_book`` reads the task's state (``page_ok``), so only book pages
are asked ``info`` first; the listing callbacks are marked ``@wds_skip_info``
and a listing page costs just its two crawl calls (``books_rules`` skips info
everywhere).
"""

from __future__ import annotations

from collections.abc import Iterator

import scrapy
from scrapy.http import Response

from example_project.items import BOOK_FIELDS, Book
from example_project.spiders._demo import demo_site_job
from scrapy_wds import JobConfig, WdsSpiderMixin, wds_skip_info


class BooksSpider(WdsSpiderMixin, scrapy.Spider):
    name = "books"

    def wds_job_config(self) -> JobConfig:
        return demo_site_job(self.settings)

    @wds_skip_info
    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        """The home page: each category's first page."""
        yield self.wds_crawl(response, "CSS: ul.categories a", callback=self.parse_category)

    @wds_skip_info
    def parse_category(self, response: Response) -> Iterator[scrapy.Request]:
        """A category page: its next page, and its books."""
        yield self.wds_crawl(response, "CSS: li.next a", callback=self.parse_category)
        yield self.wds_crawl(response, "CSS: article.book h3 a", callback=self.parse_book)

    def parse_book(self, response: Response) -> Iterator[scrapy.Request]:
        task = self.wds_task(response)
        if not task.page_ok:
            self.logger.warning("Skipping %s: HTTP status %s", task.url, task.http_status)
            return
        yield self.wds_scrape_multiple(response, BOOK_FIELDS, item_class=Book, url_field="url")
