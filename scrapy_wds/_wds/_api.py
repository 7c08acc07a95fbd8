"""The five WDS calls as ordinary ``scrapy.Request`` objects.

Each request carries the final API URL and, under ``meta["wds"]``, a
JSON-compatible description of the call (``action``, ``job``, ``task``, the
callback's name…) that the downloader middleware and the spider mixin read.
Task ids and job names are opaque: each is percent-encoded as one path
segment; every query value is percent-encoded (selectors hold spaces, ``#``,
``&``, ``+``, quotes), which the vendor's own client forgets to do.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from scrapy import Request

from scrapy_wds._wds._ledger import TICKET_KEY, make_ticket
from scrapy_wds._wds._selectors import ScrapeField, WdsSelector
from scrapy_wds._wds._settings import check_scrape_multiple_method, parse_api_url
from scrapy_wds._wds._task import META_KEY, WdsTask

#: Scrape-multiple goes by GET below this URL length, by POST from it on:
#: many servers and proxies refuse URLs longer than about 2,000 characters.
MAX_GET_URL_LENGTH = 2000
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
#: Scrapy's own meta flags for calls to the API.  robots.txt and the spider's
#: allowed_domains govern the crawled site, and WDS applies both itself (its
#: AccessDeniedForRobots state, its start domains); applied to the API host
#: they would only drop calls.  The WDS downloader middleware does the
#: retrying and the waiting itself: Scrapy's RetryMiddleware must not retry
#: a call a second time, and its HTTP cache must not replay a 202 ("not yet")
#: or keep an answer that changes as the task progresses.
SCRAPY_FLAGS = {
    "dont_obey_robotstxt": True,
    "allow_offsite": True,
    "dont_retry": True,
    "dont_cache": True,
}


def _segment(value: str) -> str:
    return quote(value, safe="")


@functools.lru_cache(maxsize=1024)
def _query(params: tuple[tuple[str, str], ...]) -> str:
    # Everything is encoded, keys too: Scrapy would encode the brackets of
    # "scrapeParams[0].name" anyway, and a URL measured here must be the URL
    # sent.  Spaces become "%20", never "+", which some servers keep as a plus.
    # Cached: every page of a spider asks with the same few queries.
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


class WdsApi:
    """Builds the requests of one WDS server (``WDS_API_URL``, which may have a path)."""

    def __init__(self, api_url: str, *, scrape_multiple_method: str = "auto") -> None:
        self.base = parse_api_url(api_url) + "api/v2/"
        self.scrape_multiple_method = check_scrape_multiple_method(scrape_multiple_method)

    # -- URLs -------------------------------------------------------------

    def start_url(self, job: str) -> str:
        return f"{self.base}jobs/{_segment(job)}/start"

    def task_url(self, task_id: str, endpoint: str, params: Sequence[tuple[str, str]] = ()) -> str:
        url = f"{self.base}tasks/{_segment(task_id)}/{endpoint}"
        return f"{url}?{_query(tuple(params))}" if params else url

    # -- requests ---------------------------------------------------------

    def start(self, job: str, config: Mapping[str, Any], **request: Any) -> Request:
        meta = {"action": "start", "job": job}
        return self._request(
            self.start_url(job), meta, request, method="POST", body=json.dumps(config)
        )

    def info(self, task: WdsTask, **request: Any) -> Request:
        return self._request(self.task_url(task.id, "info"), self._meta("info", task), request)

    def crawl(
        self, task: WdsTask, selector: WdsSelector, attribute: str | None = None, **request: Any
    ) -> Request:
        return self._one_selector("crawl", task, selector, attribute, request)

    def scrape(
        self, task: WdsTask, selector: WdsSelector, attribute: str | None = None, **request: Any
    ) -> Request:
        return self._one_selector("scrape", task, selector, attribute, request)

    def scrape_multiple(
        self, task: WdsTask, fields: Sequence[ScrapeField], **request: Any
    ) -> Request:
        meta = self._meta("scrape_multiple", task)
        params: list[tuple[str, str]] = []
        for index, item in enumerate(fields):
            params.append((f"scrapeParams[{index}].name", item.name))
            params.append((f"scrapeParams[{index}].selector", item.selector.wire))
            if item.attribute is not None:
                params.append((f"scrapeParams[{index}].attributeName", item.attribute))
        url = self.task_url(task.id, "scrape-multiple", params)
        method = self.scrape_multiple_method
        if method == "get" or (method == "auto" and len(url) < MAX_GET_URL_LENGTH):
            return self._request(url, meta, request)
        body = [
            {"Name": item.name, "Selector": item.selector.wire}
            | ({"AttributeName": item.attribute} if item.attribute is not None else {})
            for item in fields
        ]
        url = self.task_url(task.id, "scrape-multiple")
        return self._request(url, meta, request, method="POST", body=json.dumps(body))

    def _one_selector(
        self,
        action: str,
        task: WdsTask,
        selector: WdsSelector,
        attribute: str | None,
        request: dict[str, Any],
    ) -> Request:
        """Crawl and scrape: one selector, an optional attribute, the action as the endpoint."""
        params = [("selector", selector.wire)]
        if attribute is not None:
            params.append(("attributeName", attribute))
        url = self.task_url(task.id, action, params)
        return self._request(url, self._meta(action, task), request)

    @staticmethod
    def _meta(action: str, task: WdsTask) -> dict[str, Any]:
        return {"action": action, "job": task.job, "task": task.as_meta()}

    @staticmethod
    def _request(
        url: str,
        meta: dict[str, Any],
        request: dict[str, Any],
        *,
        method: str = "GET",
        body: str | None = None,
    ) -> Request:
        """``request`` holds Request arguments plus ``wds``: extra keys for ``meta["wds"]``."""
        meta.update(request.pop("wds", {}))
        # A call asked on purpose twice (dont_filter) is two calls; any other
        # is named by what it asks, so an answer processed again after a crash
        # issues the same tickets again.
        meta[TICKET_KEY] = make_ticket(
            method, url, body or "", unique=bool(request.get("dont_filter"))
        )
        headers = dict(JSON_HEADERS) if body is not None else {"Accept": "application/json"}
        return Request(
            url,
            method=method,
            body=body,
            headers=headers,
            meta={META_KEY: meta, **SCRAPY_FLAGS},
            **request,
        )
