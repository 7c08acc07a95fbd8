"""The public typed errors: attributes, message, pickling."""

from __future__ import annotations

import pickle

import pytest
from scrapy.exceptions import IgnoreRequest

import scrapy_wds
from scrapy_wds._wds._errors import SERVER_TEXT_LIMIT, truncate_server_text


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
