"""What every call to the HasData emulator's API goes through: faults, then the key check.

The faults are the real service's bad days, played on purpose: a burst of
429s (plan concurrency exceeded), 5xx answers, connections dropped without
an answer, and 200 answers cut in half (malformed JSON).  All but the burst
are drawn from a random generator seeded by the ``seed`` switch, so a test
sees the same faults on every run.  See ``docs/emulator-hasdata.md``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from scrapy_wds.testing._server import drop_connection, text_error

_SERVER_ERRORS = (500, 502, 503, 504)

Handler = Callable[[web.Request], Awaitable[web.Response]]


class FaultSwitches(Protocol):
    """The emulator's switches read here (they change at any time through ``configure``)."""

    api_key: str
    burst_429: int
    error_rate: float
    drop_rate: float
    malformed_rate: float


class ApiGate:
    """Wraps the API handlers: seeded faults first, then the ``x-api-key`` check."""

    def __init__(self, switches: FaultSwitches, seed: int) -> None:
        self.switches = switches
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Start the fault draws over (a reset emulator repeats its faults)."""
        self._rng = random.Random(seed)

    def guard(self, handler: Handler) -> Handler:
        """Faults first (server trouble comes before the key check), then auth."""

        async def call(request: web.Request) -> web.Response:
            switches = self.switches
            if switches.burst_429 > 0:
                switches.burst_429 -= 1
                return text_error(429, "too many concurrent requests for your plan; retry later")
            if switches.drop_rate > 0 and self._rng.random() < switches.drop_rate:
                raise drop_connection(request)
            if switches.error_rate > 0 and self._rng.random() < switches.error_rate:
                status = self._rng.choice(_SERVER_ERRORS)
                return text_error(status, "server error; please retry")
            if request.headers.get("x-api-key") != switches.api_key:
                return text_error(401, "invalid or missing API key (header x-api-key)")
            response = await handler(request)
            if (
                response.status == 200
                and switches.malformed_rate > 0
                and self._rng.random() < switches.malformed_rate
            ):
                text = response.text or ""
                return web.Response(
                    status=200, text=text[: len(text) // 2], content_type="application/json"
                )
            return response

        return call
