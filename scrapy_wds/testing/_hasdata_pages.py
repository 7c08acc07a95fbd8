"""Fetching and reading real web pages for the HasData emulator's scrapers.

The ``crawler``, ``contacts`` and ``google-serp`` scrapers of the emulator work
on real pages fetched over HTTP (usually the demo site), so what they return
is what a page really holds.  This module fetches a page and renders it as
the plain text, markdown or links those scrapers need; parsing is parsel's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
from parsel import Selector

#: Seconds one page may take; a slow page becomes an error row, not a hang.
FETCH_TIMEOUT = 10.0

_WHITESPACE = re.compile(r"\s+")
_BLOCK_PREFIXES = {f"h{n}": "#" * n + " " for n in range(1, 7)} | {"li": "- "}
_NOT_CONTENT = "script, style, noscript, template"


@dataclass(frozen=True)
class FetchedPage:
    """One page as the emulator's scrapers saw it (status ``None`` = no answer).

    ``url`` is the URL asked for (what rows report); ``final_url`` the one
    answered after redirects, which relative links are resolved against.
    """

    url: str
    status: int | None
    content_type: str
    body: str
    error: str | None
    final_url: str = ""

    @property
    def base_url(self) -> str:
        return self.final_url or self.url

    @property
    def is_html(self) -> bool:
        return self.status is not None and "html" in self.content_type

    def selector(self, exclude_tags: list[str] | tuple[str, ...] = ()) -> Selector:
        """A fresh selector without scripts, styles and ``exclude_tags``."""
        selector = Selector(text=self.body or "<html></html>", base_url=self.base_url)
        selector.css(_NOT_CONTENT).drop()
        for css in exclude_tags:
            selector.css(css).drop()
        return selector


async def fetch_page(session: aiohttp.ClientSession, url: str) -> FetchedPage:
    """GET ``url``; transport failures come back as a page with ``error`` set."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT)) as response:
            body = await response.text(errors="replace")
            error = None if response.status < 400 else f"HTTP {response.status}"
            content_type = response.headers.get("Content-Type", "")
            return FetchedPage(url, response.status, content_type, body, error, str(response.url))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        return FetchedPage(url, None, "", "", f"request failed: {reason}")


def normalize_url(url: str) -> str:
    """The URL without its fragment, so ``page#top`` and ``page`` are one page."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def squash(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def page_title(selector: Selector) -> str:
    return squash(selector.css("title::text").get() or selector.css("h1 ::text").get() or "")


def page_links(selector: Selector, base_url: str) -> list[str]:
    """Absolute http(s) links of the page, fragments removed, in page order."""
    links: list[str] = []
    for href in selector.css("a::attr(href)").getall():
        absolute = urljoin(base_url, href.strip())
        if urlsplit(absolute).scheme in ("http", "https"):
            links.append(normalize_url(absolute))
    return links


def _own_texts(selector: Selector) -> Iterator[tuple[Selector, str]]:
    """Each body element that holds text of its own, with that text squashed."""
    for element in selector.xpath("//body//*[text()[normalize-space()]]"):
        yield element, squash(" ".join(element.xpath("./text()").getall()))


def page_text(selector: Selector) -> str:
    """The visible text of the body, one line per element that holds text."""
    # Skip what is only non-breaking spaces: XPath's normalize-space keeps it, squash does not.
    return "\n".join(text for _, text in _own_texts(selector) if text)


def page_markdown(selector: Selector, base_url: str) -> str:
    """A plain markdown rendering: headings, list items and links marked up."""
    lines = []
    for element, text in _own_texts(selector):
        tag = element.root.tag if isinstance(element.root.tag, str) else ""
        if tag == "a" and element.attrib.get("href"):
            text = f"[{text}]({urljoin(base_url, element.attrib['href'])})"
        block = element.xpath(
            "ancestor-or-self::*[self::h1 or self::h2 or self::h3 or self::h4"
            " or self::h5 or self::h6 or self::li][1]"
        )
        prefix = _BLOCK_PREFIXES.get(block[0].root.tag, "") if block else ""
        lines.append(prefix + text)
    return "\n".join(lines)
