"""What each scraper slug of the HasData emulator takes and produces.

One table (:data:`SCRAPERS`) holds, per slug, the check of its input, its
columns and the async generator of its rows, so the emulator's endpoints stay
slug-agnostic.  ``crawler`` and ``contacts`` work on real pages;
``google-serp`` searches a real site when the ``serp_site`` switch names one;
every other slug of the spec gives deterministic synthetic rows derived from
its input (see ``docs/emulator-hasdata.md``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from parsel import Selector

from scrapy_wds.testing._hasdata_contacts import CONTACT_FIELDS, contacts_row
from scrapy_wds.testing._hasdata_crawl import CrawlOptions, crawl, crawl_row
from scrapy_wds.testing._hasdata_pages import FetchedPage, fetch_page

#: Body fields every scraper takes; never treated as scraper input.
COMMON_FIELDS = ("limit", "webhook")
#: ``outputFormat`` values the crawler renders; others are ignored (text if none is left).
OUTPUT_FORMATS = ("text", "markdown", "html")
#: Rows a synthetic scraper gives per input value, and google-serp per keyword.
SYNTHETIC_ROWS_PER_INPUT = 5
SERP_RESULTS_PER_KEYWORD = 10


class InputError(ValueError):
    """The body does not fit the scraper; the message names the field (422)."""


@dataclass(frozen=True)
class ScrapeContext:
    session: aiohttp.ClientSession
    serp_site: str | None


Rows = AsyncGenerator[dict[str, Any], None]
Producer = Callable[[ScrapeContext, dict[str, Any]], Rows]


@dataclass(frozen=True)
class Scraper:
    slug: str
    name: str
    check: Callable[[dict[str, Any]], None]
    columns: Callable[[dict[str, Any]], list[str]]
    produce: Producer


# -- input checks ------------------------------------------------------------


def _url_list(body: dict[str, Any], field: str) -> list[str]:
    urls = body.get(field)
    if urls is None:
        raise InputError(f"'{field}' is required: a non-empty array of http(s) URLs")
    if isinstance(urls, str):
        urls = [urls]
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) and urlsplit(u).scheme in ("http", "https") for u in urls)
    ):
        raise InputError(f"'{field}' must be a non-empty array of http(s) URLs")
    return urls


def _string_list(body: dict[str, Any], field: str, required: bool) -> list[str]:
    value = body.get(field)
    if value is None:
        if required:
            raise InputError(f"'{field}' is required: a non-empty array of strings")
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{field}' must be an array of strings")
    return value


def _patterns(body: dict[str, Any], field: str) -> list[re.Pattern[str]]:
    try:
        return [re.compile(p) for p in _string_list(body, field, required=False)]
    except re.error as exc:
        raise InputError(f"'{field}' holds an invalid regular expression: {exc}") from None


def crawl_options(body: dict[str, Any]) -> CrawlOptions:
    max_depth = body.get("maxDepth")
    if max_depth is not None and (
        not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 0
    ):
        raise InputError("'maxDepth' must be a non-negative integer")
    asked = _string_list(body, "outputFormat", required=False)
    formats = tuple(f for f in OUTPUT_FORMATS if f in asked) or ("text",)
    exclude_tags = _string_list(body, "excludeTags", required=False)
    for css in exclude_tags:
        try:
            Selector(text="<html></html>").css(css)
        except (ValueError, SyntaxError, RuntimeError) as exc:  # cssselect's error kinds
            raise InputError(
                f"'excludeTags' holds an invalid CSS selector {css!r}: {exc}"
            ) from None
    return CrawlOptions(
        urls=_url_list(body, "urls"),
        max_depth=max_depth,
        include=_patterns(body, "includePaths"),
        exclude=_patterns(body, "excludePaths"),
        formats=formats,
        exclude_tags=tuple(exclude_tags),
    )


def _synthetic_inputs(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, value) for every string or number of the body (arrays flattened), in order."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if key in COMMON_FIELDS:
            continue
        values = value if isinstance(value, list) else [value]
        pairs += [(key, str(v)) for v in values if isinstance(v, (str, int, float))]
    return pairs


# -- producers -------------------------------------------------------------


async def _crawler_rows(ctx: ScrapeContext, body: dict[str, Any]) -> Rows:
    async for row in crawl(ctx.session, crawl_options(body)):
        yield row


async def _contacts_rows(ctx: ScrapeContext, body: dict[str, Any]) -> Rows:
    for url in _url_list(body, "urls"):
        yield contacts_row(await fetch_page(ctx.session, url))


def _serp_hit(page: FetchedPage, depth: int, options: CrawlOptions) -> dict[str, Any]:
    return crawl_row(page, depth, options) if not page.error else {}


def _snippet(text: str, keyword: str) -> str:
    at = text.lower().find(keyword.lower())
    start = max(0, at - 60)
    return text[start : at + len(keyword) + 100].replace("\n", " ").strip()


async def _serp_rows(ctx: ScrapeContext, body: dict[str, Any]) -> Rows:
    keywords = _string_list(body, "keywords", required=True)
    if not ctx.serp_site:
        for keyword in keywords:
            for position in range(1, SERP_RESULTS_PER_KEYWORD + 1):
                link = f"https://example.invalid/search/{quote(keyword)}/{position}"
                yield {
                    "keyword": keyword,
                    "position": position,
                    "title": f"{keyword} - result {position}",
                    "link": link,
                    "snippet": f"Synthetic result {position} for {keyword}.",
                }
        return
    pages = [row async for row in crawl(ctx.session, CrawlOptions(urls=[ctx.serp_site]), _serp_hit)]
    for keyword in keywords:
        hits = [
            p for p in pages if p and keyword.lower() in (p["title"] + "\n" + p["text"]).lower()
        ]
        for position, page in enumerate(hits, start=1):
            yield {
                "keyword": keyword,
                "position": position,
                "title": page["title"],
                "link": page["url"],
                "snippet": _snippet(page["text"], keyword),
            }


def _synthetic_producer(slug: str) -> Producer:
    async def rows(ctx: ScrapeContext, body: dict[str, Any]) -> Rows:
        for field, value in _synthetic_inputs(body) or [("input", "default")]:
            for position in range(1, SYNTHETIC_ROWS_PER_INPUT + 1):
                digest = hashlib.sha1(f"{slug}|{field}|{value}|{position}".encode()).hexdigest()
                yield {
                    "input": value,
                    "inputField": field,
                    "position": position,
                    "id": digest[:16],
                    "title": f"{slug} result {position} for {value}",
                    "url": f"https://example.invalid/{slug}/{quote(value, safe='')}/{position}",
                }
                await asyncio.sleep(0)

    return rows


# -- the table -----------------------------------------------------------------


def _crawler_columns(body: dict[str, Any]) -> list[str]:
    formats = crawl_options(body).formats
    return ["url", "statusCode", "title", *formats, "depth", "error"]


SYNTHETIC_SLUGS = (
    "sec-edgar",
    "google-maps",
    "google-maps-reviews",
    "google-trends",
    "amazon-search",
    "amazon-product",
    "amazon-product-reviews",
    "amazon-seller-products",
    "amazon-bestsellers",
    "shopify",
    "zillow",
    "redfin",
    "airbnb",
    "yelp",
    "yellow-pages",
    "indeed",
    "glassdoor",
)
_SYNTHETIC_COLUMNS = ["input", "inputField", "position", "id", "title", "url"]


def _title(slug: str) -> str:
    return slug.replace("-", " ").title()


def _check_crawler(body: dict[str, Any]) -> None:
    crawl_options(body)


def _check_contacts(body: dict[str, Any]) -> None:
    _url_list(body, "urls")


def _check_serp(body: dict[str, Any]) -> None:
    _string_list(body, "keywords", required=True)


def _check_nothing(body: dict[str, Any]) -> None:
    """Synthetic scrapers take any input: their rows are derived from it."""


SCRAPERS: dict[str, Scraper] = {
    "crawler": Scraper("crawler", "Web Crawler", _check_crawler, _crawler_columns, _crawler_rows),
    "contacts": Scraper(
        "contacts",
        "Contacts Scraper",
        _check_contacts,
        lambda body: ["url", *CONTACT_FIELDS, "error"],
        _contacts_rows,
    ),
    "google-serp": Scraper(
        "google-serp",
        "Google SERP Scraper",
        _check_serp,
        lambda body: ["keyword", "position", "title", "link", "snippet"],
        _serp_rows,
    ),
}
SCRAPERS.update(
    (
        slug,
        Scraper(
            slug,
            _title(slug),
            _check_nothing,
            lambda body: list(_SYNTHETIC_COLUMNS),
            _synthetic_producer(slug),
        ),
    )
    for slug in SYNTHETIC_SLUGS
)
