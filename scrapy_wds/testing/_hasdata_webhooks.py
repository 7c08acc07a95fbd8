"""Webhook callbacks of the HasData emulator: parsing, delivery modes, retries.

A job submitted with ``webhook: {url, events, headers}`` gets one
:class:`WebhookChannel`.  The emulator hands it each callback payload in the
order the job makes them; the channel applies the delivery mode and POSTs the
payloads one after the other (with ``headers`` on every request), retrying a
non-2xx answer or a failed connection up to :data:`RETRIES` more times.

Delivery modes (``webhook_mode`` switch, fixed per job at submit):

* ``in_order``: every callback once, in the order the job made them;
* ``duplicated``: every callback twice in a row;
* ``shuffled``: callbacks are held until the job ends, then all sent in an
  order drawn from the emulator's seeded randomness (so rows may arrive after
  ``scraper.job.finished``);
* ``dropped``: ``scraper.job.started`` is sent; every second data callback
  (the 2nd, 4th, …) and ``scraper.job.finished`` are never sent.

Every attempt (and every callback a mode dropped) is recorded in the
emulator's webhook log (a :class:`~scrapy_wds.testing._server.RecordLog`), served
at ``GET /__emulator__/webhooks``.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from scrapy_wds.testing._server import RecordLog

EVENT_STARTED = "scraper.job.started"
EVENT_DATA = "scraper.data.scraped"
EVENT_DATA_LEGACY = "scraper.data.rows_added"
EVENT_FINISHED = "scraper.job.finished"
DATA_EVENTS = (EVENT_DATA, EVENT_DATA_LEGACY)
KNOWN_EVENTS = (EVENT_STARTED, EVENT_DATA, EVENT_DATA_LEGACY, EVENT_FINISHED)
MODES = ("in_order", "shuffled", "duplicated", "dropped")

#: Further attempts after a non-2xx answer or a failed connection.
RETRIES = 3
#: Pause before retry n is n times this (kept short: receivers are local).
RETRY_PAUSE = 0.05
DELIVERY_TIMEOUT = 10.0
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class WebhookError(ValueError):
    """The ``webhook`` field of a body is unusable; the message names the part."""


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    events: tuple[str, ...]
    headers: dict[str, str]

    def wants(self, event: str) -> bool:
        if not self.events:
            return True
        if event in DATA_EVENTS:
            return any(e in DATA_EVENTS for e in self.events)
        return event in self.events


def parse_webhook(value: Any) -> WebhookSpec | None:
    """The ``webhook`` field of a submitted body, checked (``None`` if absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise WebhookError("'webhook' must be an object with 'url', 'events' and 'headers'")
    url = value.get("url")
    if not isinstance(url, str):
        raise WebhookError("'webhook.url' must be an https URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("'webhook.url' must be an https URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise WebhookError(
            "'webhook.url' must be https (the emulator accepts http for loopback hosts only)"
        )
    events = value.get("events") or []
    if not isinstance(events, list) or not all(e in KNOWN_EVENTS for e in events):
        raise WebhookError(
            f"'webhook.events' must be an array of events among {list(KNOWN_EVENTS)}"
        )
    headers = value.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise WebhookError("'webhook.headers' must be an object of header names to strings")
    return WebhookSpec(url, tuple(events), dict(headers))


@dataclass
class WebhookChannel:
    """The callbacks of one job, delivered one after the other."""

    spec: WebhookSpec
    mode: str
    session: aiohttp.ClientSession
    log: RecordLog
    rng: random.Random
    _queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    _held: list[dict[str, Any]] = field(default_factory=list)
    _data_count: int = 0
    _worker: asyncio.Task[None] | None = None

    def send(self, payload: dict[str, Any]) -> None:
        """Queue one callback; the mode decides if, when and how often it goes."""
        event = payload["event"]
        if not self.spec.wants(event):
            return
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._deliver_all())
        if event in DATA_EVENTS:
            self._data_count += 1
        if self.mode == "dropped" and (
            event == EVENT_FINISHED or (event in DATA_EVENTS and self._data_count % 2 == 0)
        ):
            self.log.record(
                jobId=payload["jobId"],
                event=event,
                url=self.spec.url,
                attempt=0,
                status=None,
                dropped=True,
                payload=payload,
            )
            return
        if self.mode == "shuffled":
            self._held.append(payload)
            return
        self._queue.put_nowait(payload)
        if self.mode == "duplicated":
            self._queue.put_nowait(payload)

    def close(self) -> None:
        """The job ended: release held callbacks, then let the worker finish."""
        if self._worker is None:
            return
        self.rng.shuffle(self._held)
        for payload in self._held:
            self._queue.put_nowait(payload)
        self._held.clear()
        self._queue.put_nowait(None)

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def _deliver_all(self) -> None:
        while (payload := await self._queue.get()) is not None:
            await self._deliver(payload)

    async def _deliver(self, payload: dict[str, Any]) -> None:
        headers = {**self.spec.headers, "Content-Type": "application/json"}
        for attempt in range(1, RETRIES + 2):
            status: int | None = None
            error = None
            try:
                async with self.session.post(
                    self.spec.url,
                    json=payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT),
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = str(exc) or type(exc).__name__
            self.log.record(
                jobId=payload["jobId"],
                event=payload["event"],
                url=self.spec.url,
                attempt=attempt,
                status=status,
                error=error,
                dropped=False,
                payload=payload,
            )
            if status is not None and 200 <= status < 300:
                return
            if attempt <= RETRIES:
                await asyncio.sleep(RETRY_PAUSE * attempt)
