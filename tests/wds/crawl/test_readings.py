"""Both book spiders under every reading of the two ambiguities that lost crawls, in-process.

How a waiting ``info`` answers (200 + ``Created``/``InProgress``, the
documented reading, or 202) × what crawl answers for a page the job already
has (the same id, a new id, nothing): each crawl gives exactly the demo
site's books, each once, and ends (``books_rules`` follows previous *and*
next links, a cycle that never ended when pages were known by task id).
In-process: a subprocess would add only its start-up time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from .conftest import EXAMPLE_PROJECT
from .in_process import crawl_in_process
from .test_books import site_shape

sys.path.insert(0, str(EXAMPLE_PROJECT))
from example_project.spiders.books import BooksSpider
from example_project.spiders.books_rules import BooksRulesSpider

SPIDERS = {"books": BooksSpider, "books_rules": BooksRulesSpider}


@pytest.mark.parametrize("spider", sorted(SPIDERS))
@pytest.mark.parametrize("known_pages", ["same", "new", "omit"])
@pytest.mark.parametrize("pending_info", ["200", "202"])
@pytest_twisted.inlineCallbacks
def test_every_reading_gives_the_truth_and_ends(
    wds_emulator: Any,
    demo_site: Any,
    truth: list[dict[str, str]],
    spider: str,
    known_pages: str,
    pending_info: str,
) -> Iterator[Any]:
    wds_emulator.configure(pending_info=pending_info, known_pages=known_pages, pending_polls=1)
    crawling, crawler, items = crawl_in_process(
        SPIDERS[spider],
        wds_emulator,
        demo_site,
        WDS_POLL_FIRST_DELAY=0.02,
        WDS_POLL_MAX_DELAY=0.05,
        LOG_LEVEL="INFO",
        # A crawl that never ends fails the test instead of hanging it.
        CLOSESPIDER_TIMEOUT=120,
    )
    yield crawling

    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    urls = [item["url"] for item in items]
    assert len(urls) == len(set(urls)), "a book was scraped twice"
    assert sorted(items, key=lambda item: item["url"]) == truth
    shape = site_shape(truth)
    assert stats["wds/tasks/found"] == shape["tasks"]  # each page followed once
    infos = [
        c for c in wds_emulator.calls() if c["path"].endswith("/info") and not c.get("pending")
    ]
    # books asks info only for book pages; books_rules (rules) skips info everywhere.
    assert len(infos) == (len(truth) if spider == "books" else 0)
    if spider == "books_rules" and known_pages != "omit":
        assert stats["wds/tasks/known_again"] == shape["tasks_found_with_previous"] - shape["tasks"]
