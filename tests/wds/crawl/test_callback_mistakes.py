"""A mistake in a callback (a bad selector) stops the crawl once, and a fixed spider resumed from JOBDIR loses nothing."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerRunner
from scrapy.statscollectors import StatsCollector
from twisted.internet.defer import Deferred

from scrapy_wds import JobConfig, WdsSpiderMixin


class CategoryTitlesSpider(WdsSpiderMixin, scrapy.Spider):
    """Book titles straight from the category pages; ``title_selector`` is set per run."""

    name = "category_titles"
    title_selector = "CSS: article.book h3 a"

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"])

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(response, "CSS: ul.categories a", callback=self.parse_category)

    def parse_category(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(response, "CSS: li.next a", callback=self.parse_category)
        yield self.wds_scrape_multiple(
            response, {"titles": self.title_selector}, values="all", url_field="page"
        )


@dataclass
class CrawlResult:
    """A finished crawl: its stats and the items it scraped."""

    stats: StatsCollector
    items: list[dict[str, Any]]


def run(settings: dict[str, Any], selector: str) -> Deferred[CrawlResult]:
    spider_class = type("Run", (CategoryTitlesSpider,), {"title_selector": selector})
    runner = CrawlerRunner(settings)
    crawler: Crawler = runner.create_crawler(spider_class)
    items: list[dict[str, Any]] = []

    def collect(item: dict[str, Any], **_: Any) -> None:
        items.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped, weak=False)
    return runner.crawl(crawler).addCallback(lambda _: CrawlResult(crawler.stats, items))


@pytest_twisted.inlineCallbacks
def test_bad_selector_stops_once_and_the_fixed_spider_resumes_every_page(
    wds_emulator: Any,
    demo_site: Any,
    truth: list[dict[str, str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> Generator[Deferred[CrawlResult], CrawlResult, None]:
    settings = {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "WDS_API_URL": wds_emulator.url,
        "WDS_API_HEADERS": {"Authorization": "Bearer never-saved-7731"},
        "DEMO_SITE_URL": demo_site.url,
        "JOBDIR": str(tmp_path / "job"),
        "TELNETCONSOLE_ENABLED": False,
    }
    with caplog.at_level(logging.INFO):
        broken = yield run(settings, "CSS: article.book h3 a[[")
    assert broken.stats.get_value("finish_reason") == "wds_bad_config"
    assert broken.stats.get_value("wds/callback_mistakes") == 1
    mistakes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(mistakes) == 1, [r.getMessage() for r in mistakes]
    assert "callback 'parse_category' has a mistake" in mistakes[0].getMessage()
    assert "'CSS: article.book h3 a[['" in mistakes[0].getMessage()
    assert broken.items == []
    for saved in (tmp_path / "job").rglob("*"):
        if saved.is_file():
            assert b"never-saved-7731" not in saved.read_bytes(), saved

    fixed = yield run(settings, "CSS: article.book h3 a")
    assert fixed.stats.get_value("finish_reason") == "finished"
    pages = [item["page"] for item in fixed.items]
    assert len(pages) == len(set(pages))
    titles = sorted(title for item in fixed.items for title in item["titles"])
    assert titles == sorted(book["title"] for book in truth)
