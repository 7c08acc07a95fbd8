"""The file that remembers, across runs, which HasData jobs exist and what was delivered.

A HasData job costs credits the moment it is submitted, so its id is written
down as soon as HasData answers, before anything else happens; a crawl that
is resumed (JOBDIR) or simply started again - even after SIGKILL - finds the
id here and polls that job instead of paying for a new one.

Delivery is recorded row by row in a side file (``path`` + ``.rows``),
append-only, one short JSON line per row written the moment the row went
through the pipelines (see :mod:`._ledger`).  The line goes to the
operating system at once but is not fsynced: it survives ``kill -9`` and any
crash of the crawl process, so such a crash repeats at most the one row that
was in the pipelines.  A power cut (or kernel crash) can lose the lines the
kernel had not yet written to disk (typically the last few seconds; Linux
writes dirty pages back within 30 s): those rows are delivered again, never
lost.  A line cut short is ignored when read back, and the side file is
compacted into ranges when a crawl opens it.

The state itself (``path``) is small: job ids, statuses, counts.  It is
rewritten atomically (a temporary file in the same directory, flushed and
fsynced, renamed over the old one, the directory fsynced) when a job is
submitted, changes status or is drained - never per row or per page.

The files hold job ids, statuses, counts, row positions and content hashes - never
the API key, the webhook secret or the job's input (HasData echoes the
submitted body, webhook headers included, in every job record; nothing of a
job record but its status, id and counts is kept).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

STATE_VERSION = 1

logger = logging.getLogger(__name__)


class HasDataStateError(RuntimeError):
    """The state file exists but cannot be read."""


@dataclass
class JobRecord:
    """What is known about one declared job (keyed by :attr:`HasDataJob.key`)."""

    scraper: str
    #: The API the job was submitted to (its id means nothing elsewhere).
    api_url: str | None = None
    job_id: str | None = None
    status: str | None = None
    #: Rows per results page as the server serves them (learnt from ``perPage``).
    page_limit: int | None = None
    rows_total: int | None = None
    credits_spent: float = 0.0
    #: Every row of a terminal job went through the pipelines: nothing left to do.
    drained: bool = False
    #: A submit was sent but its answer never arrived (the crawl stopped in between).
    submit_unconfirmed: bool = False
    #: When the submit was answered (seconds since the epoch): HASDATA_JOB_TIMEOUT counts from it.
    submitted_at: float | None = None


class StateFile:
    """Job records of one crawl in one JSON file, and their delivered rows in a side file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.keys_path = self.path.with_name(self.path.name + ".rows")
        self.jobs: dict[str, JobRecord] = {}
        self._entries: dict[str, list[list[Any]]] = {}
        self._log: IO[str] | None = None
        self._prefixes: dict[str, str] = {}
        self._load()
        self._load_rows()

    def record(self, key: str, scraper: str, api_url: str) -> JobRecord:
        """The record of job ``key``; a fresh one if unknown or made on another API."""
        known = self.jobs.get(key)
        if known is not None and known.api_url not in (None, api_url):
            # Job ids mean nothing on another service (another account, the
            # emulator): polling them would fail or, worse, find a stranger's job.
            logger.warning(
                "HasData state %s: job %r was submitted to %s, not to %s; starting it afresh",
                self.path,
                key,
                known.api_url,
                api_url,
            )
            known = None
            self._entries.pop(key, None)
        if known is None:
            known = self.jobs[key] = JobRecord(scraper=scraper, api_url=api_url)
        return known

    def row_entries(self, key: str) -> list[list[Any]]:
        """The ledger entries of job ``key`` read back at open (see :mod:`._ledger`)."""
        return self._entries.pop(key, [])

    def append_row(self, key: str, entry: list[Any]) -> None:
        """One ledger entry, handed to the operating system at once (no fsync: see above)."""
        if self._log is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered: each entry is written (a syscall) as its newline arrives.
            self._log = open(self.keys_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (kept open for the crawl, closed in close())
        if len(entry) == 2 and type(entry[1]) is int:  # a position: the common case, made cheap
            prefix = self._prefixes.get(key)
            if prefix is None:
                prefix = self._prefixes[key] = "[" + json.dumps(key)
            self._log.write(f'{prefix},"{entry[0]}",{entry[1]}]\n')
            return
        self._log.write(json.dumps([key, *entry], separators=(",", ":")) + "\n")

    def check_claim(self, key: str) -> None:
        """A state file belongs to one crawl process: nothing can take a job away."""

    def clear(self) -> None:
        """Forget every job (the crawl finished: nothing is left to resume)."""
        self.jobs.clear()
        self.save()
        self._close_log()
        self.keys_path.unlink(missing_ok=True)

    def save_job(self, key: str) -> None:
        """Persist job ``key`` (the file holds every job: the whole file is rewritten)."""
        self.save()

    def close(self) -> None:
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "jobs": {key: record_to_dict(record) for key, record in self.jobs.items()},
        }
        _write_atomically(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))

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

    def _load_rows(self) -> None:
        try:
            lines = self.keys_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise HasDataStateError(
                f"cannot read {str(self.keys_path)!r} ({exc}); fix its permissions"
            ) from None
        for line in lines:
            entry = parse_entry(line)
            if entry is not None and entry[0] in self.jobs:
                self._entries.setdefault(entry[0], []).append(entry[1:])
        self._compact()

    def _compact(self) -> None:
        """Rewrite the side file as ranges: its size stays that of the gaps, not of the rows."""
        from scrapy_wds._hasdata._ledger import JobLedger

        lines = []
        for key, entries in self._entries.items():
            compact = JobLedger(key, self, entries).compact_entries()
            self._entries[key] = compact
            lines += [json.dumps([key, *entry], separators=(",", ":")) for entry in compact]
        _write_atomically(self.keys_path, "".join(line + "\n" for line in lines))


def parse_entry(line: str | bytes) -> list[Any] | None:
    """One ledger line as a list, or None for the tail of a write a crash cut short."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, list) and len(entry) >= 2 else None


#: What the state file keeps of a record: every field.
_RECORD_FIELDS = tuple(f.name for f in fields(JobRecord))


def record_to_dict(record: JobRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def record_from_dict(value: Any) -> JobRecord:
    known = JobRecord.__dataclass_fields__
    return JobRecord(**{k: v for k, v in value.items() if k in known})


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


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
