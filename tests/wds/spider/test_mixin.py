"""The mixin on a test crawler: answers → follow-ups, callbacks, items, stats; malformed answers skipped."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from twisted.python.failure import Failure

from scrapy_wds import JobConfig, JobConfigError, WdsSpiderError, WdsTaskNotFound
from scrapy_wds._wds._ledger import make_ticket

from ._spiders import Book, DemoSpider, answer, follow_up, make_spider


async def run(spider: Any, response: Any) -> list[Any]:
    cb_kwargs = response.request.cb_kwargs
    return [x async for x in spider._wds_on_answer(response, **cb_kwargs)]


def stats(spider: Any) -> dict[str, Any]:
    return {k: v for k, v in spider.crawler.stats.get_stats().items() if k.startswith("wds/")}


@pytest_twisted.ensureDeferred
async def test_start_answer_gives_one_follow_up_per_task() -> None:
    spider = make_spider()
    start = spider.wds_start_request()
    out = await run(
        spider,
        answer(
            start,
            [
                {"Id": "t1", "Url": "http://site.test/"},
                {"id": 7, "url": "http://site.test/b"},
                {"Id": "x"},
            ],
        ),
    )
    assert [r.url for r in out] == [
        "http://wds.test/base/path/api/v2/tasks/t1/info",
        "http://wds.test/base/path/api/v2/tasks/7/info",
    ]
    ticket = out[1].meta["wds"].pop("ticket")
    assert ticket == make_ticket("GET", out[1].url)  # named by the call: the same after a crash
    assert out[1].meta == {
        "wds": {
            "action": "info",
            "job": "demo",
            "callback": "parse",
            "follow_up": True,
            "task": {"id": "7", "url": "http://site.test/b"},
        },
        "dont_obey_robotstxt": True,
        "allow_offsite": True,
        "dont_retry": True,
        "dont_cache": True,
    }
    assert stats(spider) == {
        "wds/jobs/started": 1,
        "wds/tasks/found": 2,
        "wds/malformed_answers/start": 1,
    }


@pytest_twisted.ensureDeferred
async def test_crawl_follow_ups_go_to_the_named_callback_with_its_kwargs() -> None:
    spider = make_spider()
    crawl = spider.wds_crawl(
        follow_up(spider),
        "CSS: a",
        callback=spider.parse_detail,
        cb_kwargs={"depth": 2},
        errback="on_failure",
    )
    task = {"Id": "t9", "Url": "http://site.test/9"}
    # The same page again, under a new id and a URL that differs only in form.
    again = {"Id": "t10", "Url": "http://site.test/9?"}
    out = await run(spider, answer(crawl, [task, task, again]))
    assert [r.meta["wds"]["callback"] for r in out] == ["parse_detail"]
    assert [r.meta["wds"]["errback"] for r in out] == ["on_failure"]
    assert [r.cb_kwargs for r in out] == [{"depth": 2}]
    assert stats(spider) == {"wds/tasks/found": 1, "wds/tasks/known_again": 2}
    # Another crawl answer naming the page with yet another id: followed never again.
    crawl = spider.wds_crawl(
        follow_up(spider, task_id="t2"), "CSS: a", callback=spider.parse_detail
    )
    assert await run(spider, answer(crawl, [{"Id": "t11", "Url": "http://site.test/9"}])) == []


@pytest_twisted.ensureDeferred
async def test_follow_up_reaches_the_user_callback_with_the_task_status() -> None:
    spider = make_spider()
    response = follow_up(
        spider, callback="parse_detail", status={"state": 0, "result": {"httpStatusCode": 200}}
    )
    assert response.request is not None
    response.request.cb_kwargs["depth"] = 3
    assert await run(spider, response) == [
        {"detail": "http://site.test/page.html", "state": "Handled", "depth": 3}
    ]
    assert stats(spider) == {"wds/tasks/handled": 1}


@pytest_twisted.ensureDeferred
async def test_follow_up_counts_each_final_state() -> None:
    spider = make_spider()
    for state in ("AccessDeniedForRobots", 2, "handled"):
        await run(spider, follow_up(spider, status={"TaskState": state}))
    assert stats(spider) == {
        "wds/tasks/access_denied_for_robots": 1,
        "wds/tasks/all_request_gates_exhausted": 1,
        "wds/tasks/handled": 1,
    }


@pytest.mark.parametrize(
    "body", [b"not json", b'{"Error": "x"}', b'{"TaskState": "Exploded"}', b"[]"]
)
@pytest_twisted.ensureDeferred
async def test_a_malformed_info_answer_is_logged_counted_and_skipped(
    body: bytes, caplog: Any
) -> None:
    spider = make_spider()
    good = follow_up(spider, callback="parse_detail")
    assert good.request is not None
    response = answer(good.request, None, raw=body)
    with caplog.at_level(logging.WARNING):
        assert await run(spider, response) == []
    assert stats(spider) == {"wds/malformed_answers/info": 1}
    assert "Skipped a malformed WDS info answer (job 'demo', task 't1'" in caplog.text


@pytest_twisted.ensureDeferred
async def test_scrape_values_reach_the_callback() -> None:
    spider = make_spider()
    request = spider.wds_scrape(follow_up(spider), "CSS: li", callback="got_values")
    assert await run(spider, answer(request, ["a", "b", 3])) == [{"values": ["a", "b", "3"]}]
    assert stats(spider) == {"wds/scraped_values": 3}


@pytest_twisted.ensureDeferred
async def test_scrape_multiple_answers_become_items() -> None:
    spider = make_spider()
    request = spider.wds_scrape_multiple(
        follow_up(spider),
        {"title": "CSS: h1", "price": "CSS: .price"},
        item_class=Book,
        url_field="url",
    )
    out = await run(
        spider,
        answer(request, [{"name": "title", "values": ["T", "U"]}, {"name": "price", "values": []}]),
    )
    assert out == [Book(title="T", url="http://site.test/page.html")]
    assert stats(spider) == {"wds/items": 1}


@pytest_twisted.ensureDeferred
async def test_a_malformed_scrape_multiple_answer_makes_no_item() -> None:
    spider = make_spider()
    request = spider.wds_scrape_multiple(follow_up(spider), {"title": "CSS: h1"})
    assert await run(spider, answer(request, {"title": "T"})) == []
    assert stats(spider) == {"wds/malformed_answers/scrape_multiple": 1}


class AsyncSpider(DemoSpider):
    name = "async_demo"

    async def parse(self, response: Any, **kwargs: Any) -> Any:
        yield {"async_gen": self.wds_task(response).id}

    async def parse_detail(self, response: Any, **kwargs: Any) -> Any:
        return [{"coroutine": self.wds_task(response).id}]


@pytest.mark.parametrize(
    ("callback", "expected"),
    [("parse", {"async_gen": "t1"}), ("parse_detail", {"coroutine": "t1"})],
)
@pytest_twisted.ensureDeferred
async def test_async_user_callbacks(callback: str, expected: dict[str, str]) -> None:
    spider = make_spider(AsyncSpider)
    assert await run(spider, follow_up(spider, callback=callback)) == [expected]


def test_errors_are_counted_and_reach_the_user_errback() -> None:
    spider = make_spider()
    request = spider.wds_crawl(follow_up(spider), "CSS: a", callback="parse", errback="on_failure")
    follow = request.replace(
        meta={"wds": {**request.meta["wds"], "action": "info", "follow_up": True}}
    )
    failure = Failure(WdsTaskNotFound(status=404, action="info", task_id="t1"))
    failure.request = follow  # type: ignore[attr-defined]
    assert list(spider._wds_on_error(failure)) == [{"failed": "WdsTaskNotFound"}]
    assert stats(spider) == {"wds/failed/info": 1, "wds/tasks/failed/404": 1}


class BrokenSpider(DemoSpider):
    name = "broken"
    wds_job = JobConfig(start_urls=["http://site.test/"], crawl_delays={"site.test": "3 seconds"})


class NoJobSpider(DemoSpider):
    name = "no_job"
    wds_job = None  # type: ignore[assignment]


class NoCallbackSpider(DemoSpider):
    name = "no_callback"
    wds_start_callback = "parse_home"


class OffsiteSpider(DemoSpider):
    name = "offsite"
    allowed_domains = ["site.test"]


@pytest.mark.parametrize(
    ("spider_class", "error", "expected"),
    [
        (BrokenSpider, JobConfigError, "JobConfig.crawl_delays['site.test'] is '3 seconds'"),
        (NoJobSpider, JobConfigError, "spider 'no_job' declares no WDS job"),
        (NoCallbackSpider, WdsSpiderError, "wds_start_callback must be a method of the spider"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_start_refuses_bad_setups_before_sending(
    spider_class: type, error: type, expected: str, caplog: Any
) -> None:
    spider = make_spider(spider_class)
    with pytest.raises(error) as info:
        spider.wds_start_request()
    assert expected in str(info.value)
    # From start(): one error line naming the problem, and a finish reason.
    with caplog.at_level(logging.ERROR):
        assert [x async for x in spider.start()] == []
    assert spider.crawler.stats.get_value("wds/refused/wds_bad_config") == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert str(info.value) in line and f"spider {spider.name!r}" in line


@pytest_twisted.ensureDeferred
async def test_start_urls_make_a_job_when_none_is_declared() -> None:
    spider = make_spider(NoJobSpider)
    spider.start_urls = ["http://site.test/a"]
    [request] = [x async for x in spider.start()]
    assert request.body == b'{"StartUrls": ["http://site.test/a"]}'


@pytest_twisted.ensureDeferred
async def test_api_calls_pass_offsite_and_robots_filters_meant_for_the_site() -> None:
    """allowed_domains and robots.txt rule the crawled site (WDS applies both), not the API host."""
    spider = make_spider(OffsiteSpider)
    [start] = [x async for x in spider.start()]
    requests = [start, spider.wds_scrape(follow_up(spider), "CSS: h1", callback="got_values")]
    offsite = OffsiteMiddleware.from_crawler(spider.crawler)
    offsite.spider_opened(spider)
    for request in requests:
        assert offsite.process_request(request) is None  # would raise IgnoreRequest if offsite
        assert request.meta["dont_obey_robotstxt"] is True


def test_other_failures_are_logged_once_by_the_spider(caplog: Any) -> None:
    spider = make_spider()
    request = spider.wds_scrape(follow_up(spider), "CSS: h1", callback="got_values")
    failure = Failure(ConnectionRefusedError("refused"))
    failure.request = request  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING):
        assert spider._wds_on_error(failure) is None
    assert (
        "WDS scrape failed (job 'demo', task 't1' of 'http://site.test/page.html'): refused"
        in caplog.text
    )
    assert stats(spider) == {"wds/failed/scrape": 1}


def test_helpers_refuse_responses_that_are_not_wds_answers() -> None:
    from scrapy.http import HtmlResponse, Request

    spider = make_spider()
    plain = HtmlResponse(
        "http://site.test/", body=b"<html></html>", request=Request("http://site.test/")
    )
    with pytest.raises(ValueError, match="is not an answer to a WDS call"):
        spider.wds_task(plain)
    with pytest.raises(ValueError, match="is not the answer to a wds_scrape\\(\\) call"):
        spider.wds_values(follow_up(spider))
    start = answer(spider.wds_start_request(), [])
    with pytest.raises(ValueError, match="not about one task"):
        spider.wds_crawl(start, "CSS: a")
