"""Which rows of one job went through the pipelines, known by a key every source shares.

A finished (or stopped) job's rows are fixed and ordered: row ``i`` of the
job is the ``i``-th row of the results pages, read at any page size
(``(page - 1) * per_page + index``), and the ``i``-th row of the ``json``
file.  That *position* is the key shared by paging and the file, so a crawl
interrupted while delivering from one and resumed from the other delivers
each row once.  Positions are kept as ranges (:class:`Positions`): a job
delivered in order costs two integers, whatever its size.

Webhook rows carry neither an id nor a position, only their content.  With
webhooks on, each row a webhook delivers is noted by its content key
(``_row_keys``); a paged row whose content matches a webhook delivery not
yet matched is skipped (and its position noted as done), so a job's
identical rows all arrive: by webhook at most one of them, by paging the
rest.  Without webhooks no content key is ever computed.

Every decision is written down the moment the row went through
(:meth:`JobStore.append_row`), one line per row: a ``kill -9`` repeats at
most the one row that was in the pipelines when it struck.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

from twisted.internet.defer import DeferredLock

from scrapy_wds._hasdata._row_keys import row_content_key

#: Ledger entry kinds: a position done, a range of positions done (compacted),
#: a webhook row delivered early (its content key), a position skipped as
#: matching an early delivery (position and content key).
POSITION, RANGE, EARLY, MATCHED = "p", "r", "e", "m"


class RowLog(Protocol):
    """Where a job's ledger entries go (a state file's side file, or redis)."""

    def append_row(self, key: str, entry: list[Any]) -> None: ...


class Positions:
    """A set of non-negative integers stored as sorted, disjoint ``[start, end)`` ranges."""

    __slots__ = ("_ends", "_starts", "count")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.count = 0

    def __contains__(self, position: int) -> bool:
        at = bisect_right(self._starts, position) - 1
        return at >= 0 and position < self._ends[at]

    def add_range(self, start: int, end: int) -> None:
        if end <= start:
            return
        if not self._ends or start > self._ends[-1]:  # a compacted ledger read back
            self._starts.append(start)
            self._ends.append(end)
            self.count += end - start
            return
        for position in range(start, end):
            self.add(position)

    def add(self, position: int) -> None:
        ends = self._ends
        if ends and position == ends[-1]:  # the common case: rows in order
            ends[-1] += 1
            self.count += 1
            self._merge(len(ends) - 1)
            return
        at = bisect_right(self._starts, position) - 1
        if at >= 0 and position < ends[at]:
            return
        self.count += 1
        if at >= 0 and position == ends[at]:
            ends[at] += 1
            self._merge(at)
        elif at + 1 < len(ends) and position + 1 == self._starts[at + 1]:
            self._starts[at + 1] = position
        else:
            self._starts.insert(at + 1, position)
            ends.insert(at + 1, position + 1)

    def _merge(self, at: int) -> None:
        if at + 1 < len(self._ends) and self._ends[at] == self._starts[at + 1]:
            self._ends[at] = self._ends.pop(at + 1)
            del self._starts[at + 1]

    def covers(self, start: int, end: int) -> bool:
        """Whether every position in ``[start, end)`` is in the set."""
        at = bisect_right(self._starts, start) - 1
        return at >= 0 and end <= self._ends[at]

    def any_in(self, start: int, end: int) -> bool:
        """Whether some position in ``[start, end)`` is in the set."""
        at = bisect_right(self._starts, end - 1) - 1
        return at >= 0 and self._ends[at] > start

    def first_missing(self) -> int:
        return self._ends[0] if self._starts and self._starts[0] == 0 else 0

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends))


class JobLedger:
    """The rows of one job handled so far; every change is appended to ``log`` at once."""

    def __init__(self, key: str, log: RowLog, entries: Iterable[list[Any]] = ()) -> None:
        self.key = key
        self._log = log
        #: Held while a batch decides and delivers, so two batches (paging,
        #: a webhook call) never decide on the same row at once.
        self.lock = DeferredLock()
        self.positions = Positions()
        self._early: Counter[str] = Counter()
        self._matched: Counter[str] = Counter()
        self._unmatched = 0
        for entry in entries:
            self._replay(entry)

    def _replay(self, entry: list[Any]) -> None:
        kind = entry[0]
        if kind == POSITION:
            self.positions.add(int(entry[1]))
        elif kind == RANGE:
            self.positions.add_range(int(entry[1]), int(entry[2]))
        elif kind == EARLY:
            self._early[str(entry[1])] += 1
            self._unmatched += 1
        elif kind == MATCHED:
            if int(entry[1]) >= 0:
                self.positions.add(int(entry[1]))
            self._matched[str(entry[2])] += 1
            self._unmatched -= 1

    @property
    def delivered(self) -> int:
        """Rows that went through the pipelines (webhook rows included)."""
        return self.positions.count - sum(self._matched.values()) + sum(self._early.values())

    # -- paged rows (results pages, the json file) --------------------------------

    def all_new(self, first_position: int, count: int) -> bool:
        """Whether none of ``count`` paged rows from ``first_position`` can be skipped.

        True when none of their positions is done and no webhook row awaits
        its match: then :meth:`skip_paged` would say False for each, and a
        batch need not ask it row by row.
        """
        return self._unmatched <= 0 and not self.positions.any_in(
            first_position, first_position + count
        )

    def skip_paged(self, position: int, row: dict[str, Any], content_key: str | None) -> bool:
        """Whether the paged row at ``position`` is not to be delivered (again).

        True when it was delivered, or when it repeats a webhook delivery not
        yet matched (the match is then recorded).
        """
        if position in self.positions:
            return True
        key = self.early_match(row, content_key)
        if key is None:
            return False
        self.note_matched(position, key)
        return True

    def early_match(self, row: dict[str, Any], content_key: str | None) -> str | None:
        """The content key of a webhook delivery this paged row repeats, if any."""
        if self._unmatched <= 0:  # no webhook row waits for its match: no hashing
            return None
        key = row_content_key(row, content_key)
        return key if self._early[key] > self._matched[key] else None

    def note_paged(self, position: int) -> None:
        self.positions.add(position)
        self._log.append_row(self.key, [POSITION, position])

    def note_matched(self, position: int, key: str) -> None:
        self.positions.add(position)
        self._matched[key] += 1
        self._unmatched -= 1
        self._log.append_row(self.key, [MATCHED, position, key])

    # -- webhook rows ----------------------------------------------------------------

    def webhook_seen(self, key: str) -> bool:
        return key in self._early

    def note_webhook(self, key: str) -> None:
        self._early[key] += 1
        self._unmatched += 1
        self._log.append_row(self.key, [EARLY, key])

    # -- compaction --------------------------------------------------------------------

    def compact_entries(self) -> list[list[Any]]:
        """The same ledger in as few entries as possible (ranges, then webhook keys)."""
        entries: list[list[Any]] = [[RANGE, s, e] for s, e in self.positions.ranges()]
        matched = Counter(self._matched)
        for key, times in self._early.items():
            entries += [[EARLY, key]] * times
        # Matched positions are already in the ranges; keep the matches as
        # counts against their keys (position -1 adds nothing).
        for key, times in matched.items():
            entries += [[MATCHED, -1, key]] * times
        return entries
