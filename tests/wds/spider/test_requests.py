"""Request building: URLs and encoding, GET/POST choice, and requests that survive JOBDIR and pickle."""

from __future__ import annotations

import json
import pickle
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import pytest_twisted
from scrapy import Request
from scrapy.utils.request import request_from_dict

from scrapy_wds import WdsSpiderError, WdsTask
from scrapy_wds._wds._api import MAX_GET_URL_LENGTH
from scrapy_wds._wds._ledger import make_ticket

from ._spiders import Book, DemoSpider, follow_up, make_spider

NASTY_ID = "a b/c#d&e+f'g\"h?i%j"
NASTY_SELECTOR = 'CSS: a[title="A & B #1 + 50% off?"]'


def test_start_request_posts_the_job_config_under_the_base_path() -> None:
    spider = make_spider()
    request = spider.wds_start_request()
    assert request.method == "POST"
    assert request.url == "http://wds.test/base/path/api/v2/jobs/demo/start"
    assert json.loads(request.body) == {"StartUrls": ["http://site.test/"]}
    assert request.headers[b"Content-Type"] == b"application/json"
    # Besides its own key, only Scrapy's flags that keep site filters off API calls.
    assert request.meta == {
        "wds": {
            "action": "start",
            "job": "demo",
            "callback": "parse",
            "ticket": make_ticket("POST", request.url, request.body),
        },
        "dont_obey_robotstxt": True,
        "allow_offsite": True,
        "dont_retry": True,
        "dont_cache": True,
    }


def test_job_names_are_one_encoded_path_segment() -> None:
    spider = make_spider()
    spider.wds_job_name = "books / shop #2"
    request = spider.wds_start_request()
    assert request.url.endswith("/jobs/books%20%2F%20shop%20%232/start")


def test_task_ids_and_selectors_are_percent_encoded() -> None:
    spider = make_spider()
    task = WdsTask("demo", NASTY_ID, "http://site.test/")
    request = spider.wds_crawl(task, NASTY_SELECTOR, callback="parse_detail", attribute="data-x y")
    parts = urlsplit(request.url)
    assert parts.path == "/base/path/api/v2/tasks/a%20b%2Fc%23d%26e%2Bf%27g%22h%3Fi%25j/crawl"
    assert unquote(parts.path.split("/")[-2]) == NASTY_ID
    assert parse_qsl(parts.query) == [("selector", NASTY_SELECTOR), ("attributeName", "data-x y")]
    assert "+" not in parts.query and " " not in parts.query


@pytest.mark.parametrize(
    "api_url", ["http://wds.test", "http://wds.test/", "http://wds.test/wds//"]
)
def test_base_urls_with_or_without_path_and_slash(api_url: str) -> None:
    spider = make_spider(WDS_API_URL=api_url)
    url = spider.wds_info(WdsTask("demo", "t1", "http://site.test/"), callback="parse").url
    prefix = "http://wds.test/wds" if "wds//" in api_url else "http://wds.test"
    assert url == prefix + "/api/v2/tasks/t1/info"


