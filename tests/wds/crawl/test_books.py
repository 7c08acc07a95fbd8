"""``scrapy crawl books`` / ``books_rules`` against the WDS emulator give exactly the demo site's books.

Every reading of the API the emulator can play (key case, enum style, state
field, 202 answers before each task is ready) must give the same items, each
book once, and stats and a server call log that add up.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from .conftest import CrawlResult, Crawls

# Polls are paced by the downloader side; shortened so 202s cost little here.
FAST_POLLS = ("WDS_POLL_FIRST_DELAY=0.05", "WDS_POLL_MAX_DELAY=0.2")


def site_shape(truth: list[dict[str, str]]) -> dict[str, int]:
    """Pages and calls the crawl must make, from the truth (10 books per listing page)."""
    per_category = Counter(book["category"] for book in truth)
    listing_pages = sum(math.ceil(count / 10) for count in per_category.values())
    return {
        "tasks": 1 + listing_pages + len(truth),  # home, listing pages, books
        # home → categories; each listing page → next page and its books
        "crawls": 1 + 2 * listing_pages,
        "books": len(truth),
        # books_rules follows previous links too: every page but a category's
        # last is found again from the page after it.
        "tasks_found_with_previous": 1
        + listing_pages
        + len(truth)
        + listing_pages
        - len(per_category),
    }


def assert_books_equal_truth(result: CrawlResult, truth: list[dict[str, str]]) -> None:
    assert result.returncode == 0, result.log[-5000:]
    assert result.stats["finish_reason"] == "finished"
    urls = [item["url"] for item in result.items]
    assert len(urls) == len(set(urls)), "a book was scraped twice"
    assert sorted(result.items, key=lambda item: item["url"]) == truth


def assert_wds_stats(
    result: CrawlResult,
    shape: dict[str, int],
    found: int | None = None,
    info_first: int | None = None,
) -> None:
    """``found``: tasks crawl answers returned, known pages included (each page is followed once);
    ``info_first``: tasks asked ``info`` before their callback (the others skip it)."""
    stats = result.wds_stats()
    info_first = shape["tasks"] if info_first is None else info_first
    assert stats["wds/jobs/started"] == 1
    assert stats["wds/tasks/found"] == shape["tasks"]
    assert stats.get("wds/tasks/known_again", 0) == (found or shape["tasks"]) - shape["tasks"]
    assert stats.get("wds/tasks/handled", 0) == info_first
    assert stats.get("wds/tasks/info_skipped", 0) == shape["tasks"] - info_first
    assert stats["wds/items"] == shape["books"]
    assert result.stats["item_scraped_count"] == shape["books"]
    problems = [
        k
        for k in stats
        if k.startswith(("wds/malformed", "wds/failed", "wds/tasks/failed", "wds/items/failed"))
    ]
    assert problems == []


def calls_by_endpoint(emulator: Any) -> Counter[tuple[str, Any]]:
    """``(endpoint, status)`` counts; a "not yet" answer (202, or a pending info 200) is ``"pending"``."""
    counts: Counter[tuple[str, Any]] = Counter()
    for call in emulator.calls():
        if call["path"].startswith("/api/v2/"):
            status = "pending" if call.get("pending") else call["status"]
            counts[(call["path"].rsplit("/", 1)[-1], status)] += 1
    return counts


def assert_calls(emulator: Any, shape: dict[str, int], pending_polls: int, info_first: int) -> None:
    """``info_first`` tasks are asked ``info`` once; the others skip it.

    Keyed as calls_by_endpoint counts: a status, or "pending" for a "not yet".
    """
    expected: Counter[tuple[str, int | str]] = Counter(
        {
            ("start", 200): 1,
            ("info", 200): info_first,
            ("crawl", 200): shape["crawls"],
            ("scrape-multiple", 200): shape["books"],
        }
    )
    expected = +expected  # no zero counts
    counts = calls_by_endpoint(emulator)
    waited = sum(n for (_, status), n in counts.items() if status == "pending")
    # The first call on each task waits out its 202s; the task's other calls wait behind it.
    assert waited == pending_polls * shape["tasks"]
    assert +Counter({key: n for key, n in counts.items() if key[1] != "pending"}) == expected
    if pending_polls and info_first == shape["tasks"]:
        assert counts[("info", "pending")] == waited


#: Every pair of values of the four switches meets in at least one row (16 crawls would add nothing).
MATRIX = [
    ("pascal", "name", "TaskState", 0),
    ("pascal", "int", "State", 2),
    ("camel", "name", "State", 2),
    ("camel", "int", "TaskState", 0),
    ("pascal", "name", "TaskState", 2),
    ("camel", "int", "State", 0),
]


@pytest.mark.parametrize(("key_case", "enum_style", "state_field", "pending_polls"), MATRIX)
def test_books_spider_in_every_reading_of_the_api(
    crawls: Crawls,
    wds_emulator: Any,
    truth: list[dict[str, str]],
    key_case: str,
    enum_style: str,
    state_field: str,
    pending_polls: int,
) -> None:
    wds_emulator.configure(
        key_case=key_case,
        enum_style=enum_style,
        state_field=state_field,
        pending_polls=pending_polls,
    )
    result = crawls.run("books", *FAST_POLLS)
    shape = site_shape(truth)
    assert_books_equal_truth(result, truth)
    # Listing pages skip info (their callbacks are @wds_skip_info); book pages read page_ok.
    assert_wds_stats(result, shape, info_first=shape["books"])
    assert_calls(wds_emulator, shape, pending_polls, info_first=shape["books"])


def test_books_rules_spider_gives_the_same_books(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    wds_emulator.configure(key_case="camel", enum_style="int", state_field="State", pending_polls=1)
    result = crawls.run("books_rules", *FAST_POLLS)
    shape = site_shape(truth)
    assert_books_equal_truth(result, truth)
    # Pages found again (previous links) are followed once; rules skip info.
    assert_wds_stats(result, shape, found=shape["tasks_found_with_previous"], info_first=0)
    assert shape["tasks_found_with_previous"] > shape["tasks"]
    assert_calls(wds_emulator, shape, 1, info_first=0)
    # Known pages are dropped before any request is built for them.
    assert "dupefilter/filtered" not in result.stats


def test_scrape_multiple_by_post_gives_the_same_books(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    result = crawls.run("books", "WDS_SCRAPE_MULTIPLE_METHOD=post")
    assert_books_equal_truth(result, truth)
    posts = [c for c in wds_emulator.calls() if c["path"].endswith("/scrape-multiple")]
    assert {c["method"] for c in posts} == {"POST"} and len(posts) == len(truth)


def test_scrapys_http_cache_leaves_wds_calls_alone(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]], tmp_path: Any
) -> None:
    """A cached 202 replayed would wait for ever; API calls say dont_cache, so the crawl is whole."""
    wds_emulator.configure(pending_polls=2)
    cache = f"HTTPCACHE_DIR={tmp_path / 'cache'}"
    result = crawls.run("books", "HTTPCACHE_ENABLED=True", cache, *FAST_POLLS)
    assert_books_equal_truth(result, truth)
    assert not any(
        k.startswith("httpcache/") and k != "httpcache/uncacheable" for k in result.stats
    )
