"""4xx → typed errors without retry; 5xx and dropped connections → bounded retries."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted

from scrapy_wds import (
    WdsAccessDenied,
    WdsBadRequest,
    WdsServerError,
    WdsTaskNotFound,
    WdsUnprocessable,
)
from scrapy_wds._wds._middleware import RETRY_RESTS

from .probe import crawl_settings, run_probe, start_job, task_calls

EXPECTED = {400: WdsBadRequest, 403: WdsAccessDenied, 404: WdsTaskNotFound, 422: WdsUnprocessable}


@pytest_twisted.ensureDeferred
async def test_each_4xx_is_a_typed_error_with_server_text_and_no_retry(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    paths = demo_site.page_paths()[:5]
    by_status = dict(zip(EXPECTED, paths))
    wds_emulator.configure(fail_tasks={path + "$": status for status, path in by_status.items()})
    tasks = start_job(wds_emulator.url, "faulty", [demo_site.url + p for p in paths])
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url), api_url=wds_emulator.url, job="faulty", tasks=tasks
    )
    task_of = {t["url"].removeprefix(demo_site.url): t["id"] for t in tasks}
    calls = task_calls(wds_emulator.calls())
    stats = crawler.stats.get_stats()
    for status, path in by_status.items():
        task_id = task_of[path]
        [error] = spider.failures[task_id]
        assert type(error) is EXPECTED[status]
        assert (error.status, error.action, error.task_id, error.job) == (
            status,
            "info",
            task_id,
            "faulty",
        )
        assert "(injected)" in error.server_text and "\n" not in error.server_text
        assert [s for t, s in calls if t == task_id] == [status]  # one call: no retry
        assert stats[f"wds/errors/{status}"] == 1
        assert stats[f"wds/status/{status}"] == 1
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert sum(task_id in line and error.server_text in line for line in logged) == 1
    # The one healthy task still reaches its callback.
    assert spider.answers == {task_of[paths[4]]: [200]}
    assert "retry/count" not in stats and "wds/retries/count" not in stats
    assert stats["finish_reason"] == "finished"
    assert not any("Traceback" in r.getMessage() for r in caplog.records)


@pytest_twisted.ensureDeferred
async def test_5xx_and_dropped_connections_are_retried_until_success(
    wds_emulator: Any, demo_site: Any
) -> None:
    urls = [demo_site.url + p for p in demo_site.page_paths()[:30]]
    tasks = start_job(wds_emulator.url, "flaky", urls)
    wds_emulator.configure(error_rate=0.3, drop_rate=0.15, seed=7)
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url, WDS_RETRY_TIMES=20),
        api_url=wds_emulator.url,
        job="flaky",
        tasks=tasks,
    )
    calls = task_calls(wds_emulator.calls())
    failed = [c for c in calls if c[1] != 200]
    assert {s for _, s in failed} == {503, None}  # both faults were played
    assert spider.failures == {}
    assert sorted(spider.answers) == sorted(t["id"] for t in tasks)
    assert all(statuses == [200] for statuses in spider.answers.values())
    stats = crawler.stats.get_stats()
    exceptions = sum(v for k, v in stats.items() if k.startswith("wds/exceptions/"))
    served_503 = sum(1 for _, s in failed if s == 503)
    dropped = sum(1 for _, s in failed if s is None)
    assert stats["wds/status/503"] == served_503
    assert stats["wds/retries/count"] == served_503 + exceptions
    # Twisted's connection pool silently re-sends an idempotent request once when
    # a reused keep-alive connection drops, so the client sees at most the drops.
    assert 0 < exceptions <= dropped
    assert stats["wds/calls/info"] == 30 + served_503 + exceptions
    assert "retry/count" not in stats  # Scrapy's RetryMiddleware never saw them


@pytest_twisted.ensureDeferred
async def test_retries_are_bounded_then_a_typed_error(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tasks = start_job(
        wds_emulator.url, "down", [demo_site.url + "/", demo_site.url + "/about/team.html"]
    )
    wds_emulator.configure(error_rate=1.0)
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url, WDS_RETRY_TIMES=2),
        api_url=wds_emulator.url,
        job="down",
        tasks=tasks,
    )
    calls = task_calls(wds_emulator.calls())
    attempts = (1 + 2) * (1 + RETRY_RESTS)  # WDS_RETRY_TIMES in a row, then a rest, …
    for task in tasks:
        assert [s for t, s in calls if t == task["id"]] == [503] * attempts
        [error] = spider.failures[task["id"]]
        assert isinstance(error, WdsServerError)
        assert error.status == 503 and "injected fault" in error.server_text
        assert "WDS_RETRY_TIMES" in str(error)
    stats = crawler.stats.get_stats()
    assert stats["wds/retries/count"] == 2 * 2 * (1 + RETRY_RESTS)
    assert stats["wds/retries/rests"] == 2 * RETRY_RESTS
    assert stats["wds/gave_up"] == stats["wds/gave_up/retries"] == stats["wds/errors/503"] == 2
    assert "retry/count" not in stats
    assert stats["finish_reason"] == "finished"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all("what to do" in line for line in errors)


@pytest_twisted.ensureDeferred
async def test_an_unreachable_server_is_a_typed_error(demo_site: Any) -> None:
    # A port nobody listens on: connection refused on every try.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    crawler, spider = await run_probe(
        crawl_settings(dead, WDS_RETRY_TIMES=1),
        api_url=dead,
        job="gone",
        tasks=[{"id": "t-1", "url": demo_site.url + "/"}],
    )
    [error] = spider.failures["t-1"]
    assert isinstance(error, WdsServerError) and error.status is None
    stats = crawler.stats.get_stats()
    assert stats["wds/retries/count"] == 1 + RETRY_RESTS and stats["wds/errors/connection"] == 1


@pytest_twisted.ensureDeferred
async def test_without_an_errback_a_failure_is_one_log_line_and_the_crawl_goes_on(
    wds_emulator: Any, demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    paths = demo_site.page_paths()[:3]
    wds_emulator.configure(fail_tasks={paths[0] + "$": 422}, pending_polls=1)
    tasks = start_job(wds_emulator.url, "no-errback", [demo_site.url + p for p in paths])
    crawler, spider = await run_probe(
        crawl_settings(wds_emulator.url),
        api_url=wds_emulator.url,
        job="no-errback",
        tasks=tasks,
        with_errback=False,
    )
    assert spider.failures == {}
    assert sorted(spider.answers) == sorted(t["id"] for t in tasks[1:])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and tasks[0]["id"] in errors[0].getMessage()
    assert errors[0].exc_info is None  # no traceback from inside the downloader
    stats = crawler.stats.get_stats()
    assert stats["wds/errors/422"] == 1 and stats["finish_reason"] == "finished"
    assert "spider_exceptions" not in " ".join(stats)
