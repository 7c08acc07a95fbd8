"""Helpers for the WDS downloader-side tests: a probe spider, crawl runner, path proxy.

WDS requests are built here by hand, per the request contract (URL = final
API URL, ``meta["wds"]`` = action/job/task), so these tests depend on the
middleware alone, not on the spider mixin.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote

import aiohttp
import scrapy
from aiohttp import web
from scrapy.crawler import Crawler, CrawlerRunner
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure
from yarl import URL

from scrapy_wds._wds._waiting_room import SetAside
from scrapy_wds.testing._server import EmulatorServer, drop_connection

SECRET = "Bearer s3cr3t-t0ken-value-42"


def start_job(api_url: str, job: str, urls: list[str]) -> list[dict[str, str]]:
    """Start a WDS job by a direct HTTP call; returns its tasks as ``{"id", "url"}``."""
    body = json.dumps({"StartUrls": urls, "Type": "Intranet"}).encode()
    call = urllib.request.Request(
        api_url.rstrip("/") + f"/api/v2/jobs/{quote(job, safe='')}/start",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Tenant-Id": "default"},
    )
    with urllib.request.urlopen(call, timeout=30) as answer:
        tasks = json.loads(answer.read())
    return [{"id": t["Id"], "url": t["Url"]} for t in tasks]


def task_request(
    api_url: str, job: str, task: dict[str, str], spider: InfoProbe, action: str = "info"
) -> scrapy.Request:
    """A WDS task call as the spider side builds it."""
    url = api_url.rstrip("/") + f"/api/v2/tasks/{quote(task['id'], safe='')}/{action}"
    return scrapy.Request(
        url,
        callback=spider.parse_answer,
        errback=spider.on_error,
        meta={"wds": {"action": action, "job": job, "task": dict(task)}},
    )


class InfoProbe(scrapy.Spider):
    """Asks ``info`` for each given task and records what reached callback and errback."""

    name = "wds_info_probe"

    def __init__(
        self,
        api_url: str = "",
        job: str = "",
        tasks: list[dict[str, str]] | None = None,
        tenant: str | None = None,
        stop_when_idle: bool = False,
        with_errback: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.with_errback = with_errback
        self.tenant = tenant
        self.stop_when_idle = stop_when_idle
        self.api_url = api_url
        self.job = job
        self.tasks = tasks or []
        self.answers: dict[str, list[int]] = {}
        self.failures: dict[str, list[BaseException]] = {}
        self.scheduled: list[scrapy.Request] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> InfoProbe:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_scheduled, signal=scrapy.signals.request_scheduled)
        crawler.signals.connect(spider.on_idle, signal=scrapy.signals.spider_idle)
        return spider

    def on_idle(self, spider: scrapy.Spider) -> None:
        """Idle with WDS requests parked: stop as Ctrl-C would (a graceful stop)."""
        if self.stop_when_idle:
            self.stop_when_idle = False
            deferred_from_coro(self.crawler.stop_async())

    async def start(self):  # type: ignore[no-untyped-def]
        for task in self.tasks:
            request = task_request(self.api_url, self.job, task, self)
            if self.tenant:
                request.headers["X-Tenant-Id"] = self.tenant
            if not self.with_errback:
                request.errback = None
            yield request

    def on_scheduled(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        if "wds" in request.meta:
            self.scheduled.append(request.copy())

    def parse_answer(self, response: Response) -> None:
        task_id = response.meta["wds"]["task"]["id"]
        self.answers.setdefault(task_id, []).append(response.status)

    def on_error(self, failure: Failure) -> None:
        if failure.check(SetAside):
            return  # the download was set aside; a copy carries the call (as _wds_on_error)
        task_id = failure.request.meta["wds"]["task"]["id"]  # type: ignore[attr-defined]
        # An errback's Failure always carries its exception; Twisted types it Optional.
        assert failure.value is not None
        self.failures.setdefault(task_id, []).append(failure.value)


def crawl_settings(api_url: str, **extra: Any) -> dict[str, Any]:
    """Settings of a test crawl: the add-on, quick polls, quiet extensions."""
    return {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "WDS_API_URL": api_url,
        "WDS_POLL_FIRST_DELAY": 0.05,
        "WDS_POLL_MAX_DELAY": 0.3,
        "WDS_RETRY_FIRST_DELAY": 0.02,
        "WDS_RETRY_MAX_DELAY": 0.1,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "DEBUG",
        **extra,
    }


async def run_probe(settings: dict[str, Any], **spider_kwargs: Any) -> tuple[Crawler, InfoProbe]:
    crawler = CrawlerRunner(settings).create_crawler(InfoProbe)
    await crawler.crawl(**spider_kwargs)
    assert isinstance(crawler.spider, InfoProbe)
    return crawler, crawler.spider


#: What :func:`task_calls` gives for an answer that said "not yet" (a 202, or a pending info 200).
PENDING = "pending"


def task_calls(calls: list[dict[str, Any]], action: str = "info") -> list[tuple[str, Any]]:
    """``(task id, status)`` of each task call in an emulator call log, in order.

    An answer saying the task still waits is :data:`PENDING`, whichever way
    the emulator said it (202, or 200 with a Created/InProgress state).
    """
    out = []
    for call in calls:
        parts = call["path"].split("/")
        if len(parts) >= 2 and parts[-1] == action and "tasks" in parts:
            out.append((parts[-2], PENDING if call.get("pending") else call["status"]))
    return out


class PathPrefixProxy(EmulatorServer):
    """Serves an upstream API under a path prefix (``/wds/…``), as an ingress would,
    and records the headers of every call it forwards."""

    def __init__(self, upstream: str, prefix: str = "/wds") -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix
        self.seen_headers: list[dict[str, str]] = []
        self._session: aiohttp.ClientSession | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._forward)

    def reset_state(self) -> None:
        self.seen_headers.clear()

    async def on_started(self) -> None:
        self._session = aiohttp.ClientSession()

    async def on_stopping(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        self.seen_headers.append(dict(request.headers))
        target = URL(self.upstream + request.raw_path[len(self.prefix) :], encoded=True)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("content-type", "x-tenant-id")
        }
        try:
            async with self._session.request(
                request.method, target, data=await request.read(), headers=headers
            ) as upstream:
                body = await upstream.read()
                return web.Response(
                    status=upstream.status, body=body, content_type=upstream.content_type
                )
        except aiohttp.ClientError:
            raise drop_connection(request) from None
