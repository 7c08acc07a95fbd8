"""Which rows of one job were delivered, and whether the next one is new.

Paged rows (results pages, the ``json`` file) are the source of truth and
carry row ids, so they are deduplicated by id alone: two rows of a job with
identical content are two rows, and both are delivered.

Webhook rows carry no id; only their content key (``_row_keys``) can tell
them apart, so they are matched by content, as a multiset:

* a webhook row whose key was already delivered (by a webhook or by paging)
  is skipped; otherwise it is delivered and its key noted as *delivered
  early*;
* a paged row with an unseen id is skipped (its id recorded) when its key was
  delivered early and that early delivery is not yet matched, which marks it
  matched; otherwise it is delivered.

Every webhook-delivered row is thus matched by exactly one paged row, and a
job's identical rows all arrive: by webhook at most one of them, by paging
the rest.  Paged rows without an id (tolerated, never seen from HasData) get
one from their place in the job's results (page and index, or index in the
``json`` file).

Nothing is recorded before the row went through the pipelines: a batch
decides a row, delivers it, then records it (:meth:`JobRows.note_done`), one row
after another, while it holds the job's lock, so two batches never decide on
the same key at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import DeferredLock

from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._row_keys import row_content_key
from scrapy_wds._hasdata._rows import PagedRow, row_to_item
from scrapy_wds._hasdata._state import JobRecord, RowProgress

#: The source whose rows carry no id and are matched by content.
WEBHOOK = "webhook"


@dataclass(frozen=True)
class RowDecision:
    """What to do with one row, and what to record once it is done."""

    deliver: bool
    key: str
    row_id: str | None = None  # a paged row's id (None for a webhook row)
    matched: bool = False  # a paged row skipped as delivered early by a webhook
    known: bool = False  # already recorded: nothing to record again


class JobRows:
    """The delivery ledger of one job, restored from (and recorded to) its state."""

    def __init__(self, job: HasDataJob, record: JobRecord) -> None:
        self.job = job
        self.record = record
        #: Held by a batch while it decides and delivers (see the module doc).
        self.lock = DeferredLock()
        self._item_class = job.resolved_item_class()
        seen = record.rows_seen
        self._ids = set(seen.ids)
        self._keys = set(seen.keys)
        self._early: Counter[str] = Counter(seen.early)
        self._matched: Counter[str] = Counter(seen.matched)

    def decide(self, paged: PagedRow, source: str, *, position: str) -> RowDecision:
        """Deliver ``paged`` or skip it; ``position`` names its place when it has no id."""
        key = row_content_key(paged.row, self.job.content_key)
        if source == WEBHOOK:
            if key in self._keys:
                return RowDecision(False, key, known=True)
            return RowDecision(True, key)
        row_id = paged.row_id if paged.row_id is not None else position
        if row_id in self._ids:
            return RowDecision(False, key, row_id, known=True)
        if self._early[key] > self._matched[key]:
            return RowDecision(False, key, row_id, matched=True)
        return RowDecision(True, key, row_id)

    def note_done(self, decision: RowDecision, progress: RowProgress) -> None:
        """Note a row done (delivered, or skipped as matched) here and in ``progress``."""
        if decision.known:
            return
        if decision.row_id is not None:
            self._ids.add(decision.row_id)
            progress.ids.append(decision.row_id)
        if decision.matched:
            self._matched[decision.key] += 1
            progress.matched.append(decision.key)
            return
        if decision.key not in self._keys:
            self._keys.add(decision.key)
            progress.keys.append(decision.key)
        if decision.row_id is None:  # a webhook row: delivered early
            self._early[decision.key] += 1
            progress.early.append(decision.key)

    def record_delivered(self, count: int) -> None:
        self.record.rows_delivered += count

    def to_item(self, row: dict[str, Any]) -> Any:
        return row_to_item(row, self._item_class, self.job.field_map)
