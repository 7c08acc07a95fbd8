"""What the emulator's ``contacts`` scraper finds on a page.

E-mails come from ``mailto:`` links and from the visible text, phone numbers
from ``tel:`` links and from the text, social profiles from the links of the
page.  Every list is present (empty, never null), in page order, without
repeats (e-mails compared case-insensitively, phones by their digits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from parsel import Selector

from scrapy_wds.testing._demo_catalogue import CONTACT_KINDS
from scrapy_wds.testing._hasdata_pages import FetchedPage

#: The row's contact fields: the kinds the demo catalogue's contact pages carry.
CONTACT_FIELDS = CONTACT_KINDS

#: Social field → the registrable domains whose links belong to it.
SOCIAL_DOMAINS = {
    "linkedin": ("linkedin.com",),
    "xcom": ("x.com", "twitter.com"),
    "facebook": ("facebook.com", "fb.com"),
    "instagram": ("instagram.com",),
    "dribbble": ("dribbble.com",),
    "clutch": ("clutch.co",),
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A phone in running text: optional +, then digits with the usual separators,
# at least 7 digits in all (checked after matching).
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{5,}\d(?![\w])")
_MIN_PHONE_DIGITS = 7


def _unique(values: Iterable[str], key: Callable[[str], str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for value in values:
        k = key(value)
        if value and k not in seen:
            seen.add(k)
            result.append(value)
    return result


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _host_matches(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().split(":")[0]
    return any(host == d or host.endswith("." + d) for d in domains)


def _visible_text(selector: Selector) -> str:
    return " \n ".join(t.strip() for t in selector.xpath("//body//text()").getall())


def extract_contacts(selector: Selector, base_url: str) -> dict[str, list[str]]:
    hrefs = [h.strip() for h in selector.css("a::attr(href)").getall()]
    text = _visible_text(selector)

    mailto = [unquote(h[7:].split("?")[0]) for h in hrefs if h.lower().startswith("mailto:")]
    emails = _unique(mailto + _EMAIL.findall(text), key=str.lower)

    tel = [unquote(h[4:]).strip() for h in hrefs if h.lower().startswith("tel:")]
    spoken = [m.strip() for m in _PHONE.findall(text)]
    phones = _unique([p for p in tel + spoken if len(_digits(p)) >= _MIN_PHONE_DIGITS], key=_digits)

    found: dict[str, list[str]] = {"emails": emails, "phoneNumbers": phones}
    absolute = [urljoin(base_url, h) for h in hrefs]
    web_links = [u for u in absolute if urlsplit(u).scheme in ("http", "https")]
    for name, domains in SOCIAL_DOMAINS.items():
        found[name] = _unique(
            (u for u in web_links if _host_matches(urlsplit(u).netloc, domains)), key=str
        )
    return found


def contacts_row(page: FetchedPage) -> dict[str, Any]:
    """The ``contacts`` row for one input URL (empty lists when the page failed)."""
    row: dict[str, Any] = {"url": page.url}
    if page.is_html and not page.error:
        row.update(extract_contacts(page.selector(), page.base_url))
    else:
        row.update({name: [] for name in CONTACT_FIELDS})
        row["error"] = page.error or f"not an HTML page ({page.content_type or 'no type'})"
    return row
