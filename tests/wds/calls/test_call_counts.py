"""Two API calls per page where the task's state is not read, counted in the emulator's call log.

``books_rules`` (a ``WdsCrawlSpider``) never asks ``info``; ``books`` asks it
only for the book pages, whose callback reads ``page_ok``.  A task's first
call does the waiting and its other calls wait behind it, so only one call
of a task polls, however many calls the task gets.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from tests.wds.crawl.conftest import Crawls
from tests.wds.crawl.test_books import FAST_POLLS, assert_books_equal_truth, site_shape


def task_calls(emulator: Any) -> list[dict[str, Any]]:
    return [c for c in emulator.calls() if c["path"].startswith("/api/v2/tasks/")]


def by_task(calls: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        grouped[call["path"].split("/")[4]].append(call)
    return grouped


def waiting(call: dict[str, Any]) -> bool:
    """A "not yet" answer: 202, or an info 200 whose state is pending (the emulator marks both)."""
    return bool(call.get("pending")) or call["status"] == 202


def done(call: dict[str, Any]) -> bool:
    return call["status"] == 200 and not waiting(call)


def call_of(call: dict[str, Any]) -> str:
    """One call of a task: its endpoint and query (the same call polled again repeats it)."""
    return call["path"] + "?" + str(call.get("query", ""))


@pytest.mark.parametrize("pending", [{"pending_polls": 4}, {"pending_seconds": 0.3}])
def test_books_rules_makes_no_info_call_and_at_most_two_answered_calls_per_task(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]], pending: dict[str, Any]
) -> None:
    wds_emulator.configure(**pending)
    result = crawls.run("books_rules", *FAST_POLLS)
    assert_books_equal_truth(result, truth)
    calls = task_calls(wds_emulator)
    assert not [c for c in calls if c["path"].endswith("/info")]
    tasks = by_task(calls)
    assert len(tasks) == site_shape(truth)["tasks"]
    answered = Counter({task: sum(done(c) for c in cs) for task, cs in tasks.items()})
    assert max(answered.values()) == 2  # a listing page: its pager links and its books
    assert sum(answered.values()) == site_shape(truth)["crawls"] + len(truth)
    # Only the task's first call polls; a call sent before its first 202 arrived
    # gets one 202 of its own, then waits behind (without the gate it would poll too).
    for task_calls_ in tasks.values():
        polls = sorted(Counter(call_of(c) for c in task_calls_ if waiting(c)).values())
        assert polls[:-1] in ([], [1]), polls
    if "pending_polls" in pending:
        assert sum(waiting(c) for c in calls) == 4 * len(tasks)
    stats = result.wds_stats()
    assert stats["wds/tasks/info_skipped"] == len(tasks)
    assert "wds/calls/info" not in stats
    # Calls held behind a first call: at most one per listing page (its second crawl).
    held = stats.get("wds/gate/held", 0)
    assert held == stats.get("wds/gate/released", 0) <= site_shape(truth)["crawls"] // 2
    if "pending_polls" in pending:
        assert held > 0


def test_books_asks_info_only_for_the_pages_whose_callback_reads_it(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    wds_emulator.configure(pending_polls=1)
    result = crawls.run("books", *FAST_POLLS)
    assert_books_equal_truth(result, truth)
    shape = site_shape(truth)
    calls = task_calls(wds_emulator)
    answered = Counter(c["path"].rsplit("/", 1)[-1] for c in calls if done(c))
    # Before: info for every task, 3 calls per book page and 3 per listing page.
    assert answered == {"info": len(truth), "crawl": shape["crawls"], "scrape-multiple": len(truth)}
    assert sum(answered.values()) < 3 * shape["tasks"] - (shape["tasks"] - len(truth))
    assert sum(waiting(c) for c in calls) == shape["tasks"]


@pytest.mark.parametrize("known_pages", ["new", "omit"])
def test_books_rules_gives_the_truth_whatever_crawl_answers_for_known_pages(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]], known_pages: str
) -> None:
    wds_emulator.configure(known_pages=known_pages, pending_polls=1, pending_info="200")
    result = crawls.run("books_rules", *FAST_POLLS)
    assert_books_equal_truth(result, truth)
    calls = task_calls(wds_emulator)
    assert not [c for c in calls if c["path"].endswith("/info")]
    assert max(Counter(call_of(c) for c in calls if done(c)).values()) == 1
