"""Declarative rules: checked at start with clear errors, applied by URL to every task's page."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from scrapy_wds import (
    JobConfig,
    WdsCrawlSpider,
    WdsItemError,
    WdsRule,
    WdsSelectorError,
    WdsSpiderError,
)

from ._spiders import Book, follow_up, make_spider


class RulesSpider(WdsCrawlSpider):
    name = "rules_demo"
    wds_job = JobConfig(start_urls=["http://site.test/"])
    rules = [
        WdsRule(follow="CSS: ul.categories a", on=r"/$"),
        WdsRule(follow="CSS: li.next a", on=r"/category/"),
        WdsRule(follow="CSS: article a", on=r"/category/", callback="parse_book"),
        WdsRule(
            scrape={"title": "CSS: h1", "price": ("CSS: .price", "data-amount")},
            on=r"/book/",
            item=Book,
            url_field="url",
        ),
    ]

    def parse_book(self, response: Any) -> Any:
        return None


def requests_for(spider: Any, url: str, status: Any = None) -> list[Any]:
    spider.wds_check()
    return list(spider.parse(follow_up(spider, url=url, status=status)))


def test_each_page_gets_the_rules_whose_pattern_matches_its_url() -> None:
    spider = make_spider(RulesSpider)
    home = requests_for(spider, "http://site.test/")
    assert [(r.meta["wds"]["action"], r.meta["wds"]["callback"]) for r in home] == [
        ("crawl", "parse")
    ]
    category = requests_for(spider, "http://site.test/catalogue/category/x/page-1.html")
    assert [r.meta["wds"].get("callback") for r in category] == ["parse", "parse_book"]
    assert "selector=CSS%3A%20li.next%20a" in category[0].url
    [book] = requests_for(spider, "http://site.test/catalogue/book/b.html")
    assert book.meta["wds"]["action"] == "scrape_multiple"
    assert book.meta["wds"]["item_class"].endswith("_spiders.Book")
    assert book.meta["wds"]["fixed"] == {"url": "http://site.test/catalogue/book/b.html"}
    assert "scrapeParams%5B1%5D.attributeName=data-amount" in book.url


@pytest.mark.parametrize(
    "status",
    [
        {"TaskState": "Handled", "Result": {"HttpStatusCode": 404}},
        {"TaskState": "AccessDeniedForRobots"},
    ],
)
def test_pages_that_did_not_download_are_skipped_and_counted(status: Any) -> None:
    spider = make_spider(RulesSpider)
    assert requests_for(spider, "http://site.test/catalogue/book/b.html", status) == []
    assert spider.crawler.stats.get_value("wds/rules/pages_skipped") == 1


@dataclasses.dataclass
class Title:
    title: str = ""


@pytest.mark.parametrize(
    ("rules", "error", "expected"),
    [
        ([], WdsSpiderError, "rules is empty"),
        (WdsRule(follow="CSS: a"), WdsSpiderError, "rules must be a list of WdsRule"),
        (["CSS: a"], WdsSpiderError, "rules[0] is 'CSS: a', not a WdsRule"),
        ([WdsRule()], WdsSpiderError, "rules[0] must have either follow=<selector> or scrape="),
        ([WdsRule(follow="CSS: a", scrape={"t": "CSS: h1"})], WdsSpiderError, "either follow"),
        (
            [WdsRule(follow="CSS: a"), WdsRule(follow="a.next")],
            WdsSelectorError,
            "rules[1] follow selector 'a.next'",
        ),
        (
            [WdsRule(follow="CSS: a", on="(")],
            WdsSpiderError,
            "rules[0] on='(' is not a regular expression",
        ),
        (
            [WdsRule(follow="CSS: a", callback="parse_nothing")],
            WdsSpiderError,
            "rules[0] callback must be a method",
        ),
        (
            [WdsRule(follow="CSS: a", item=Title)],
            WdsSpiderError,
            "item, values and url_field belong to scrape rules",
        ),
        (
            [WdsRule(scrape={"t": "CSS: h1"}, callback="parse")],
            WdsSpiderError,
            "callback and attribute belong to follow",
        ),
        (
            [WdsRule(scrape={"t": "XPATH: //h1["})],
            WdsSelectorError,
            "rules[0] scrape['t'] selector",
        ),
        (
            [WdsRule(scrape={"price": "CSS: p"}, item=Title)],
            WdsItemError,
            "Title has no field(s) ['price']",
        ),
        (
            [WdsRule(scrape={"title": "CSS: h1"}, item=Title, url_field="url")],
            WdsItemError,
            "has no field(s) ['url']",
        ),
        (
            [WdsRule(scrape={"title": "CSS: h1"}, values="each")],
            WdsItemError,
            "rules[0] values is 'each'",
        ),
    ],
)
def test_bad_rules_stop_the_spider_at_start(rules: Any, error: type, expected: str) -> None:
    spider = make_spider(RulesSpider)
    spider.rules = rules
    with pytest.raises(error) as info:
        spider.wds_start_request()
    assert expected in str(info.value)


def test_rules_skip_info_so_pages_of_unknown_state_get_their_rules() -> None:
    spider = make_spider(RulesSpider)
    assert spider.wds_info_first is False
    spider.wds_check()
    from scrapy_wds import WdsTask
    from scrapy_wds._wds._follow_ups import stand_in_response

    stand_in = stand_in_response(
        WdsTask("rules_demo", "b", "http://site.test/catalogue/book/b.html"),
        {"callback": "parse"},
        {},
    )
    [book] = list(spider.parse(stand_in))
    assert book.meta["wds"]["action"] == "scrape_multiple"
    assert spider.crawler.stats.get_value("wds/rules/pages_skipped") is None
