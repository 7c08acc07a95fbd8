"""What a crawl or scrape call asks for, read from its query or JSON body.

Query parameter names are matched case-insensitively (as .NET binds them);
scrape-multiple takes ``scrapeParams[i].name/.selector/.attributeName`` with
indices running 0, 1, 2… without gaps, or the same as a JSON array of
ScrapeParams in a POST body.  Anything missing or malformed is a
:class:`ParamsProblem` (400) naming the parameter; bad selectors are a
:class:`~scrapy_wds.testing._wds_selectors.SelectorProblem` (400) quoting it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from scrapy_wds.testing._wds_jobconfig import get_field
from scrapy_wds.testing._wds_selectors import WdsSelector

_INDEXED = re.compile(r"\Ascrapeparams\[(\d+)\]\.(name|selector|attributename)\Z", re.IGNORECASE)
_FIELDS = {"name": "Name", "selector": "Selector", "attributename": "AttributeName"}


class ParamsProblem(ValueError):
    """Call parameters the service rejects with 400; the message names them."""


@dataclass(frozen=True)
class Wanted:
    """One selector to run, with the attribute to read and the name to answer under."""

    name: str
    selector: WdsSelector
    attribute_name: str | None


@dataclass(frozen=True)
class ScrapeRequest:
    fields: tuple[Wanted, ...]


def _query(request: web.Request, name: str) -> str | None:
    wanted = name.lower()
    for key, value in request.query.items():
        if key.lower() == wanted:
            return value
    return None


def _single(request: web.Request, default_attribute: str | None) -> ScrapeRequest:
    selector = _query(request, "selector")
    if not selector:
        raise ParamsProblem(
            "the 'selector' query parameter is required, e.g. selector=CSS: h1 (percent-encoded)"
        )
    attribute = _query(request, "attributeName") or default_attribute
    return ScrapeRequest((Wanted("", WdsSelector.parse(selector), attribute),))


async def crawl_request(request: web.Request) -> ScrapeRequest:
    """Crawl reads ``href`` unless told otherwise."""
    return _single(request, "href")


async def scrape_request(request: web.Request) -> ScrapeRequest:
    """Scrape reads the inner text unless told otherwise."""
    return _single(request, None)


async def multiple_from_query(request: web.Request) -> ScrapeRequest:
    entries: dict[int, dict[str, str | None]] = {}
    for key, value in request.query.items():
        match = _INDEXED.match(key)
        if match is not None:
            entries.setdefault(int(match.group(1)), {}).setdefault(match.group(2).lower(), value)
    return _build(entries)


async def multiple_from_body(request: web.Request) -> ScrapeRequest:
    try:
        body = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, list):
        raise ParamsProblem(
            "the body must be a JSON array of ScrapeParams objects "
            '({"Name": ..., "Selector": ..., "AttributeName": ...})'
        )
    entries: dict[int, dict[str, str | None]] = {}
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise ParamsProblem(f"scrapeParams[{index}] must be a JSON object")
        entry: dict[str, str | None] = {}
        for key, field_name in _FIELDS.items():
            value = get_field(item, field_name)
            if value is not None and not isinstance(value, str):
                raise ParamsProblem(f"scrapeParams[{index}].{field_name} must be a string")
            entry[key] = value
        entries[index] = entry
    return _build(entries)


def _build(entries: dict[int, dict[str, str | None]]) -> ScrapeRequest:
    if not entries:
        raise ParamsProblem(
            "no scrape parameters given; send scrapeParams[0].selector "
            "(with .name and optionally .attributeName), counting up from 0"
        )
    indices = sorted(entries)
    if indices != list(range(len(indices))):
        raise ParamsProblem(f"scrapeParams indices must run 0, 1, 2… without gaps; got {indices}")
    fields = []
    for index in indices:
        entry = entries[index]
        selector = entry.get("selector")
        if not selector:
            raise ParamsProblem(f"scrapeParams[{index}].selector is missing")
        parsed = WdsSelector.parse(selector)
        fields.append(Wanted(entry.get("name") or "", parsed, entry.get("attributename") or None))
    return ScrapeRequest(tuple(fields))
