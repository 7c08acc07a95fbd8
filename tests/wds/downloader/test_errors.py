"""The public typed errors: attributes, message, pickling."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
import scrapy
from aiohttp import web
from scrapy.crawler import CrawlerRunner
from scrapy.exceptions import IgnoreRequest

import scrapy_wds
from scrapy_wds import JobConfig, WdsSpiderMixin
from scrapy_wds._wds._errors import SERVER_TEXT_LIMIT, truncate_server_text

from .probe import PathPrefixProxy


@pytest.mark.parametrize(
    "cls",
    [
        scrapy_wds.WdsBadRequest,
        scrapy_wds.WdsAccessDenied,
        scrapy_wds.WdsTaskNotFound,
        scrapy_wds.WdsUnprocessable,
        scrapy_wds.WdsServerError,
        scrapy_wds.WdsGaveUpWaiting,
        scrapy_wds.WdsUnexpectedResponse,
        scrapy_wds.WdsBadAnswer,
    ],
)
def test_every_error_carries_the_facts_and_pickles(cls: type[scrapy_wds.WdsError]) -> None:
    error = cls(
        status=404,
        action="crawl",
        task_id="t-1",
        job="books",
        page_url="http://site.test/a.html",
        server_text="Task\n  gone",
    )
    assert isinstance(error, scrapy_wds.WdsError) and isinstance(error, IgnoreRequest)
    assert (error.status, error.action, error.task_id, error.server_text) == (
        404,
        "crawl",
        "t-1",
        "Task gone",
    )
    message = str(error)
    assert message.startswith(
        "WDS crawl on task 't-1' of job 'books' (page http://site.test/a.html) failed (HTTP 404)"
    )
    for part in ("Task gone", "what to do"):
        assert part in message
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls and str(copy) == message and copy.task_id == "t-1"
    assert copy.page_url == "http://site.test/a.html"


def test_long_server_text_is_cut() -> None:
    text = truncate_server_text("x" * (SERVER_TEXT_LIMIT + 50))
    assert text.startswith("x" * SERVER_TEXT_LIMIT) and "50 more characters" in text
    error = scrapy_wds.WdsBadRequest(
        status=400, action="scrape", task_id=None, server_text="y" * 5000
    )
    assert len(error.server_text) < SERVER_TEXT_LIMIT + 40
    assert "the job start" in str(error)


def test_connection_failure_has_no_status() -> None:
    error = scrapy_wds.WdsServerError(status=None, action="info", task_id="t")
    assert error.status is None and "no answer" in str(error)


def _hint(cls: type[scrapy_wds.WdsError], status: int, text: str, task_id: str | None = "t") -> str:
    action = "start" if task_id is None else "crawl"
    return cls(status=status, action=action, task_id=task_id, job="books", server_text=text).hint


def test_a_404_on_the_job_start_points_at_the_url_path_not_at_stale_tasks() -> None:
    start = _hint(scrapy_wds.WdsTaskNotFound, 404, "404: Not Found", task_id=None)
    assert "WDS_API_URL" in start and "stale" not in start
    task = _hint(scrapy_wds.WdsTaskNotFound, 404, "task 't' not found")
    assert "stale JOBDIR" in task
    message = str(scrapy_wds.WdsTaskNotFound(status=404, action="start", task_id=None, job="books"))
    assert message.startswith("WDS start of job 'books' failed (HTTP 404)")


@pytest.mark.parametrize(
    "text, words, not_words",
    [
        ("Page answered HTTP 404", "the page itself answered HTTP 404", "robots"),
        ("robots.txt of site.test disallows http://site.test/a", "robots.txt forbids", "gateway"),
        (
            "every request gate failed for http://site.test/: timeout",
            "every request gateway",
            "robots",
        ),
        ("AllRequestGatesExhausted", "every request gateway", "robots"),
        ("denied", "robots.txt) or every request gate", "answered HTTP"),
    ],
)
def test_a_403_hint_follows_the_servers_words(text: str, words: str, not_words: str) -> None:
    hint = _hint(scrapy_wds.WdsAccessDenied, 403, text)
    assert words in hint and not_words not in hint


def test_other_hints_follow_what_failed() -> None:
    assert "JobConfig" in _hint(scrapy_wds.WdsBadRequest, 400, "bad Type", task_id=None)
    assert "selector" in _hint(scrapy_wds.WdsBadRequest, 400, "bad selector")
    assert "WDS_API_HEADERS" in _hint(scrapy_wds.WdsUnexpectedResponse, 401, "")
    assert "WDS_API_URL" in _hint(scrapy_wds.WdsUnexpectedResponse, 405, "", task_id=None)
    assert "WDS_START_PATIENCE" in _hint(scrapy_wds.WdsServerError, 503, "", task_id=None)
    assert "WDS_RETRY_TIMES" in _hint(scrapy_wds.WdsServerError, 503, "")


def test_the_chosen_hint_survives_pickling() -> None:
    error = scrapy_wds.WdsAccessDenied(
        status=403, action="info", task_id="t", server_text="Page answered HTTP 410"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert copy.hint == error.hint and "HTTP 410" in copy.hint and str(copy) == str(error)


@pytest.mark.parametrize(
    "action, body, problem",
    [
        ("crawl", b"", "empty"),
        ("crawl", b'[{"Id": "1", "Url": "http://a/"}', "not JSON"),
        ("scrape", b"<html><body>Sign in</body></html>", "HTML/XML page"),
        ("start", b'{"Id": "1"}', "a JSON object; the start call answers a JSON array"),
        ("scrape_multiple", b'"x"', "a JSON str"),
        ("info", b"[]", "a JSON array; the info call answers a JSON object"),
        ("info", b'{"Result": {}}', "no TaskState"),
    ],
)
def test_malformed_success_answers_are_told_apart(action: str, body: bytes, problem: str) -> None:
    from scrapy_wds._wds._answer_shape import shape_problem

    found = shape_problem(action, body)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "action, body",
    [
        ("crawl", b"[]"),
        ("scrape", b'["a", 1]'),
        ("info", b'{"taskState": 0}'),
        ("info", b'{"State": "Handled"}'),
        ("scrape_multiple", b'[{"name": "t", "values": []}]'),
    ],
)
def test_documented_answers_in_any_reading_pass(action: str, body: bytes) -> None:
    from scrapy_wds._wds._answer_shape import shape_problem

    assert shape_problem(action, body) is None


class SpoilingProxy(PathPrefixProxy):
    """A proxy in front of WDS that answers some calls itself: 200 and an HTML page.

    The page echoes the request's Authorization header, as some login pages
    and debugging proxies do, so the test sees that the quote is blanked.
    """

    def __init__(self, upstream: str, endpoint: str, times: int) -> None:
        super().__init__(upstream)
        self.endpoint = endpoint
        self.left = times

    async def _forward(self, request: web.Request) -> web.Response:
        if request.path.endswith(self.endpoint) and self.left > 0:
            self.left -= 1
            page = f"<html><body>Sign in. Your header: {request.headers.get('Authorization')}</body></html>"
            return web.Response(status=200, text=page + " " * 3000, content_type="text/html")
        return await super()._forward(request)


class CategoryTasks(WdsSpiderMixin, scrapy.Spider):
    """One item per category page found by crawling the demo site's home page."""

    name = "category_tasks"

    def wds_job_config(self) -> JobConfig:
        return JobConfig(start_urls=[self.settings["DEMO_SITE_URL"] + "/"], type="Intranet")

    def parse(self, response: Any) -> Iterator[scrapy.Request]:
        yield self.wds_crawl(response, "CSS: ul.categories a", callback=self.parse_category)

    def parse_category(self, response: Any) -> Iterator[dict[str, str]]:
        yield {"url": self.wds_task(response).url}


