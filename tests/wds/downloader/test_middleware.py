"""The middleware on its own: setup errors, parked copies, Retry-After, requests as data."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any, Protocol, TypedDict

import pytest
import pytest_twisted
import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from scrapy_wds import JobConfig, WdsSpiderMixin
from scrapy_wds._wds._config_check import is_refused
from scrapy_wds._wds._middleware import WdsDownloaderMiddleware
from scrapy_wds._wds._waiting_room import NotNow

API = "http://wds.test/base/"


class Owner(scrapy.Spider):
    name = "owner"

    def parse_task(self, response: Response) -> None:  # pragma: no cover - only named
        pass

    def on_error(self, failure: Failure) -> None:  # pragma: no cover - only named
        pass


class Callbacks(TypedDict):
    """The callback pair every WDS request of these tests carries."""

    callback: Callable[[Response], None]
    errback: Callable[[Failure], None]


class DownloaderHooks(Protocol):
    """The hooks as Scrapy's downloader calls them: None means "carry on with this request".

    The middleware declares ``-> None``; seen through Scrapy's wider contract,
    the pass-through checks below stay checks rather than statements of type.
    """

    def process_request(self, request: scrapy.Request) -> scrapy.Request | Response | None: ...

    def process_exception(
        self, request: scrapy.Request, exception: Exception
    ) -> scrapy.Request | Response | None: ...


def middleware(**settings: Any) -> tuple[WdsDownloaderMiddleware, Owner]:
    crawler = get_crawler(Owner, {"WDS_API_URL": API, **settings})
    spider = Owner.from_crawler(crawler)
    crawler.spider = spider
    return WdsDownloaderMiddleware.from_crawler(crawler), spider


def every_request_kind(spider: Owner) -> list[scrapy.Request]:
    """One request per action, shaped as the spider side builds them."""
    task = {"id": "a/b c", "url": "http://site/x"}
    common: Callbacks = {"callback": spider.parse_task, "errback": spider.on_error}
    return [
        scrapy.Request(
            API + "api/v2/jobs/site/start",
            method="POST",
            body=json.dumps({"StartUrls": ["http://site/"]}),
            headers={"Content-Type": "application/json"},
            meta={"wds": {"action": "start", "job": "site"}},
            **common,
        ),
        scrapy.Request(
            API + "api/v2/tasks/a%2Fb%20c/crawl?selector=CSS%3A%20a%5Bhref%5D&attributeName=href",
            meta={"wds": {"action": "crawl", "job": "site", "task": task, "next": "parse_task"}},
            **common,
        ),
        scrapy.Request(
            API + "api/v2/tasks/a%2Fb%20c/scrape?selector=XPATH%3A%20%2F%2Fh1",
            meta={"wds": {"action": "scrape", "job": "site", "task": task}},
            **common,
        ),
        scrapy.Request(
            API + "api/v2/tasks/a%2Fb%20c/scrape-multiple?scrapeParams%5B0%5D.name=t"
            "&scrapeParams%5B0%5D.selector=CSS%3A%20h1",
            meta={"wds": {"action": "scrape_multiple", "job": "site", "task": task}},
            **common,
        ),
        scrapy.Request(
            API + "api/v2/tasks/a%2Fb%20c/scrape-multiple",
            method="POST",
            body=json.dumps([{"Name": "t", "Selector": "CSS: h1"}]),
            meta={"wds": {"action": "scrape_multiple", "job": "site", "task": task}},
            **common,
        ),
        scrapy.Request(
            API + "api/v2/tasks/a%2Fb%20c/info",
            meta={"wds": {"action": "info", "job": "site", "task": task}},
            **common,
        ),
    ]


def park(
    mw: WdsDownloaderMiddleware, request: scrapy.Request, response: Response
) -> tuple[float, scrapy.Request]:
    hooks: DownloaderHooks = mw
    assert hooks.process_request(request) is None
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, response)
    [(delay, parked)] = mw.room.close()
    return delay, parked


def round_trip(request: scrapy.Request, spider: Owner) -> scrapy.Request:
    return request_from_dict(
        pickle.loads(pickle.dumps(request.to_dict(spider=spider))), spider=spider
    )


def same(a: scrapy.Request, b: scrapy.Request) -> bool:
    return (
        a.url,
        a.method,
        a.body,
        a.meta,
        a.callback,
        a.errback,
        a.dont_filter,
        dict(a.headers),
    ) == (b.url, b.method, b.body, b.meta, b.callback, b.errback, b.dont_filter, dict(b.headers))


def test_needs_api_url() -> None:
    with pytest.raises(NotConfigured, match="WDS_API_URL"):
        WdsDownloaderMiddleware.from_crawler(get_crawler(Owner, {}))


def test_bad_setting_refuses_the_crawl_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    # No exception out of from_crawler (Scrapy would print a traceback): one line, then closed.
    mw, _ = middleware(WDS_POLL_MAX_WAIT="forever")
    assert is_refused(mw.crawler)
    assert "WDS_POLL_MAX_WAIT must be a number of seconds > 0, got 'forever'" in caplog.text


def test_every_request_kind_and_its_parked_copy_round_trip() -> None:
    mw, spider = middleware(WDS_API_HEADERS={"Authorization": "Bearer xyz-secret"})
    for request in every_request_kind(spider):
        assert same(round_trip(request, spider), request)
        # A fresh middleware each time: these calls share one task, whose later
        # calls would otherwise wait behind the first one's poll.
        mw, _ = middleware(WDS_API_HEADERS={"Authorization": "Bearer xyz-secret"})
        _, parked = park(mw, request.copy(), Response(request.url, status=202, request=request))
        back = round_trip(parked, spider)
        assert same(back, parked)
        assert back.meta["wds"]["polls"] == 1 and back.errback == spider.on_error
        assert b"xyz-secret" not in pickle.dumps(parked.to_dict(spider=spider))


def test_a_202_parks_a_clean_copy_and_silences_the_original() -> None:
    mw, spider = middleware(WDS_API_HEADERS={"X-Tenant-Id": "acme", "X-Api-Key": "k-123456"})
    request = every_request_kind(spider)[-1]
    wds_before = copy.deepcopy(request.meta["wds"])
    mw.process_request(request)
    assert request.headers["X-Api-Key"] == b"k-123456"  # sent with the call
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, Response(request.url, status=202, request=request))
    assert request.meta["wds"] == wds_before  # the spider side's dict is never touched
    assert request.errback == spider.on_error  # the request itself is never changed
    [(delay, parked)] = mw.room.close()
    assert 0.25 <= delay <= 0.5  # WDS_POLL_FIRST_DELAY 0.5, jittered down to half
    assert parked.dont_filter and parked.errback == spider.on_error
    assert not {b"X-Tenant-Id", b"X-Api-Key"} & set(parked.headers)
    assert parked.meta["wds"]["polls"] == 1 and "waiting_since" in parked.meta["wds"]
    assert {k: v for k, v in parked.meta["wds"].items() if k in wds_before} == wds_before
    assert mw.stats.get_value("wds/polls") == 1
    assert mw.stats.get_value("wds/calls/info") == 1


@pytest.mark.parametrize("header", ["7", "date"])
def test_retry_after_is_honoured(header: str) -> None:
    mw, spider = middleware(WDS_POLL_MAX_DELAY=1)
    request = every_request_kind(spider)[1]
    value = header
    if header == "date":
        value = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=8), usegmt=True)
    delay, _ = park(
        mw,
        request,
        Response(request.url, status=202, headers={"Retry-After": value}, request=request),
    )
    assert 5 < delay <= 8


def test_retry_after_never_outlasts_the_total_wait() -> None:
    mw, spider = middleware(WDS_POLL_MAX_WAIT=3)
    request = every_request_kind(spider)[1]
    delay, _ = park(
        mw,
        request,
        Response(request.url, status=202, headers={"Retry-After": "60"}, request=request),
    )
    assert delay <= 3


def test_answers_and_other_requests_pass_through_untouched() -> None:
    mw, spider = middleware()
    hooks: DownloaderHooks = mw
    request = every_request_kind(spider)[-1]
    mw.process_request(request)
    ok = TextResponse(request.url, status=200, body=b'{"TaskState": "Handled"}', request=request)
    assert mw.process_response(request, ok) is ok
    assert b"X-Tenant-Id" not in request.headers
    other = scrapy.Request("http://site/page")
    assert hooks.process_request(other) is None and not other.headers
    not_found = Response(other.url, status=404, request=other)
    assert mw.process_response(other, not_found) is not_found
    assert hooks.process_exception(other, ConnectionError()) is None


def test_a_stopped_engine_is_not_handed_parked_requests() -> None:
    """A due request offered to an engine that is not running stays in the room (tried again later)."""

    class Engine:
        running = False
        _slot = SimpleNamespace(closing=None)  # started, not closing
        crawled: list[scrapy.Request] = []

        def crawl(self, request: scrapy.Request) -> None:
            self.crawled.append(request)

    mw, spider = middleware()
    engine = Engine()
    mw.crawler.engine = engine  # type: ignore[assignment]
    request = every_request_kind(spider)[-1]
    with pytest.raises(NotNow, match="not running"):
        mw._send_again(request)
    engine.running = True
    mw._send_again(request)
    assert engine.crawled == [request]


@pytest.mark.parametrize(
    "body",
    [
        b'{"TaskState": "Created"}',
        b'{"taskState": 11}',
        b'{"State": "inprogress"}',
        b'{"state": "10"}',
    ],
)
def test_a_pending_info_200_is_waited_on_like_a_202(body: bytes) -> None:
    mw, spider = middleware()
    request = every_request_kind(spider)[-1]
    _, parked = park(mw, request, TextResponse(request.url, status=200, body=body, request=request))
    assert parked.meta["wds"]["polls"] == 1 and parked.dont_filter
    assert mw.stats.get_value("wds/pending_answers") == 1 and mw.stats.get_value("wds/polls") == 1


def test_final_states_pass() -> None:
    mw, spider = middleware()
    kinds = every_request_kind(spider)
    for state in ("Handled", "AccessDeniedForRobots", "AllRequestGatesExhausted", "Deleted", 0, 12):
        request = kinds[-1].copy()
        answer = TextResponse(
            request.url, status=200, body=json.dumps({"TaskState": state}).encode(), request=request
        )
        assert mw.process_response(request, answer) is answer


def test_a_wait_starts_the_failure_count_again() -> None:
    mw, spider = middleware(WDS_RETRY_TIMES=2)
    request = every_request_kind(spider)[-1]
    _, retried = park(mw, request, Response(request.url, status=503, request=request))
    assert retried.meta["retry_times"] == 1
    assert mw.stats.get_value("wds/retries/count") == 1
    assert mw.stats.get_value("wds/retries/reason_count/503") == 1
    mw.room = type(mw.room)(mw.room._clock, mw._send_again)
    _, retried = park(mw, retried, Response(request.url, status=503, request=retried))
    assert retried.meta["retry_times"] == 2
    mw.room = type(mw.room)(mw.room._clock, mw._send_again)
    _, waiting = park(mw, retried, Response(request.url, status=202, request=retried))
    assert waiting.meta["retry_times"] == 0  # the server answered: failures count anew
    mw.room = type(mw.room)(mw.room._clock, mw._send_again)
    _, retried = park(mw, waiting, Response(request.url, status=503, request=waiting))
    assert retried.meta["retry_times"] == 1


def test_scrapys_retry_and_cache_leave_api_calls_alone() -> None:
    from scrapy_wds._wds._api import WdsApi
    from scrapy_wds._wds._task import WdsTask

    request = WdsApi(API).info(WdsTask("job", "t1", "http://site/"))
    assert request.meta["dont_retry"] is True and request.meta["dont_cache"] is True
    assert request.meta["wds"]["ticket"]


class ParkedTasks(WdsSpiderMixin, scrapy.Spider):
    """Crawls the demo site's categories with an errback of its own, to see what reaches it."""

    name = "parked_tasks"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_failures: list[Failure] = []

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"], type="Intranet")

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(
            response, "CSS: ul.categories a", callback=self.parse_category, errback=self.on_failure
        )

    def parse_category(self, response: Any) -> Iterator[dict[str, str]]:
        yield {"url": self.wds_task(response).url}

    def on_failure(self, failure: Failure) -> None:
        self.user_failures.append(failure)


