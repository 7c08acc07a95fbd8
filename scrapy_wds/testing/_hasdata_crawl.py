"""The emulator's ``crawler`` scraper: a real breadth-first crawl over HTTP.

Decisions (the public docs of HasData's crawler leave them open; see
``docs/emulator-hasdata.md``):

* the crawl stays on the hosts (``host:port``) of the start URLs;
* ``excludePaths`` prunes: a page whose path matches is never fetched;
* ``includePaths`` selects rows: every page is still fetched to find links,
  but only pages whose path matches give a row, so "start at the home page,
  keep the book pages" works;
* ``maxDepth`` counts link hops from a start URL (depth 0); absent = no cap;
* robots.txt of each host is obeyed (a disallowed page is neither fetched nor
  reported), as a polite hosted crawler does;
* one row per page, in breadth-first order; a page that fails still gives a
  row, with ``error`` set.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp

from scrapy_wds.testing._hasdata_pages import (
    FetchedPage,
    fetch_page,
    normalize_url,
    page_links,
    page_markdown,
    page_text,
    page_title,
)

#: Pages fetched at once during a crawl (loopback sites answer fast anyway).
CRAWL_CONCURRENCY = 8


@dataclass(frozen=True)
class CrawlOptions:
    urls: list[str]
    max_depth: int | None = None
    include: list[re.Pattern[str]] = field(default_factory=list)
    exclude: list[re.Pattern[str]] = field(default_factory=list)
    formats: tuple[str, ...] = ("text",)
    exclude_tags: tuple[str, ...] = ()

    def gives_row(self, url: str) -> bool:
        path = urlsplit(url).path or "/"
        if any(p.search(path) for p in self.exclude):
            return False
        return not self.include or any(p.search(path) for p in self.include)

    def may_visit(self, url: str) -> bool:
        path = urlsplit(url).path or "/"
        return not any(p.search(path) for p in self.exclude)


class RobotsRules:
    """robots.txt of each host, fetched once per crawl."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._parsers: dict[str, RobotFileParser | None] = {}

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._parsers:
            page = await fetch_page(self._session, origin + "/robots.txt")
            parser: RobotFileParser | None = None
            if page.status is not None and page.status < 400:
                parser = RobotFileParser()
                parser.parse(page.body.splitlines())
            self._parsers[origin] = parser
        parser = self._parsers[origin]
        return parser is None or parser.can_fetch("*", url)


def crawl_row(page: FetchedPage, depth: int, options: CrawlOptions) -> dict[str, Any]:
    """The row HasData's crawler gives for one page."""
    row: dict[str, Any] = {"url": page.url, "statusCode": page.status, "title": ""}
    selector = page.selector(options.exclude_tags) if page.is_html else None
    if selector is not None:
        row["title"] = page_title(selector)
    for fmt in options.formats:
        if fmt == "markdown":
            row["markdown"] = page_markdown(selector, page.base_url) if selector is not None else ""
        elif fmt == "html":
            row["html"] = page.body
        else:
            row["text"] = page_text(selector) if selector is not None else page.body
    row["depth"] = depth
    if page.error:
        row["error"] = page.error
    return row


async def crawl(
    session: aiohttp.ClientSession,
    options: CrawlOptions,
    make_row: Callable[[FetchedPage, int, CrawlOptions], dict[str, Any]] = crawl_row,
) -> AsyncIterator[dict[str, Any]]:
    """Yield one row per page reached from ``options.urls``, breadth first."""
    hosts = {urlsplit(url).netloc for url in options.urls}
    robots = RobotsRules(session)
    limiter = asyncio.Semaphore(CRAWL_CONCURRENCY)
    seen: set[str] = set()
    level: list[str] = []
    for url in map(normalize_url, options.urls):
        if url not in seen:
            seen.add(url)
            level.append(url)

    async def visit(url: str) -> FetchedPage | None:
        if not await robots.allows(url):
            return None
        async with limiter:
            return await fetch_page(session, url)

    depth = 0
    while level:
        pages = await asyncio.gather(*(visit(url) for url in level))
        next_level: list[str] = []
        follow = options.max_depth is None or depth < options.max_depth
        for page in pages:
            if page is None:
                continue
            if options.gives_row(page.url):
                yield make_row(page, depth, options)
            if not (follow and page.is_html):
                continue
            for link in page_links(page.selector(), page.base_url):
                if link in seen or urlsplit(link).netloc not in hosts:
                    continue
                seen.add(link)
                if options.may_visit(link):
                    next_level.append(link)
        level = next_level
        depth += 1
