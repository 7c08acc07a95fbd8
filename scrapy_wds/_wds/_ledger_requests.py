"""WDS requests as JSON-compatible data the ledger keeps, and back.

Only what the package itself puts on a WDS request is kept: the API URL,
method, body, the two content headers, ``meta["wds"]`` and Scrapy's flags,
priority, ``cb_kwargs`` and the spider methods' names.  ``WDS_API_HEADERS``
are added at download time only, so no credential is ever written down.
A request rebuilt from its data is ``dont_filter``: it stands for a call the
crawl still owes, which Scrapy's dupefilter may have seen already.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request

from scrapy_wds._wds._api import SCRAPY_FLAGS
from scrapy_wds._wds._task import META_KEY

#: Request meta keys kept besides ``meta["wds"]``: Scrapy's own flags, its
#: retry counter and its depth (so DEPTH_LIMIT holds across a resume).
_KEPT_META = (META_KEY, *SCRAPY_FLAGS, "retry_times", "depth")
_KEPT_HEADERS = ("Accept", "Content-Type")


def request_to_data(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"url": request.url, "method": request.method}
    if request.body:
        data["body"] = request.body.decode("utf-8")
    data["headers"] = {
        name: request.headers[name].decode("latin-1")  # type: ignore[union-attr]
        for name in _KEPT_HEADERS
        if request.headers.get(name)
    }
    data["meta"] = {key: request.meta[key] for key in _KEPT_META if key in request.meta}
    if request.priority:
        data["priority"] = request.priority
    if request.cb_kwargs:
        data["cb_kwargs"] = dict(request.cb_kwargs)
    for name in ("callback", "errback"):
        method = getattr(request, name)
        if method is not None:
            data[name] = method.__name__
    return data


def request_from_data(data: dict[str, Any], spider: Any) -> Request:
    """The request again, its callbacks the spider's methods of the same names."""
    return Request(
        data["url"],
        method=data.get("method", "GET"),
        body=data.get("body"),
        headers=data.get("headers") or None,
        meta={
            key: (dict(value) if isinstance(value, dict) else value)
            for key, value in data.get("meta", {}).items()
        },
        priority=int(data.get("priority", 0)),
        cb_kwargs=dict(data.get("cb_kwargs") or {}),
        callback=getattr(spider, data["callback"]) if data.get("callback") else None,
        errback=getattr(spider, data["errback"]) if data.get("errback") else None,
        dont_filter=True,
    )
