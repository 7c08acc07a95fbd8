"""The contact details of the demo shop, found by HasData's ``contacts`` scraper.

The job covers the shop's contact pages: ``/contact.html``, ``/about/team.html``
and one ``contact.html`` per category (next to each category's first page,
whose links the home page lists).  Rows go through
``ContactsNormalizePipeline`` (e-mails lowercased, phones as ``+digits``,
repeats removed, pages without any contact dropped).  Against the local
emulators (``python -m scrapy_wds.testing serve`` prints the addresses)::

    HASDATA_API_URL=http://127.0.0.1:8001 HASDATA_API_KEY=hasdata-test-key \\
    DEMO_SITE_URL=http://127.0.0.1:8000 scrapy crawl hasdata_contacts -O contacts.jsonl

Add ``-s HASDATA_WEBHOOK_ENABLED=1`` to receive rows by webhook as well (the
job is still polled; each row is delivered once either way).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from parsel import Selector

from scrapy_wds import HasDataJob

#: Pages of the shop that are about contacting it, relative to its home page.
FIXED_CONTACT_PAGES = ("contact.html", "about/team.html")
#: The home page's links to each category's first page.
CATEGORY_LINKS = "ul.categories a::attr(href)"
HOME_PAGE_TIMEOUT = 30.0


def demo_site_url(settings: Any) -> str:
    url = settings.get("DEMO_SITE_URL") or os.environ.get("DEMO_SITE_URL")
    if not url:
        raise ValueError(
            "DEMO_SITE_URL is not set: give the demo site's address (python -m "
            "scrapy_wds.testing serve prints it), e.g. DEMO_SITE_URL=http://127.0.0.1:8000"
        )
    return str(url).rstrip("/") + "/"


def contact_pages(home_url: str, home_html: str) -> list[str]:
    """The shop's contact pages: the fixed ones, then each category's own."""
    pages = [urljoin(home_url, page) for page in FIXED_CONTACT_PAGES]
    for href in Selector(text=home_html).css(CATEGORY_LINKS).getall():
        first_page = urljoin(home_url, href.strip())
        page = urljoin(first_page, "contact.html")
        if page not in pages:
            pages.append(page)
    return pages


class HasDataContactsSpider(scrapy.Spider):
    name = "hasdata_contacts"
    custom_settings: dict[str, Any] = {
        "ITEM_PIPELINES": {"example_project.pipelines.ContactsNormalizePipeline": 300},
        # The environment (when set) wins over the project's settings, so one
        # shell line points the spider at the emulator or at the real service.
        **(
            {"HASDATA_API_URL": os.environ["HASDATA_API_URL"]}
            if os.environ.get("HASDATA_API_URL")
            else {}
        ),
    }

    def hasdata_jobs(self) -> list[HasDataJob]:
        home = demo_site_url(self.settings)
        return [
            HasDataJob(
                scraper="contacts",
                input={"urls": contact_pages(home, self._home_page(home))},
                # One row per page: its URL identifies it.
                content_key="url",
            )
        ]

    def _home_page(self, home: str) -> str:
        # Jobs are declared when the spider opens, before Scrapy downloads
        # anything, so this one small page is read directly.
        try:
            with urllib.request.urlopen(home, timeout=HOME_PAGE_TIMEOUT) as answer:
                return str(answer.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError) as exc:
            raise ValueError(
                f"could not read the demo site's home page {home} ({exc}); check "
                "DEMO_SITE_URL and that the site is running"
            ) from None

    async def start(self) -> AsyncIterator[Any]:
        # Nothing to download here: the rows come from the HasData job.
        return
        yield
