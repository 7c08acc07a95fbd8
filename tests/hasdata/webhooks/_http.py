"""A small real-HTTP client for the receiver tests (Twisted Agent, on the test reactor)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import Agent
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IBodyProducer
from zope.interface import implementer


@dataclass
class Answer:
    status: int
    body: bytes
    #: Header names lower-cased, first value of each.
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@implementer(IBodyProducer)
class _Producer:
    """Writes the body in pieces; with ``declare=False`` the length is unknown,
    so the Agent sends it chunked, with no Content-Length."""

    def __init__(self, body: bytes, *, declare: bool, piece: int = 4096) -> None:
        self._body = body
        self._piece = piece
        self.length = len(body) if declare else UNKNOWN_LENGTH

    def startProducing(self, consumer: Any) -> Deferred[None]:
        for start in range(0, len(self._body), self._piece):
            consumer.write(self._body[start : start + self._piece])
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Collect(Protocol):
    def __init__(self) -> None:
        self.done: Deferred[bytes] = Deferred()
        self._parts: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._parts.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # ResponseDone (or PotentialDataLoss on a close-delimited body) ends it.
        self.done.callback(b"".join(self._parts))


async def request(
    method: bytes,
    url: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    declare_length: bool = True,
) -> Answer:
    """One real HTTP call; the answer's status and whole body."""
    from twisted.internet import reactor

    raw = Headers({b"Content-Type": [b"application/json"]})
    for name, value in (headers or {}).items():
        raw.addRawHeader(name.encode(), value.encode())
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    producer = None if body is None else _Producer(body, declare=declare_length)
    agent = Agent(reactor)  # type: ignore[arg-type]
    # Any: twisted's zope interfaces are opaque to mypy without a plugin.
    response: Any = await agent.request(method, url.encode(), raw, producer)  # type: ignore[arg-type]
    collect = _Collect()
    response.deliverBody(collect)
    first = {
        name.decode().lower(): values[0].decode()
        for name, values in response.headers.getAllRawHeaders()
    }
    return Answer(response.code, await collect.done, first)


async def post(
    url: str,
    body: bytes | dict[str, Any],
    *,
    secret: str | None,
    declare_length: bool = True,
    method: bytes = b"POST",
) -> Answer:
    """A webhook callback: ``secret`` goes in ``X-Webhook-Secret`` (None: no header)."""
    headers = {} if secret is None else {"X-Webhook-Secret": secret}
    return await request(method, url, body, headers=headers, declare_length=declare_length)
