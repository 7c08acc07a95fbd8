"""What every call to the HasData emulator's API goes through: faults, then the key check.

The faults are the real service's bad days, played on purpose: a burst of
429s (plan concurrency exceeded, with ``Retry-After`` when ``retry_after``
is set), 5xx answers, connections dropped without an answer, and 200
answers cut in half (malformed JSON).  All but the burst are drawn from a
random generator seeded by the ``seed`` switch, so a test sees the same
faults on every run.

Then the answers that are well-formed HTTP but wrong, each a switch:

* ``submit_then_fail`` (``"502"`` or ``"drop"``): every submit creates its
  job, then answers 502 (a gateway that lost the answer) or cuts the
  connection: the client never learns the id of a job it pays for;
* ``results_shape`` (``"data_not_list"``, ``"rows_not_objects"``): results
  pages whose ``data`` is an object, or whose rows are strings;
* ``finished_word`` (e.g. ``"completed"``): the word status answers use
  instead of ``finished`` (a status the client does not know);
* ``rows_count_extra`` (an int): added to every ``dataRowsCount``, so a job
  claims rows its results never serve.

See ``docs/emulator-hasdata.md``.
"""

from __future__ import annotations

import json
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
    retry_after: float | None
    submit_then_fail: str
    results_shape: str
    finished_word: str
    rows_count_extra: int


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
                busy = text_error(429, "too many concurrent requests for your plan; retry later")
                if switches.retry_after is not None:
                    busy.headers["Retry-After"] = f"{switches.retry_after:g}"
                return busy
            if switches.drop_rate > 0 and self._rng.random() < switches.drop_rate:
                raise drop_connection(request)
            if switches.error_rate > 0 and self._rng.random() < switches.error_rate:
                status = self._rng.choice(_SERVER_ERRORS)
                return text_error(status, "server error; please retry")
            if request.headers.get("x-api-key") != switches.api_key:
                return text_error(401, "invalid or missing API key (header x-api-key)")
            response = await handler(request)
            if response.status == 200 and request.method == "POST":
                if switches.submit_then_fail == "drop":
                    raise drop_connection(request)  # the job exists; its id never leaves
                if switches.submit_then_fail == "502":
                    return text_error(502, "bad gateway")
            if response.status == 200 and request.method == "GET":
                response = _distort(switches, request, response)
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


def _distort(switches: FaultSwitches, request: web.Request, response: web.Response) -> web.Response:
    """A well-formed answer made wrong the way the switches say (see the module doc)."""
    if not (
        switches.results_shape or switches.finished_word != "finished" or switches.rows_count_extra
    ):
        return response
    body = json.loads(response.text or "null")
    if request.path.endswith("/results"):
        if switches.results_shape == "data_not_list":
            body["data"] = {"rows": body["data"]}
        elif switches.results_shape == "rows_not_objects":
            body["data"] = [json.dumps(entry) for entry in body["data"]]
    elif isinstance(body, dict):
        if body.get("status") == "finished":
            body["status"] = switches.finished_word
        if switches.rows_count_extra and "dataRowsCount" in body:
            body["dataRowsCount"] = int(body["dataRowsCount"]) + switches.rows_count_extra
    return web.json_response(body)
