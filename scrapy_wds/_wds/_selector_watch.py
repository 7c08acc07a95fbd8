"""Selectors that match nothing: counted per page, and said once, out loud.

A selector with a typo (``a[hrf]``, an attribute ``hrf``) is valid syntax,
so the client cannot refuse it; the server just finds nothing, page after
page, and the crawl would end ``finished`` with no items and no word.  The
downloader middleware shows every crawl / scrape / scrape-multiple answer to
:class:`SelectorWatch`, which keeps per selector (and attribute, and field)
the pages seen and the pages where it matched something, counts the empty
ones in the stat ``wds/selectors/matched_nothing/<selector>``, and logs ONE
warning when a selector has matched nothing on its first
``WDS_SELECTOR_WARN_PAGES`` pages, or, at close, on every page it was tried
on when it was tried on fewer.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from scrapy import Request, Spider, signals
from scrapy.http import Response

from scrapy_wds._wds._answers import MalformedAnswer, get_key, parse_scrape_results
from scrapy_wds._wds._task import META_KEY

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_WATCHED = frozenset({"crawl", "scrape", "scrape_multiple"})


@dataclass
class _Record:
    """What one selector has done so far."""

    where: str  # "wds_crawl()", "field 'title' of wds_scrape_multiple()"
    example_page: str
    pages: int = 0
    matched: int = 0
    warned: bool = False


def _selector_key(selector: str, attribute: str | None) -> str:
    return f"{selector} @{attribute}" if attribute else selector


#: One selector a call sends: ``(action, field name, selector key, where)``.
_Asked = tuple[str, str, str, str]


def _asked(request: Request) -> tuple[_Asked, ...]:
    """What each selector ``request`` sends (every page of a spider asks the same few)."""
    query = request.url.partition("?")[2]
    body = request.body if request.method == "POST" else b""
    return _asked_by(str(request.meta[META_KEY].get("action")), query, body)


@functools.lru_cache(maxsize=1024)
def _asked_by(action: str, query: str, body: bytes) -> tuple[_Asked, ...]:
    # Cached: reading the query string back cost more than the rest of the
    # watch, on every answer, for the same few calls of a spider.
    return tuple(
        (action, field, _selector_key(selector, attribute), _where(action, field))
        for selector, attribute, field in _selectors_of(action, query, body)
    )


def _where(action: str, field: str) -> str:
    return f"field {field!r} of wds_scrape_multiple()" if field else f"wds_{action}()"


def _selectors_of(action: str, query: str, body: bytes) -> Iterator[tuple[str, str | None, str]]:
    """``(selector, attribute, field name)`` of each selector a call sends."""
    params = dict(parse_qsl(query))
    if action in ("crawl", "scrape"):
        if "selector" in params:
            yield params["selector"], params.get("attributeName"), ""
        return
    if body:
        try:
            entries = json.loads(body)
        except ValueError:
            return
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                yield (
                    str(get_key(entry, "Selector")),
                    get_key(entry, "AttributeName"),
                    str(get_key(entry, "Name")),
                )
        return
    index = 0
    while f"scrapeParams[{index}].selector" in params:
        at = f"scrapeParams[{index}]"
        yield (
            params[f"{at}.selector"],
            params.get(f"{at}.attributeName"),
            params.get(f"{at}.name", ""),
        )
        index += 1


def _fields_found(data: Any) -> frozenset[str] | None:
    """The field names (lower case) a scrape-multiple answer has values for; ``None`` if unreadable."""
    try:
        results = parse_scrape_results(data)
    except MalformedAnswer:
        return None  # not this watch's business: the answer readers report it
    return frozenset(name.lower() for name, values in results if values)


class SelectorWatch:
    """Counts, per selector, the pages where it matched nothing; warns once when it never does."""

    def __init__(self, crawler: Crawler, warn_after: int) -> None:
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.warn_after = warn_after
        self.records: dict[tuple[str, str], _Record] = {}
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def observe(self, request: Request, response: Response) -> None:
        """Note what each selector of ``request`` found in ``response`` (a checked 2xx answer)."""
        wds = request.meta[META_KEY]
        if wds.get("action") not in _WATCHED:
            return
        try:
            data = json.loads(response.body)
        except ValueError:
            return
        task = wds.get("task") if isinstance(wds.get("task"), dict) else {}
        asked = _asked(request)
        found = _fields_found(data) if asked and asked[0][0] == "scrape_multiple" else None
        for action, field, key, where in asked:
            record = self.records.get((where, key))
            if record is None:
                record = self.records[where, key] = _Record(where, str(task.get("url", "")))
            record.pages += 1
            if action != "scrape_multiple":
                matched = isinstance(data, list) and len(data) > 0
            else:
                matched = found is None or field.lower() in found
            if matched:
                record.matched += 1
                continue
            self.stats.inc_value(f"wds/selectors/matched_nothing/{key}")
            if record.matched == 0 and record.pages == self.warn_after:
                self._warn(key, record, f"on its first {record.pages} pages")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        for (_, key), record in self.records.items():
            if record.matched == 0 and 0 < record.pages < self.warn_after:
                self._warn(key, record, f"on any of the {record.pages} pages it was tried on")

    def _warn(self, key: str, record: _Record, extent: str) -> None:
        if record.warned:
            return
        record.warned = True
        self.stats.inc_value("wds/selectors/never_matched")
        logger.warning(
            "Selector %r (%s) has matched nothing %s, e.g. %s; check it (and its attribute "
            "name) against that page; WDS_SELECTOR_WARN_PAGES sets when this is said",
            key,
            record.where,
            extent,
            record.example_page or "(page unknown)",
        )