@pytest_twisted.ensureDeferred
async def test_a_parked_download_ends_silently_without_touching_the_request(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wds_emulator.configure(pending_polls=2)  # every task answers "not yet" twice
    crawler = CrawlerRunner(
        {
            "ADDONS": {"scrapy_wds.Addon": 300},
            "WDS_API_URL": wds_emulator.url,
            "DEMO_SITE_URL": demo_site.url,
            "WDS_POLL_FIRST_DELAY": 0.02,
            "WDS_POLL_MAX_DELAY": 0.05,
            "TELNETCONSOLE_ENABLED": False,
        }
    ).create_crawler(ParkedTasks)
    seen: list[tuple[scrapy.Request, Any]] = []

    def reached(request: scrapy.Request, spider: Any) -> None:
        seen.append((request, request.errback))

    crawler.signals.connect(reached, signal=signals.request_reached_downloader)
    await crawler.crawl()
    spider = crawler.spider
    assert isinstance(spider, ParkedTasks)
    stats = crawler.stats.get_stats()
    assert stats["wds/polls"] >= 2 * 8  # downloads set aside: each poll ended in a SetAside
    assert stats["item_scraped_count"] == 8 and stats["finish_reason"] == "finished"
    assert spider.user_failures == []  # the user's errback never heard of a park
    assert not any(k.startswith("wds/failed/") for k in stats)
    # Each request keeps the errback it was sent with (the package's own).
    assert len(seen) == stats["scheduler/dequeued"] and all(
        request.errback == errback == spider._wds_on_error for request, errback in seen
    )
    # Scrapy says nothing of an IgnoreRequest an errback handled.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "SetAside" not in caplog.text and "IgnoreRequest" not in caplog.text
