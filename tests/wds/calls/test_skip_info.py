"""Tasks whose callback does not read the state skip ``info``: the callback gets a stand-in at once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted
import scrapy

from scrapy_wds import JobConfig, WdsRule, WdsSpiderMixin, WdsTask, wds_skip_info
from scrapy_wds._wds._rules import WdsCrawlSpider
from tests.wds.spider._spiders import answer, make_spider


class SkipSpider(WdsSpiderMixin, scrapy.Spider):
    name = "skip"
    wds_job = JobConfig(start_urls=["http://site.test/"])

    @wds_skip_info
    def parse(self, response: Any, **kwargs: Any) -> Any:
        task = self.wds_task(response)
        if task.url.endswith("/broken"):
            raise RuntimeError("a bug in the user's callback")
        yield self.wds_crawl(response, "CSS: a", callback=self.parse_page, cb_kwargs=kwargs)
        yield {
            "url": task.url,
            "id": task.id,
            "job": task.job,
            "status": task.status,
            "page_ok": task.page_ok,
            "response_url": response.url,
            **kwargs,
        }

    def parse_page(self, response: Any, **kwargs: Any) -> Any:
        yield {"state": self.wds_task(response).state}


class AllSkipSpider(SkipSpider):
    name = "all_skip"
    wds_info_first = False

    def parse(self, response: Any, **kwargs: Any) -> Any:  # not marked: the spider switch applies
        yield {"url": self.wds_task(response).url}


async def run(spider: Any, response: Any) -> list[Any]:
    return [x async for x in spider._wds_on_answer(response, **response.request.cb_kwargs)]


def start_answer(spider: Any, tasks: list[dict[str, str]]) -> Any:
    spider.wds_check()
    return answer(spider.wds_start_request(), tasks)


@pytest_twisted.ensureDeferred
async def test_a_marked_callback_is_called_at_once_with_a_stand_in_for_its_task() -> None:
    spider = make_spider(SkipSpider)
    out = await run(spider, start_answer(spider, [{"Id": "7", "Url": "http://site.test/a"}]))
    crawl, item = out
    # No info call: the callback's own crawl call on task 7 comes out of the start answer.
    assert crawl.url == "http://wds.test/base/path/api/v2/tasks/7/crawl?selector=CSS%3A%20a"
    assert crawl.meta["wds"]["task"] == {"id": "7", "url": "http://site.test/a"}
    assert crawl.meta["wds"]["callback"] == "parse_page"
    assert item == {
        "url": "http://site.test/a",
        "id": "7",
        "job": "skip",
        "status": None,
        "page_ok": False,
        "response_url": "http://site.test/a",
    }
    assert spider.crawler.stats.get_value("wds/tasks/info_skipped") == 1
    assert spider.crawler.stats.get_value("wds/tasks/found") == 1


@pytest_twisted.ensureDeferred
async def test_the_callbacks_of_other_tasks_survive_one_that_raises(caplog: Any) -> None:
    caplog.set_level(logging.ERROR)
    spider = make_spider(SkipSpider)
    tasks = [
        {"Id": "1", "Url": "http://site.test/broken"},
        {"Id": "2", "Url": "http://site.test/b"},
    ]
    out = await run(spider, start_answer(spider, tasks))
    assert [x["url"] for x in out if isinstance(x, dict)] == ["http://site.test/b"]
    assert spider.crawler.stats.get_value("spider_exceptions/RuntimeError") == 1
    assert "a bug in the user's callback" in caplog.text


@pytest_twisted.ensureDeferred
async def test_unmarked_callbacks_keep_info_first_and_the_spider_switch_skips_all() -> None:
    spider = make_spider(SkipSpider)
    crawl = spider.wds_crawl(
        WdsTask("skip", "1", "http://site.test/"), "CSS: a", callback="parse_page"
    )
    [info] = await run(spider, answer(crawl, [{"Id": "9", "Url": "http://site.test/9"}]))
    assert info.url.endswith("/tasks/9/info") and info.meta["wds"]["callback"] == "parse_page"

    switched = make_spider(AllSkipSpider)
    assert await run(
        switched, start_answer(switched, [{"Id": "3", "Url": "http://site.test/c"}])
    ) == [{"url": "http://site.test/c"}]


@pytest_twisted.ensureDeferred
async def test_a_page_found_again_is_not_followed_again_whatever_its_id() -> None:
    spider = make_spider(SkipSpider)
    crawl = spider.wds_crawl(WdsTask("skip", "1", "http://site.test/"), "CSS: a", callback="parse")
    first = await run(spider, answer(crawl, [{"Id": "5", "Url": "http://site.test/x?b=2&a=1"}]))
    again = await run(
        spider,
        answer(
            crawl,
            [
                {"Id": "6", "Url": "http://site.test/x?a=1&b=2"},
                {"Id": "5", "Url": "http://site.test/x?b=2&a=1"},
            ],
        ),
    )
    assert len(first) == 2 and again == []
    assert spider.crawler.stats.get_value("wds/tasks/known_again") == 2


class Rules(WdsCrawlSpider):
    name = "rules_skip"
    wds_job = JobConfig(start_urls=["http://site.test/"])
    rules = [WdsRule(follow="CSS: a"), WdsRule(scrape={"t": "CSS: h1"}, on="/book/")]


@pytest_twisted.ensureDeferred
async def test_rules_skip_info_and_apply_to_every_page_they_match() -> None:
    spider = make_spider(Rules)
    out = await run(spider, start_answer(spider, [{"Id": "b", "Url": "http://site.test/book/1"}]))
    assert [r.meta["wds"]["action"] for r in out] == ["crawl", "scrape_multiple"]


@pytest.mark.parametrize("spider_class", [SkipSpider, Rules])
def test_the_stand_in_is_documented_as_having_no_status(spider_class: type) -> None:
    from scrapy_wds._wds._follow_ups import stand_in_response

    response = stand_in_response(WdsTask("j", "t", "http://site.test/p"), {"callback": "parse"}, {})
    spider = make_spider(spider_class)
    assert spider.wds_task(response) == WdsTask("j", "t", "http://site.test/p")
    assert response.meta["wds"]["action"] == "task"
