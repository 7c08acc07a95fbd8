"""The delivery ledger: paged and file rows by position, webhook rows matched by content."""

from __future__ import annotations

from typing import Any

from hasdata_runner_support import MemoryStore

from scrapy_wds._hasdata._ledger import JobLedger, Positions
from scrapy_wds._hasdata._row_keys import row_content_key

A = {"url": "a"}
B = {"url": "b"}


def paged(ledger: JobLedger, rows: list[dict[str, Any]], first: int) -> list[bool]:
    """Which rows of a page starting at position ``first`` are delivered (as the pusher does)."""
    out = []
    for index, row in enumerate(rows):
        deliver = not ledger.skip_paged(first + index, row, None)
        if deliver:
            ledger.note_paged(first + index)
        out.append(deliver)
    return out


def webhook(ledger: JobLedger, rows: list[dict[str, Any]]) -> list[bool]:
    out = []
    for row in rows:
        key = row_content_key(row)
        deliver = not ledger.webhook_seen(key)
        if deliver:
            ledger.note_webhook(key)
        out.append(deliver)
    return out


def test_twins_by_paging_are_all_delivered_once_each() -> None:
    ledger = JobLedger("job", MemoryStore())
    assert paged(ledger, [A, A, B], 0) == [True, True, True]
    assert paged(ledger, [A, A, B], 0) == [False, False, False]  # a page read twice
    assert ledger.delivered == 3


def test_file_and_pages_share_positions() -> None:
    store = MemoryStore()
    first = JobLedger("job", store)
    assert paged(first, [A, B, A], 0) == [True, True, True]  # the json file's first rows
    again = JobLedger("job", store, store.row_entries("job"))  # a resumed crawl, paging by 2
    assert paged(again, [A, B], 0) == [False, False]
    assert paged(again, [A, B], 2) == [False, True]
    assert again.delivered == 4


def test_each_webhook_row_is_matched_by_exactly_one_paged_twin() -> None:
    ledger = JobLedger("job", MemoryStore())
    assert webhook(ledger, [A, A]) == [True, False]  # one of two twins is delivered early
    assert webhook(ledger, [A]) == [False]  # the same callback again
    assert paged(ledger, [A, A, A, B], 0) == [False, True, True, True]
    assert ledger.delivered == 4


def test_a_restart_resumes_the_matching() -> None:
    store = MemoryStore()
    first = JobLedger("job", store)
    webhook(first, [A, B])
    paged(first, [A], 0)  # matches the early A
    again = JobLedger("job", store, store.row_entries("job"))
    assert paged(again, [A, A, B, B], 0) == [False, True, False, True]


def test_no_content_key_without_webhooks(monkeypatch: Any) -> None:
    import scrapy_wds._hasdata._ledger as module

    monkeypatch.setattr(module, "row_content_key", lambda *a: (_ for _ in ()).throw(AssertionError))
    assert paged(JobLedger("job", MemoryStore()), [A, B], 0) == [True, True]


def test_positions_are_ranges_and_compact() -> None:
    positions = Positions()
    for n in [*range(1000), *range(2000, 2100), 1500, 1001, 1000]:
        positions.add(n)
    assert positions.ranges() == [(0, 1002), (1500, 1501), (2000, 2100)]
    assert positions.count == 1103 and 1500 in positions and 1499 not in positions
    assert positions.covers(0, 1002) and not positions.covers(0, 1003)
    assert positions.first_missing() == 1002
    store = MemoryStore()
    ledger = JobLedger("job", store)
    for n in range(5000):
        ledger.note_paged(n)
    webhook(ledger, [A])
    compact = ledger.compact_entries()
    assert compact == [["r", 0, 5000], ["e", row_content_key(A)]]
    assert JobLedger("job", store, compact).delivered == 5001


def test_a_batch_is_all_new_only_when_no_row_of_it_could_be_skipped() -> None:
    positions = Positions()
    for n in [*range(10, 20), 30]:
        positions.add(n)
    assert [positions.any_in(s, e) for s, e in [(0, 10), (20, 30), (31, 40)]] == [False] * 3
    assert [positions.any_in(s, e) for s, e in [(5, 11), (19, 25), (25, 31), (0, 50)]] == [True] * 4
    ledger = JobLedger("job", MemoryStore())
    assert ledger.all_new(0, 100)
    paged(ledger, [A] * 5, 0)
    assert not ledger.all_new(0, 100) and not ledger.all_new(4, 1) and ledger.all_new(5, 100)
    webhook(ledger, [B])  # a webhook row awaiting its paged twin: every row must be looked at
    assert not ledger.all_new(5, 100)
    assert paged(ledger, [A, B], 5) == [True, False]
    assert ledger.all_new(7, 100)
