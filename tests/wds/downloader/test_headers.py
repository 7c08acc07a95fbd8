"""Extra API headers: sent on every call, never kept on requests, never logged;
and a WDS_API_URL with a path (behind an ingress) works."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import pytest_twisted

from .probe import SECRET, PathPrefixProxy, crawl_settings, run_probe, start_job, task_calls

HEADERS = {"X-Tenant-Id": "acme", "Authorization": SECRET, "X-Api-Key": "k3y-v4lue-99"}
SECRET_VALUES = [SECRET, SECRET.split()[1], "k3y-v4lue-99"]


@pytest_twisted.ensureDeferred
async def test_headers_on_every_call_through_a_path_prefix_and_never_persisted(
    wds_emulator: Any,
    demo_site: Any,
    prefix_proxy: PathPrefixProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api_url = prefix_proxy.url + "/wds/"
    tasks = start_job(
        api_url, "tenant job", [demo_site.url + p for p in demo_site.page_paths()[:6]]
    )
    prefix_proxy.reset()
    wds_emulator.configure(pending_polls=2)
    crawler, spider = await run_probe(
        crawl_settings(api_url, WDS_API_HEADERS=json.dumps(HEADERS)),
        api_url=api_url,
        job="tenant job",
        tasks=tasks,
    )
    # Every call went through the /wds/ prefix and reached the API.
    assert {c["path"].split("/")[1] for c in prefix_proxy.calls()} == {"wds"}
    assert len(task_calls(wds_emulator.calls())) == 6 * 3
    assert all(statuses == [200] for statuses in spider.answers.values())
    assert len(spider.answers) == 6
    # ...each with the configured headers.
    assert len(prefix_proxy.seen_headers) == 6 * 3
    for seen in prefix_proxy.seen_headers:
        assert {k: seen.get(k) for k in HEADERS} == HEADERS
    # The requests that went back to the scheduler (first sends and parked polls)
    # carry none of them, and the polls are copies marked dont_filter.
    polls = [r for r in spider.scheduled if r.meta["wds"].get("polls")]
    assert len(polls) == 12 and all(r.dont_filter for r in polls)
    assert {r.meta["wds"]["polls"] for r in polls} == {1, 2}
    for request in spider.scheduled:
        assert not set(HEADERS) & {k.decode() for k in request.headers}
    # Secret values appear nowhere: logs (Scrapy's own DEBUG lines too), stats, meta.
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert "X-Tenant-Id: acme" in log_text and "Authorization: ***" in log_text
    dumped = log_text + repr(crawler.stats.get_stats()) + repr([r.meta for r in spider.scheduled])
    for value in SECRET_VALUES:
        assert value not in dumped


@pytest_twisted.ensureDeferred
async def test_a_users_own_header_wins_over_the_configured_one(
    wds_emulator: Any, demo_site: Any, prefix_proxy: PathPrefixProxy
) -> None:
    api_url = prefix_proxy.url + "/wds"  # no trailing slash: the same API
    tasks = start_job(api_url, "own", [demo_site.url + "/"])
    prefix_proxy.reset()

    _crawler, spider = await run_probe(
        crawl_settings(api_url, WDS_API_HEADERS={"X-Tenant-Id": "acme"}),
        api_url=api_url,
        job="own",
        tasks=tasks,
        # ``start()`` requests are built by the probe; give it a tenant of its own.
        tenant="mine",
    )
    assert [h.get("X-Tenant-Id") for h in prefix_proxy.seen_headers] == ["mine"]
    assert spider.answers == {tasks[0]["id"]: [200]}
