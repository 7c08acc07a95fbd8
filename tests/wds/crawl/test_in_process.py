"""In-process crawls on a test crawler: scrape, info and crawl with selectors full of URL syntax.

The emulator decodes each query and runs the selector on the real page, so a
``+`` sent unencoded (read back as a space) or a ``#`` cutting the URL short
would change what it finds: these spiders see the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerRunner

from scrapy_wds import JobConfig, WdsSpiderMixin


class SelectorSpider(WdsSpiderMixin, scrapy.Spider):
    name = "selector_probe"
    wds_job_name = "selector probe #1 & co"  # a job name that needs encoding too

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"], type="Intranet")

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        # "+" is CSS's next-sibling combinator: every category link but the first.
        yield self.wds_scrape(
            response,
            "CSS: ul.categories > li + li > a",
            callback=self.got_values,
            cb_kwargs={"what": "siblings"},
        )
        yield self.wds_scrape(
            response,
            'XPATH: //ul[@class="categories"]/li/a[contains(@href, "page-1")]',
            attribute="href",
            callback=self.got_values,
            cb_kwargs={"what": "hrefs"},
        )
        yield self.wds_info(response, callback=self.got_info)
        yield self.wds_crawl(
            response,
            "css:ul.categories li:first-child a[href$='page-1.html']",
            callback=self.got_category,
        )

    def got_values(self, response: Any, what: str) -> Iterator[dict[str, Any]]:
        yield {"what": what, "values": self.wds_values(response)}

    def got_info(self, response: Any) -> Iterator[dict[str, Any]]:
        task = self.wds_task(response)
        state = task.state.name if task.state else None
        yield {"what": "info", "url": task.url, "status": task.http_status, "state": state}

    def got_category(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_scrape_multiple(
            response,
            {"books & more": "CSS: article.book h3 a", "next #": ("CSS: li.next a", "href")},
            values="all",
            url_field="page",
        )


@pytest_twisted.inlineCallbacks
def test_selectors_with_url_syntax_reach_the_server_intact(
    wds_emulator: Any, demo_site: Any, truth: list[dict[str, str]]
) -> Iterator[Any]:
    runner = CrawlerRunner(
        {
            "ADDONS": {"scrapy_wds.Addon": 300},
            "WDS_API_URL": wds_emulator.url,
            "DEMO_SITE_URL": demo_site.url,
            "ROBOTSTXT_OBEY": False,
            "TELNETCONSOLE_ENABLED": False,
            "WDS_POLL_FIRST_DELAY": 0.05,
        }
    )
    wds_emulator.configure(pending_polls=1)
    crawler = runner.create_crawler(SelectorSpider)
    items: list[dict[str, Any]] = []

    def collect(item: dict[str, Any]) -> None:
        items.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped)
    yield runner.crawl(crawler)

    by_what = {item.get("what", "multiple"): item for item in items}
    categories = sorted({book["category"] for book in truth})
    assert len(by_what["siblings"]["values"]) == len(categories) - 1
    hrefs = by_what["hrefs"]["values"]
    assert len(hrefs) == len(categories) and all(h.endswith("/page-1.html") for h in hrefs)
    assert by_what["info"] == {
        "what": "info",
        "url": demo_site.url + "/",
        "status": 200,
        "state": "Handled",
    }
    page = by_what["multiple"]
    assert page["page"].endswith("/page-1.html") and page["page"].startswith(demo_site.url)
    assert len(page["books & more"]) == 10
    assert page["next #"] == ["page-2.html"]
    assert crawler.stats.get_value("wds/items") == 1
    assert crawler.stats.get_value("wds/scraped_values") == 2 * len(categories) - 1
    starts = [c for c in wds_emulator.calls() if c["path"].endswith("/start")]
    assert [c["path"] for c in starts] == ["/api/v2/jobs/selector probe #1 & co/start"]
