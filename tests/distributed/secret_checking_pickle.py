"""Test-only scrapy-redis serializer: pickle, refusing any request that carries a watched secret.

Named by ``SCHEDULER_SERIALIZER``; the secret comes from the environment
variable ``WATCHED_SECRET``.  Every request the workers put into redis passes
through :func:`dumps`, so a WDS header value leaking onto a queued request
(or its meta) fails the crawl loudly instead of going unnoticed.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

_SECRET = os.environ.get("WATCHED_SECRET", "").encode()


def dumps(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if _SECRET and _SECRET in data:
        raise AssertionError("a request queued in redis carries the watched secret")
    return data


def loads(data: bytes) -> Any:
    return pickle.loads(data)