@pytest_twisted.ensureDeferred
async def test_missing_api_url_is_named(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider(WDS_API_URL="")
    assert [x async for x in spider.start()] == []
    assert "WDS_API_URL is not set" in caplog.text


def test_scrape_multiple_goes_by_get_while_the_url_is_short() -> None:
    spider = make_spider()
    request = spider.wds_scrape_multiple(
        follow_up(spider), {"title": "CSS: h1", "link": (NASTY_SELECTOR, "href")}
    )
    assert request.method == "GET" and not request.body
    assert parse_qsl(urlsplit(request.url).query) == [
        ("scrapeParams[0].name", "title"),
        ("scrapeParams[0].selector", "CSS: h1"),
        ("scrapeParams[1].name", "link"),
        ("scrapeParams[1].selector", NASTY_SELECTOR),
        ("scrapeParams[1].attributeName", "href"),
    ]
    assert request.url == spider._wds_api.task_url(
        "t1",
        "scrape-multiple",
        [
            ("scrapeParams[0].name", "title"),
            ("scrapeParams[0].selector", "CSS: h1"),
            ("scrapeParams[1].name", "link"),
            ("scrapeParams[1].selector", NASTY_SELECTOR),
            ("scrapeParams[1].attributeName", "href"),
        ],
    )  # Scrapy sends the URL exactly as built (and measured)


def many_fields(count: int) -> dict[str, str]:
    return {f"field_{i}": f"CSS: div.product > section.details p.value-{i}" for i in range(count)}


def test_scrape_multiple_goes_by_post_once_the_url_would_be_long() -> None:
    spider = make_spider()
    response = follow_up(spider)
    short = spider.wds_scrape_multiple(response, many_fields(5))
    long = spider.wds_scrape_multiple(response, many_fields(40))
    assert short.method == "GET" and len(short.url) < MAX_GET_URL_LENGTH
    assert long.method == "POST"
    assert long.url == "http://wds.test/base/path/api/v2/tasks/t1/scrape-multiple"
    body = json.loads(long.body)
    assert len(body) == 40
    assert body[0] == {
        "Name": "field_0",
        "Selector": "CSS: div.product > section.details p.value-0",
    }


@pytest.mark.parametrize(
    ("setting", "count", "method"), [("get", 40, "GET"), ("post", 1, "POST"), ("AUTO", 1, "GET")]
)
def test_a_setting_forces_the_method(setting: str, count: int, method: str) -> None:
    spider = make_spider(WDS_SCRAPE_MULTIPLE_METHOD=setting)
    request = spider.wds_scrape_multiple(follow_up(spider), many_fields(count))
    assert request.method == method


@pytest_twisted.ensureDeferred
async def test_a_bad_method_setting_is_named_at_start(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider(WDS_SCRAPE_MULTIPLE_METHOD="put")
    # Read by Scrapy's feed exporter (every spider attribute): must not raise.
    assert spider._wds_api is not None
    assert [x async for x in spider.start()] == []
    assert "WDS_SCRAPE_MULTIPLE_METHOD is 'put'" in caplog.text


def test_api_headers_are_not_put_on_requests() -> None:
    spider = make_spider(WDS_API_HEADERS={"Authorization": "Bearer s3cret-token"})
    for request in every_kind(spider):
        assert b"Authorization" not in request.headers
        assert "s3cret" not in json.dumps(request.meta)


def every_kind(spider: Any) -> list[Request]:
    response = follow_up(spider)
    return [
        spider.wds_start_request(),
        response.request,
        spider.wds_crawl(response, "CSS: a", callback=spider.parse_detail, cb_kwargs={"depth": 1}),
        spider.wds_scrape(
            response, "XPATH: //h1", callback="got_values", errback=spider.on_failure
        ),
        spider.wds_scrape_multiple(
            response, {"title": "CSS: h1"}, item_class=Book, url_field="url"
        ),
        spider.wds_scrape_multiple(
            response, many_fields(40), values="all", extra={"source": "wds"}
        ),
        spider.wds_info(response, callback="parse_detail", priority=5),
    ]


def test_every_kind_round_trips_through_request_dicts_and_pickle() -> None:
    spider = make_spider()
    for request in every_kind(spider):
        json.dumps(request.meta)  # JSON-compatible meta, nothing else
        assert "wds" in request.meta
        assert set(request.meta) <= {
            "wds",
            "dont_obey_robotstxt",
            "allow_offsite",
            "dont_retry",
            "dont_cache",
        }
        as_dict = request.to_dict(spider=spider)
        assert as_dict["callback"] == "_wds_on_answer"
        assert as_dict["errback"] == "_wds_on_error"
        restored = request_from_dict(pickle.loads(pickle.dumps(as_dict)), spider=spider)
        assert (restored.url, restored.method, restored.body) == (
            request.url,
            request.method,
            request.body,
        )
        assert restored.meta == request.meta
        assert restored.cb_kwargs == request.cb_kwargs
        assert restored.priority == request.priority
        assert restored.dont_filter == request.dont_filter
        assert restored.callback == spider._wds_on_answer


def test_only_explicit_info_calls_skip_the_dupefilter() -> None:
    spider = make_spider()
    kinds = every_kind(spider)
    assert [r.dont_filter for r in kinds] == [False] * 6 + [True]


@pytest.mark.parametrize(
    "callback",
    [lambda response: None, "no_such_method", DemoSpider.parse_detail.__get__(object())],
)
def test_callbacks_must_be_spider_methods(callback: Any) -> None:
    spider = make_spider()
    with pytest.raises(WdsSpiderError, match="wds_crawl\\(\\) callback"):
        spider.wds_crawl(follow_up(spider), "CSS: a", callback=callback)


def test_unknown_request_options_are_refused() -> None:
    spider = make_spider()
    with pytest.raises(WdsSpiderError, match="not \\['meta'\\]"):
        spider.wds_crawl(follow_up(spider), "CSS: a", meta={"x": 1})


def test_bad_selectors_fail_before_any_request() -> None:
    spider = make_spider()
    with pytest.raises(ValueError, match="wds_scrape\\(\\) selector 'h1'"):
        spider.wds_scrape(follow_up(spider), "h1", callback="got_values")
