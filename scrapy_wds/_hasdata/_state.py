"""The file that remembers, across runs, which HasData jobs exist and what was delivered.

A HasData job costs credits the moment it is submitted, so its id is written
down as soon as HasData answers, before anything else happens; a crawl that
is resumed (JOBDIR) or simply started again - even after SIGKILL - finds the
id here and polls that job instead of paying for a new one.

Delivery progress is written after each batch of rows (a page, a chunk of
the ``json`` file, one webhook call) has gone through the item pipelines -
also when a batch stops partway: the ids and content keys of exactly the rows
that went through (see :class:`RowProgress`), then the page as done.  A crash
can therefore repeat at most the rows of the one batch that was in flight.

Two files, so that the cost of a write does not grow with the crawl:

* the state itself (``path``): job ids, statuses, pages done, counts.  Small;
  rewritten atomically (a temporary file in the same directory, flushed and
  fsynced, renamed over the old one, the directory fsynced), so a crash
  leaves the old or the new state, never half of one;
* the rows handled (``path`` + ``.rows``): append-only, one JSON line per
  delivered batch, fsynced.  A line cut short by a crash is ignored when read
  back.  Rows are appended before the page is marked done, so a crash in
  between makes the page's rows known duplicates, not repeats.

The files hold job ids, statuses, counts, row ids and content hashes - never
the API key, the webhook secret or the job's input (HasData echoes the
submitted body, webhook headers included, in every job record; nothing of a
job record but its status, id and counts is kept).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

STATE_VERSION = 1

logger = logging.getLogger(__name__)


class HasDataStateError(RuntimeError):
    """The state file exists but cannot be read."""


@dataclass
class RowProgress:
    """Rows of one job handled so far (see ``_row_ledger`` for the rules).

    Kept in the ``.rows`` side file, never in the state file itself.
    """

    #: Row ids of paged rows delivered, or skipped as matched by a webhook row.
    ids: list[str] = field(default_factory=list)
    #: Content keys of every row delivered, whatever its source.
    keys: list[str] = field(default_factory=list)
    #: Content keys of rows delivered early, by webhook (one entry per row).
    early: list[str] = field(default_factory=list)
    #: Content keys of paged rows skipped because a webhook row delivered them.
    matched: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ids or self.keys or self.early or self.matched)

    def extend(self, more: RowProgress) -> None:
        self.ids.extend(more.ids)
        self.keys.extend(more.keys)
        self.early.extend(more.early)
        self.matched.extend(more.matched)


@dataclass
class JobRecord:
    """What is known about one declared job (keyed by :attr:`HasDataJob.key`)."""

    scraper: str
    #: The API the job was submitted to (its id means nothing elsewhere).
    api_url: str | None = None
    job_id: str | None = None
    status: str | None = None
    #: The page size the pages below were read with (page numbers depend on it).
    page_limit: int | None = None
    pages_done: list[int] = field(default_factory=list)
    #: The rows handled so far; kept in the ``.rows`` file, not in the state file itself.
    rows_seen: RowProgress = field(default_factory=RowProgress)
    rows_delivered: int = 0
    rows_total: int | None = None
    credits_spent: float = 0.0
    #: Every row of a terminal job went through the pipelines: nothing left to do.
    drained: bool = False
    #: A submit was sent but its answer never arrived (the crawl stopped in between).
    submit_unconfirmed: bool = False


class StateFile:
    """Job records of one crawl, persisted in one JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.keys_path = self.path.with_name(self.path.name + ".rows")
        self.jobs: dict[str, JobRecord] = {}
        self._load()
        self._load_keys()

    def record(self, key: str, scraper: str, api_url: str) -> JobRecord:
        """The record of job ``key``; a fresh one if unknown or made on another API."""
        known = self.jobs.get(key)
        if known is not None and known.api_url not in (None, api_url):
            # Job ids mean nothing on another service (another account, the
            # emulator): polling them would fail or, worse, find a stranger's job.
            logger.warning(
                "HasData state %s: job %r was submitted to %s, not to %s; starting it afresh",
                self.path, key, known.api_url, api_url,
            )
            known = None
        if known is None:
            known = self.jobs[key] = JobRecord(scraper=scraper, api_url=api_url)
        return known

    def append_rows(self, key: str, progress: RowProgress) -> None:
        """Record (durably) the rows of job ``key`` that one batch handled."""
        if not progress:
            return
        self.jobs[key].rows_seen.extend(progress)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"job": key, **progress_to_entry(progress)}
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with open(self.keys_path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def clear(self) -> None:
        """Forget every job (the crawl finished: nothing is left to resume)."""
        self.jobs.clear()
        self.save()
        self.keys_path.unlink(missing_ok=True)

    def save_job(self, key: str) -> None:
        """Persist job ``key`` (the file holds every job: the whole file is rewritten)."""
        self.save()

    def close(self) -> None:
        """Nothing to let go of (the redis store releases its claims here)."""

    def save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "jobs": {key: record_to_dict(record) for key, record in self.jobs.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise HasDataStateError(
                f"cannot read the HasData state file {str(self.path)!r} ({exc}); "
                "fix its permissions or point HASDATA_STATE_FILE elsewhere"
            ) from None
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            self.jobs = {key: record_from_dict(value) for key, value in data["jobs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HasDataStateError(
                f"the HasData state file {str(self.path)!r} is damaged ({exc}); it lists "
                "the jobs already paid for - repair it, or delete it to submit every job again"
            ) from None


    def _load_keys(self) -> None:
        try:
            lines = self.keys_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise HasDataStateError(
                f"cannot read {str(self.keys_path)!r} ({exc}); fix its permissions"
            ) from None
        for line in lines:
            try:
                entry = json.loads(line)
                record = self.jobs.get(entry["job"])
                progress = progress_from_entry(entry)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # the tail of a write a crash cut short
            if record is not None:
                record.rows_seen.extend(progress)


_PROGRESS_FIELDS = tuple(RowProgress.__dataclass_fields__)
#: What the state file keeps of a record: every field but the rows handled,
#: which live in the side file (or a redis list).
_RECORD_FIELDS = tuple(f.name for f in fields(JobRecord) if f.name != "rows_seen")


def record_to_dict(record: JobRecord) -> dict[str, Any]:
    """The record as JSON-ready data, without its rows.

    Read field by field: ``dataclasses.asdict`` would deep-copy every row id
    and key handled so far on each save (once per page), a cost that grows
    with the job and made big drains quadratic.
    """
    data = {name: getattr(record, name) for name in _RECORD_FIELDS}
    data["pages_done"] = list(record.pages_done)
    return data


def record_from_dict(value: Any) -> JobRecord:
    known = JobRecord.__dataclass_fields__
    return JobRecord(**{k: v for k, v in value.items() if k in known and k != "rows_seen"})


def progress_to_entry(progress: RowProgress) -> dict[str, list[str]]:
    """One batch's rows as JSON-ready data (empty lists left out)."""
    return {name: getattr(progress, name) for name in _PROGRESS_FIELDS if getattr(progress, name)}


def progress_from_entry(entry: dict[str, Any]) -> RowProgress:
    return RowProgress(**{name: [str(v) for v in entry.get(name, [])] for name in _PROGRESS_FIELDS})


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
