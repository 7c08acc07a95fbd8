"""Baseline for the benchmarks only: wait for a WDS task *inside* the download slot.

This is what scrapy-wds deliberately does not do: on a 202 the answer is held
in ``process_response`` (priority 580, so it sees the answer before the WDS
middleware at 560) and the same URL is asked again in place, with the same
backoff as the package's own polls, until it answers something else. The
request keeps its ``CONCURRENT_REQUESTS`` slot for the whole wait.
"""

from __future__ import annotations

import asyncio

import aiohttp
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from scrapy_wds._backoff import backoff_delay


class PollInsideTheSlot:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.first = settings.getfloat("WDS_POLL_FIRST_DELAY", 0.5)
        self.cap = settings.getfloat("WDS_POLL_MAX_DELAY", 10.0)
        self.session: aiohttp.ClientSession | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PollInsideTheSlot:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status != 202 or "wds" not in request.meta or request.method != "GET":
            return response
        if self.session is None:
            self.session = aiohttp.ClientSession()
        headers = {k.decode(): v[0].decode() for k, v in request.headers.items()}
        attempt = 0
        while response.status == 202:
            await asyncio.sleep(backoff_delay(attempt, first=self.first, cap=self.cap))
            attempt += 1
            async with self.session.get(request.url, headers=headers) as answer:
                response = response.replace(status=answer.status, body=await answer.read())
        return response
