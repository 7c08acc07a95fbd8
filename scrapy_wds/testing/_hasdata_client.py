"""A tiny blocking caller of the HasData emulator, for tests and experiments.

It is deliberately dumb (``urllib``, no retries, no parsing beyond JSON on
demand) so a test sees exactly what the emulator answered, status codes and
malformed bodies included.  The real client lives in :mod:`scrapy_wds._hasdata`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from scrapy_wds.testing._hasdata_emulator import DEFAULT_API_KEY

#: Straight to the emulator: a machine's ``http_proxy`` must not carry the key
#: elsewhere, nor fail a call to a loopback address.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = DEFAULT_API_KEY,
    raw_body: bytes | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One HTTP call; an error status is an :class:`Answer` too, never an exception."""
    data = (
        raw_body
        if raw_body is not None
        else (json.dumps(body).encode() if body is not None else None)
    )
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if key is not None:
        headers["x-api-key"] = key
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), dict(error.headers))
