"""Mistakes that cannot be refused at start must not pass in silence.

* a selector that matches nothing (an attribute typo): a stat per selector and
  ONE warning, counted, not timed;
* the WDS API down when the crawl starts: waited for within WDS_START_PATIENCE
  (the suite in ``test_mistakes.py`` checks the ``wds_unreachable`` end).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest
import pytest_twisted
import scrapy
from scrapy.crawler import CrawlerRunner
from twisted.internet import reactor
from twisted.internet.base import ReactorBase

from scrapy_wds import JobConfig, WdsSpiderMixin
from scrapy_wds.testing import WdsEmulator


class CategoryPages(WdsSpiderMixin, scrapy.Spider):
    """Every category's first page; ``title_attribute`` may carry a typo."""

    name = "category_pages"
    title_attribute: str | None = None

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"], type="Intranet")

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(response, "CSS: ul.categories a", callback=self.parse_category)

    def parse_category(self, response: Any) -> Iterator[scrapy.Request]:
        title = (
            ("CSS: article.book h3 a", self.title_attribute)
            if self.title_attribute
            else "CSS: article.book h3 a"
        )
        yield self.wds_scrape_multiple(
            response, {"title": title, "heading": "CSS: h1"}, url_field="page"
        )


def settings(api_url: str, site_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "WDS_API_URL": api_url,
        "DEMO_SITE_URL": site_url,
        "TELNETCONSOLE_ENABLED": False,
        "WDS_RETRY_FIRST_DELAY": 0.05,
        "WDS_RETRY_MAX_DELAY": 0.2,
        **extra,
    }


async def crawl(spider: type[scrapy.Spider], **values: Any) -> Any:
    crawler = CrawlerRunner(values).create_crawler(spider)
    await crawler.crawl()
    return crawler


def selector_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "has matched nothing" in r.getMessage()
    ]


@pytest_twisted.ensureDeferred
async def test_an_attribute_typo_is_counted_per_page_and_said_once(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    typo = type("Typo", (CategoryPages,), {"title_attribute": "hrf"})
    with caplog.at_level(logging.INFO):
        crawler = await crawl(
            typo, **settings(wds_emulator.url, demo_site.url, WDS_SELECTOR_WARN_PAGES=3)
        )
    pages = crawler.stats.get_value("wds/items")
    assert pages > 3  # enough pages to pass the threshold
    stats = crawler.stats.get_stats()
    assert stats["wds/selectors/matched_nothing/CSS: article.book h3 a @hrf"] == pages
    assert "wds/selectors/matched_nothing/CSS: h1" not in stats
    [warning] = selector_warnings(caplog)
    assert "'CSS: article.book h3 a @hrf'" in warning and "first 3 pages" in warning
    assert "field 'title' of wds_scrape_multiple()" in warning
    assert stats["finish_reason"] == "finished"


@pytest_twisted.ensureDeferred
async def test_a_selector_tried_on_fewer_pages_is_said_at_close(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    typo = type("Typo", (CategoryPages,), {"title_attribute": "hrf"})
    with caplog.at_level(logging.INFO):
        crawler = await crawl(typo, **settings(wds_emulator.url, demo_site.url))  # default: 20
    pages = crawler.stats.get_value("wds/items")
    assert 0 < pages < 20
    [warning] = selector_warnings(caplog)
    assert f"on any of the {pages} pages it was tried on" in warning


@pytest_twisted.ensureDeferred
async def test_a_correct_spider_gets_no_selector_warning(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        crawler = await crawl(CategoryPages, **settings(wds_emulator.url, demo_site.url))
    assert crawler.stats.get_value("wds/items") > 0
    assert selector_warnings(caplog) == []
    assert not [k for k in crawler.stats.get_stats() if k.startswith("wds/selectors/")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_twisted.ensureDeferred
async def test_an_api_that_comes_back_within_the_start_patience_is_waited_for(
    demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    late = WdsEmulator(port=port)
    calls_refused: list[int] = []
    # The reactor is typed as a zope interface, whose methods mypy reads with
    # their first argument (the delay) as ``self``; every reactor is a ReactorBase.
    clock = cast(ReactorBase, reactor)

    def come_back_after_two_refusals() -> None:
        # Counted, not timed: the API starts once the start has failed twice.
        refused = caplog.text.count("Retrying WDS start of job")
        calls_refused.append(refused)
        if refused >= 2:
            late.start()
        else:
            clock.callLater(0.05, come_back_after_two_refusals)

    clock.callLater(0, come_back_after_two_refusals)
    try:
        with caplog.at_level(logging.INFO):
            crawler = await crawl(
                CategoryPages,
                **settings(
                    f"http://127.0.0.1:{port}",
                    demo_site.url,
                    WDS_START_PATIENCE=60,
                ),
            )
    finally:
        late.stop()
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats["wds/retries/count"] >= 2 and stats["wds/items"] > 0
    assert "within WDS_START_PATIENCE = 60 s" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest_twisted.ensureDeferred
async def test_the_emulators_malformed_answers_are_retried_until_good(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Truncated JSON, HTML pages and wrongly shaped objects, on a third of the task calls.
    wds_emulator.configure(malformed="mixed", malformed_rate=0.3, seed=3)
    with caplog.at_level(logging.INFO):
        crawler = await crawl(CategoryPages, **settings(wds_emulator.url, demo_site.url))
    stats = crawler.stats.get_stats()
    spoiled = [c for c in wds_emulator.calls() if c.get("malformed")]
    assert spoiled  # the faults really happened
    assert sum(v for k, v in stats.items() if k.startswith("wds/bad_answers/")) == len(spoiled)
    clean = await crawl(CategoryPages, **settings(wds_emulator.url, demo_site.url))
    assert stats["wds/items"] == clean.stats.get_value("wds/items")  # nothing lost
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest_twisted.ensureDeferred
async def test_a_task_whose_answers_stay_malformed_fails_loudly(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wds_emulator.configure(malformed="html", malformed_tasks=[r"/$"])  # the home page's task
    with caplog.at_level(logging.INFO):
        crawler = await crawl(CategoryPages, **settings(wds_emulator.url, demo_site.url))
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("WDS info on task ")
    assert "the answer is an HTML/XML page, not JSON, still failing after 3 retries" in line
    assert (
        'server said: "<!DOCTYPE html>' in line
        and "what to do: something other than WDS answered" in line
    )
    assert crawler.stats.get_value("wds/errors/bad_answer") == 1
    assert "Traceback" not in caplog.text
