"""The example book spiders as they were before tasks could skip ``info``: every task asks it first.

Baselines for ``calls_per_page.py``: the same pages and the same calls,
plus one ``info`` call per task before its callback.
"""

from __future__ import annotations

from collections.abc import Iterator

import scrapy
from example_project.spiders.books import BooksSpider
from example_project.spiders.books_rules import BooksRulesSpider
from scrapy.http import Response


class BooksInfoFirst(BooksSpider):
    name = "books_info_first"

    # Not marked with @wds_skip_info: each listing task is asked info first.
    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        yield from super().parse(response)

    def parse_category(self, response: Response) -> Iterator[scrapy.Request]:
        yield from super().parse_category(response)


class BooksRulesInfoFirst(BooksRulesSpider):
    name = "books_rules_info_first"
    wds_info_first = True
