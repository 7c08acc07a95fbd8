"""The webhook secret that HasData echoes in job records goes nowhere else.

HasData (and the emulator) echo the submitted body, ``webhook.headers`` with
the shared secret included, in the ``input`` of every job record: the submit
answer, each status answer, and possibly an error answer. Nothing of that may
reach a log line, the stats, the state files or an exception's text.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.utils.test import get_crawler
from twisted.web import resource, server

from scrapy_wds.testing import HasDataEmulator

from ._crawls import JobsOnlySpider
from ._http import request

SECRET = "wh-5ecret-Echoed-In-Every-Record-42"


def _settings(api_url: str, api_key: str, tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "HASDATA_API_KEY": api_key,
        "HASDATA_API_URL": api_url,
        "HASDATA_JOBS": [{"scraper": "amazon-search", "input": {"keywords": ["lamp", "desk"]}}],
        "HASDATA_STATE_FILE": str(tmp_path / "state.json"),
        "HASDATA_WEBHOOK_ENABLED": True,
        "HASDATA_WEBHOOK_SECRET": SECRET,
        "HASDATA_POLL_FIRST_DELAY": 0.02,
        "HASDATA_POLL_MAX_DELAY": 0.05,
        "HASDATA_RETRY_FIRST_DELAY": 0.01,
        "HASDATA_RETRY_MAX_DELAY": 0.02,
        "HASDATA_RETRY_TIMES": 10,
        "HASDATA_PROGRESS_INTERVAL": 0.01,
        "LOG_LEVEL": "DEBUG",
        **more,
    }


def _assert_secret_absent(tmp_path: Path, log: str, stats: dict[str, Any]) -> None:
    assert SECRET not in log
    assert SECRET not in repr(stats)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files, "the crawl left no state file to check"
    for path in files:
        assert SECRET not in path.read_text(errors="replace"), path.name


@pytest_twisted.ensureDeferred
async def test_secret_echoed_by_the_api_stays_out_of_logs_stats_and_state(
    hasdata_emulator: HasDataEmulator, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    # Retries and truncated answers walk the error paths too; a crash keeps the state.
    hasdata_emulator.configure(
        job_polls=6, webhook_batch=3, burst_429=2, error_rate=0.3, malformed_rate=0.3, seed=3
    )
    crawler = get_crawler(
        JobsOnlySpider,
        _settings(hasdata_emulator.url, hasdata_emulator.api_key, tmp_path, LOG_LEVEL="DEBUG"),
    )
    await crawler.crawl()

    jobs = (await request(b"GET", f"{hasdata_emulator.url}/__emulator__/jobs")).json()
    assert SECRET in json.dumps(jobs[0]["input"])  # the records really carry it
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats.get("hasdata/retries", 0) > 0
    assert stats.get("hasdata/webhook/accepted", 0) > 0
    _assert_secret_absent(tmp_path, caplog.text, stats)


class _EchoingApi(resource.Resource):
    """Refuses every submit with a 422 that quotes the submitted body (as some APIs do)."""

    isLeaf = True

    def render_POST(self, request: server.Request) -> bytes:
        assert request.content is not None
        body = json.loads(request.content.read())
        request.setResponseCode(422)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"error": "unsupported field", "input": body}).encode()


@pytest.fixture
def echoing_api() -> Any:
    from twisted.internet import reactor as installed

    reactor: Any = installed  # zope interfaces escape mypy
    port = reactor.listenTCP(0, server.Site(_EchoingApi()), interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}"
    port.stopListening()


@pytest_twisted.ensureDeferred
async def test_error_answer_quoting_the_body_is_quoted_without_the_secret(
    echoing_api: str, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    crawler = get_crawler(JobsOnlySpider, _settings(echoing_api, "key", tmp_path))
    await crawler.crawl()

    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "hasdata_failed"
    assert "HTTP 422" in caplog.text and "<hidden>" in caplog.text  # quoted, secret blanked
    _assert_secret_absent(tmp_path, caplog.text, stats)
