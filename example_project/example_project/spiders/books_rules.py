"""The same books as ``books``, declared as rules instead of callbacks.

Rules know their calls in advance, so no task is asked ``info``: a listing
page costs its two crawl calls, a book page its scrape-multiple call.
"""

from __future__ import annotations

from example_project.items import BOOK_FIELDS, Book
from example_project.spiders._demo import demo_site_job
from scrapy_wds import JobConfig, WdsCrawlSpider, WdsRule


class BooksRulesSpider(WdsCrawlSpider):
    name = "books_rules"
    rules = [
        WdsRule(follow="CSS: ul.categories a", on=r"/$"),
        # Previous and next: listing pages are found again from their
        # neighbours; each page is followed once per job, by its URL,
        # whatever task id WDS gives it.
        WdsRule(follow="CSS: ul.pager a", on=r"/category/"),
        WdsRule(follow="CSS: article.book h3 a", on=r"/category/"),
        WdsRule(scrape=BOOK_FIELDS, on=r"/book/", item=Book, url_field="url"),
    ]

    def wds_job_config(self) -> JobConfig:
        return demo_site_job(self.settings)
