"""One HasData job inside the emulator: its rows, its progress, its record.

A job has two lists of rows.  ``produced`` grows as the scraper works in the
background; ``stored`` is what the API shows (``/results``, ``dataRowsCount``)
and what credits were spent on.  Rows move from one to the other as the job
*progresses*: progress is the smaller of

* polls: ``polls_seen / (job_polls + 1)`` (1 when ``job_polls`` is 0), and
* time: ``elapsed / job_seconds`` (1 when ``job_seconds`` is 0),

and ``floor(len(produced) * progress)`` rows are readable at any moment.  So a
job with ``job_polls=3`` shows about a quarter of its rows after the first
status poll, half after the second, and every row once it answers
``finished`` at the fourth.  A job finishes when its scraper is done, both
gates are passed and every produced row is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from scrapy_wds.testing._hasdata_webhooks import (
    EVENT_DATA,
    EVENT_DATA_LEGACY,
    EVENT_STARTED,
    WebhookChannel,
)

PENDING = "pending"
IN_PROGRESS = "in_progress"
FINISHED = "finished"
STOPPED = "stopped"
TERMINAL = (FINISHED, STOPPED)

#: First integer job id: the shape of the one real record the spec shows.
FIRST_INT_ID = 416349


def iso(timestamp: float) -> str:
    """``2026-01-02T03:04:05.678Z``, the way HasData writes times."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_id(kind: str, number: int, style: str) -> int | str:
    """Id number ``number`` of ``kind`` (job, row, scraper) in the chosen style.

    UUIDs are derived from the number, so ids are the same on every run.
    """
    if style == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hasdata-emulator:{kind}:{number}"))
    return number


@dataclass
class StoredRow:
    id: int | str
    data_id: str
    row: dict[str, Any]
    created_at: float

    def wrapped(self, job_id: int | str) -> dict[str, Any]:
        """The double-wrapped shape ``/results`` answers with."""
        stamp = iso(self.created_at)
        return {
            "id": self.id,
            "jobId": job_id,
            "dataId": self.data_id,
            "data": self.row,
            "createdAt": stamp,
            "updatedAt": stamp,
        }


@dataclass
class Job:
    id: int | str
    slug: str
    scraper_id: int | str
    scraper_name: str
    input: dict[str, Any]
    columns: list[str]
    limit: int
    polls_needed: int
    seconds_needed: float
    webhook: WebhookChannel | None = None
    status: str = PENDING
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    produced: list[dict[str, Any]] = field(default_factory=list)
    stored: list[StoredRow] = field(default_factory=list)
    producer_done: bool = False
    out_of_credits: bool = False
    polls_seen: int = 0
    webhook_rows_sent: int = 0
    links: dict[str, str] | None = None
    failure: str | None = None  # why the scraper gave up early (admin view only)
    runner: asyncio.Task[None] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def wants_more_rows(self) -> bool:
        if self.terminal or self.out_of_credits:
            return False
        return not self.limit or len(self.produced) < self.limit

    def progress(self, now: float) -> float:
        by_polls = 1.0 if self.polls_needed <= 0 else self.polls_seen / (self.polls_needed + 1)
        by_time = 1.0 if self.seconds_needed <= 0 else (now - self.created_at) / self.seconds_needed
        return max(0.0, min(1.0, by_polls, by_time))

    def rows_due(self, now: float) -> int:
        """How many produced rows should be readable by now."""
        progress = self.progress(now)
        if progress >= 1.0:
            return len(self.produced)
        return math.floor(len(self.produced) * progress)

    def ready_to_finish(self, now: float) -> bool:
        return (
            self.producer_done
            and self.progress(now) >= 1.0
            and len(self.stored) == len(self.produced)
        )

    def store_next(self, row_id: int | str, now: float) -> StoredRow:
        index = len(self.stored)
        digest = hashlib.sha1(f"{self.id}:{index}".encode()).hexdigest()[:24]
        stored = StoredRow(row_id, digest, self.produced[index], now)
        self.stored.append(stored)
        self.updated_at = now
        return stored

    def stop_producing(self) -> None:
        """Forget the rows not stored yet (credits ran out, or DELETE)."""
        del self.produced[len(self.stored) :]
        self.producer_done = True

    def send_row_batches(
        self, batch: int, *, legacy: bool, numbers_as_strings: bool, final: bool
    ) -> None:
        """Data callbacks for the stored rows not sent yet, ``batch`` rows each
        (the last, shorter one only when ``final``)."""
        if self.webhook is None:
            return
        while len(self.stored) - self.webhook_rows_sent >= (1 if final else batch):
            chunk = self.stored[self.webhook_rows_sent : self.webhook_rows_sent + batch]
            self.webhook_rows_sent += len(chunk)
            rows = [stored.row for stored in chunk]
            if legacy:
                self.send_event(
                    EVENT_DATA_LEGACY, numbers_as_strings=numbers_as_strings, dataRows=rows
                )
            else:
                self.send_event(EVENT_DATA, numbers_as_strings=numbers_as_strings, data=rows)

    def send_event(self, event: str, *, numbers_as_strings: bool, **extra: Any) -> None:
        """One callback of ``event`` (the job's webhook channel decides how it is delivered)."""
        if self.webhook is None:
            return
        payload: dict[str, Any] = {
            "event": event,
            "jobId": self.id,
            "jobStatus": self.status,
            "timestamp": iso(time.time()),
        }
        if event != EVENT_STARTED:
            count = str(len(self.stored)) if numbers_as_strings else len(self.stored)
            payload["dataRowsCount"] = count
            payload["creditsSpent"] = count
        payload.update(extra)
        self.webhook.send(payload)

    def admin_view(self) -> dict[str, Any]:
        """The record plus what only the emulator knows (``GET /__emulator__/jobs``)."""
        return {
            **self.record(numbers_as_strings=False),
            "emulator": {
                "producedRows": len(self.produced),
                "producerDone": self.producer_done,
                "pollsSeen": self.polls_seen,
                "failure": self.failure,
            },
        }

    def results_page(self, page: int, limit: int, *, numbers_as_strings: bool) -> dict[str, Any]:
        """What ``/results?page=&limit=`` answers: ``meta`` and the wrapped rows of that page."""

        def number(value: int) -> int | str:
            return str(value) if numbers_as_strings else value

        total = len(self.stored)
        last = max(1, -(-total // limit))
        rows = self.stored[(page - 1) * limit : page * limit]
        meta = {
            "total": number(total),
            "perPage": number(limit),
            "currentPage": number(page),
            "lastPage": number(last),
            "firstPage": number(1),
            "firstPageUrl": "/?page=1",
            "lastPageUrl": f"/?page={last}",
            "nextPageUrl": f"/?page={page + 1}" if page < last else None,
            "previousPageUrl": f"/?page={page - 1}" if page > 1 else None,
        }
        return {"meta": meta, "data": [row.wrapped(self.id) for row in rows]}

    def record(self, *, numbers_as_strings: bool) -> dict[str, Any]:
        """The job record the status, submit and stop calls answer with."""

        def number(value: int) -> int | str:
            return str(value) if numbers_as_strings else value

        record: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "creditsSpent": number(len(self.stored)),
            "dataRowsCount": number(len(self.stored)),
            "input": self.input,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "scraperId": self.scraper_id,
            "scraper": {"id": self.scraper_id, "slug": self.slug, "name": self.scraper_name},
            "columns": self.columns,
        }
        if self.status == FINISHED and self.links is not None:
            record["data"] = dict(self.links)
        return record
