"""The spiders the mistakes are made in: one correct spider per kind, and small variations.

Each case of ``cases.py`` names one of these classes.  They crawl the demo
site through the WDS emulator; most never get that far, which is the point.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import scrapy

from scrapy_wds import JobConfig, WdsCrawlSpider, WdsRule, WdsSpiderMixin


@dataclass
class Book:
    title: str = ""
    url: str = ""


class Books(WdsSpiderMixin, scrapy.Spider):
    """Correct: the home page's categories, each category's book titles."""

    name = "books"
    job_options: dict[str, Any] = {}

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"], **self.job_options)

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(response, "CSS: ul.categories a", callback=self.parse_category)

    def parse_category(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_scrape_multiple(response, {"title": "CSS: article.book h3 a"})


# -- JobConfig mistakes ---------------------------------------------------------


class UnknownJobField(Books):
    job_options = {"restart": "FromScratch"}


class BadRestartMode(Books):
    job_options = {"restart_mode": "Fresh"}


class BadCrawlDelay(Books):
    job_options = {"crawl_delays": {"books.example": "3s"}}


class BadProxyPort(Books):
    job_options = {"proxies": [{"host": "proxy.local", "port": 0}]}


class ExtraTwice(Books):
    job_options = {"type": "Intranet", "extra": {"Type": "Internet"}}


class NegativeRetries(Books):
    job_options = {"retries_limit": -1}


class EmptyStartUrls(WdsSpiderMixin, scrapy.Spider):
    name = "empty_start_urls"
    wds_job = JobConfig(start_urls=[])


class RelativeStartUrl(WdsSpiderMixin, scrapy.Spider):
    name = "relative_start_url"
    wds_job = JobConfig(start_urls=["/catalogue/"])


class TypoAtImport(WdsSpiderMixin, scrapy.Spider):
    """The typo sits in the class body: it runs when Scrapy imports the module."""

    name = "typo_at_import"
    wds_job = JobConfig(strat_urls=["http://books.example/"])  # type: ignore[call-arg]


class NoJob(WdsSpiderMixin, scrapy.Spider):
    name = "no_job"


class ConfigIsADict(Books):
    def wds_job_config(self) -> Any:
        return {"StartUrls": [self.settings["DEMO_SITE_URL"] + "/"]}


# -- spider attribute mistakes --------------------------------------------------


class EmptyJobName(Books):
    wds_job_name = ""


class MissingStartCallback(Books):
    wds_start_callback = "prase"


# -- rules ---------------------------------------------------------------------


def rules_spider(name: str, rules: list[WdsRule]) -> type[WdsCrawlSpider]:
    def wds_job_config(self: Any) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"])

    return type(
        name,
        (WdsCrawlSpider,),
        {
            "name": name.lower(),
            "rules": rules,
            "wds_job_config": wds_job_config,
            "__module__": __name__,
        },
    )


NoPrefix = rules_spider("NoPrefix", [WdsRule(follow="ul.categories a")])
BadCss = rules_spider("BadCss", [WdsRule(follow="CSS: ul.categories a[")])
BadXpath = rules_spider("BadXpath", [WdsRule(scrape={"title": "XPATH: //h1["})])
FollowAndScrape = rules_spider(
    "FollowAndScrape", [WdsRule(follow="CSS: a", scrape={"title": "CSS: h1"})]
)
BadPattern = rules_spider("BadPattern", [WdsRule(follow="CSS: a", on="/category/(")])
UnknownItemField = rules_spider(
    "UnknownItemField", [WdsRule(scrape={"name": "CSS: h1"}, item=Book)]
)
BadValuesMode = rules_spider("BadValuesMode", [WdsRule(scrape={"title": "CSS: h1"}, values="some")])
NoRules = rules_spider("NoRules", [])
EmptyAttribute = rules_spider("EmptyAttribute", [WdsRule(follow="CSS: a", attribute="")])
MissingRuleCallback = rules_spider(
    "MissingRuleCallback", [WdsRule(follow="CSS: a", callback="parse_book")]
)


def _local_item_class() -> type:
    @dataclass
    class LocalBook:
        title: str = ""

    return LocalBook


LocalItemClass = rules_spider(
    "LocalItemClass", [WdsRule(scrape={"title": "CSS: h1"}, item=_local_item_class())]
)


# -- HasData: a spider with nothing of its own to do -------------------------------


class JobsOnly(scrapy.Spider):
    """The HasData jobs come from HASDATA_JOBS (or ``hasdata_jobs``)."""

    name = "jobs_only"

    async def start(self) -> Any:
        return
        yield


class JobsWithCallback(JobsOnly):
    name = "jobs_with_callback"
    hasdata_jobs = [
        {"scraper": "crawler", "input": {"urls": ["http://x.example/"]}, "callback": "parse_row"}
    ]
