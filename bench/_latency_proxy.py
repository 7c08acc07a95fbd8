"""A loopback reverse proxy that adds a fixed delay to every answer (benchmarks only).

On loopback a results page comes back in a millisecond or two, so fetching
pages concurrently barely matters there; against the real API each page
costs a network round trip.  Putting this proxy in front of the HasData
emulator plays that round trip without leaving the machine.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from scrapy_wds.testing._server import EmulatorServer


class LatencyProxy(EmulatorServer):
    switch_names = ("latency",)

    def __init__(self, target: str, *, latency: float = 0.05) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.latency = latency
        self._session: aiohttp.ClientSession | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        await asyncio.sleep(self.latency)
        async with self._session.request(
            request.method, self.target + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            keep = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            return web.Response(status=answer.status, body=payload, headers=keep)
