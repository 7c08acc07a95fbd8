"""The delivery ledger's rules: paged rows by id, webhook rows matched by content as a multiset."""

from __future__ import annotations

from scrapy_wds import HasDataJob
from scrapy_wds._hasdata._row_ledger import WEBHOOK, JobRows
from scrapy_wds._hasdata._rows import PagedRow
from scrapy_wds._hasdata._state import JobRecord, RowProgress

A = {"url": "a"}
B = {"url": "b"}


def _run(rows: JobRows, source: str, batch: list[PagedRow], progress: RowProgress) -> list[bool]:
    """Decide and record each row as the pusher does; which were delivered."""
    delivered = []
    for index, paged in enumerate(batch):
        decision = rows.decide(paged, source, position=f"page.1.{index}")
        delivered.append(decision.deliver)
        rows.note_done(decision, progress)
    return delivered


def test_twins_by_paging_are_all_delivered_once_each() -> None:
    rows = JobRows(HasDataJob("contacts"), JobRecord("contacts"))
    progress = RowProgress()
    page = [PagedRow("1", A), PagedRow("2", A), PagedRow("3", B)]
    assert _run(rows, "pages", page, progress) == [True, True, True]
    assert _run(rows, "pages", page, progress) == [False, False, False]  # a page read twice


def test_each_webhook_row_is_matched_by_exactly_one_paged_twin() -> None:
    rows = JobRows(HasDataJob("contacts"), JobRecord("contacts"))
    progress = RowProgress()
    # The same callback twice, each with two twins: one of them is delivered early.
    assert _run(rows, WEBHOOK, [PagedRow(None, A), PagedRow(None, A)], progress) == [True, False]
    assert _run(rows, WEBHOOK, [PagedRow(None, A)], progress) == [False]
    page = [PagedRow("1", A), PagedRow("2", A), PagedRow("3", A), PagedRow("4", B)]
    assert _run(rows, "pages", page, progress) == [False, True, True, True]
    assert _run(rows, WEBHOOK, [PagedRow(None, B)], progress) == [False]  # late callback
    assert progress == RowProgress(
        ids=["1", "2", "3", "4"], keys=[progress.keys[0], progress.keys[1]],
        early=[progress.keys[0]], matched=[progress.keys[0]],
    )


def test_a_restart_resumes_the_matching() -> None:
    job = HasDataJob("contacts")
    first = JobRows(job, JobRecord("contacts"))
    progress = RowProgress()
    _run(first, WEBHOOK, [PagedRow(None, A), PagedRow(None, B)], progress)
    _run(first, "pages", [PagedRow("1", A)], progress)  # matches the early A
    # A new run restores the ledger from what was recorded.
    again = JobRows(job, JobRecord("contacts", rows_seen=progress))
    page = [PagedRow("1", A), PagedRow("2", A), PagedRow("3", B), PagedRow("4", B)]
    assert _run(again, "pages", page, RowProgress()) == [False, True, False, True]


def test_rows_without_ids_are_known_by_their_place() -> None:
    rows = JobRows(HasDataJob("contacts"), JobRecord("contacts"))
    page = [PagedRow(None, A), PagedRow(None, A)]
    assert _run(rows, "pages", page, RowProgress()) == [True, True]
    assert _run(rows, "pages", page, RowProgress()) == [False, False]