#: Categories of the demo site (its home page links each once).
CATEGORIES = 8


async def run_spider(api_url: str, site_url: str) -> Any:
    crawler = CrawlerRunner(
        {
            "ADDONS": {"scrapy_wds.Addon": 300},
            "WDS_API_URL": api_url,
            "WDS_API_HEADERS": {"Authorization": "Bearer hunter2-secret"},
            "DEMO_SITE_URL": site_url,
            "WDS_RETRY_FIRST_DELAY": 0.02,
            "WDS_RETRY_MAX_DELAY": 0.05,
            "TELNETCONSOLE_ENABLED": False,
        }
    ).create_crawler(CategoryTasks)
    await crawler.crawl()
    return crawler


@pytest_twisted.ensureDeferred
async def test_a_malformed_answer_is_retried_like_a_5xx(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with SpoilingProxy(wds_emulator.url, "/crawl", times=2) as proxy:
        crawler = await run_spider(proxy.url + "/wds", demo_site.url)
    stats = crawler.stats.get_stats()
    assert stats["wds/bad_answers/crawl"] == 2
    assert stats["wds/retries/count"] == 2
    assert stats["item_scraped_count"] == CATEGORIES  # nothing lost
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest_twisted.ensureDeferred
async def test_a_malformed_answer_that_stays_fails_loudly_with_the_body_quoted(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with SpoilingProxy(wds_emulator.url, "/crawl", times=100) as proxy:
        crawler = await run_spider(proxy.url + "/wds", demo_site.url)
    stats = crawler.stats.get_stats()
    assert stats["wds/errors/bad_answer"] == 1 and stats["wds/failed/crawl"] == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("WDS crawl on task ")
    assert "the answer is an HTML/XML page, not JSON, still failing after 3 retries" in line
    assert "server said: '<html><body>Sign in. Your header: ***</body></html>'" in line
    assert len(line) < 1200  # cut
    assert "hunter2" not in caplog.text
    assert "Traceback" not in caplog.text
