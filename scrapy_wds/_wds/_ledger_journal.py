"""The ledger under JOBDIR: an append-only journal, one JSON line per change.

Every :meth:`record` and :meth:`park` appends one line to
``JOBDIR/wds-ledger.jsonl`` and flushes it to the operating system (no
fsync): a ``kill -9`` of the crawl loses nothing written, a power cut may
lose the last lines written before it (the operating system had not stored
them yet), and then the crawl redoes those answers (their tickets are still
owed).  A torn last line is ignored on reading.  A graceful close rewrites
the file as just what is still known and owed, so it does not grow across
pauses.

Line shapes (short keys: the file grows with the crawl):
``{"p": [[job, url], …], "i": [owed, …], "s": [ticket, …]}`` for a record,
``{"k": owed}`` for a park; an owed ticket is
``{"t": ticket, "q": request data, "d": due or null}``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from scrapy_wds._wds._ledger import Owed, Page
from scrapy_wds._wds._ledger_memory import MemoryLedger

logger = logging.getLogger(__name__)

#: The journal's file name in JOBDIR.
JOURNAL_FILE_NAME = "wds-ledger.jsonl"


def journal_path(jobdir: str | Path) -> Path:
    return Path(jobdir) / JOURNAL_FILE_NAME


def _owed_line(owed: Owed) -> dict[str, Any]:
    return {"t": owed.ticket, "q": owed.request, "d": owed.due}


def _owed_from(data: dict[str, Any]) -> Owed:
    due = data.get("d")
    return Owed(str(data["t"]), dict(data["q"]), float(due) if due is not None else None)


class JournalLedger(MemoryLedger):
    """:class:`MemoryLedger` whose every change is appended to a journal in JOBDIR."""

    def __init__(self, jobdir: str | Path) -> None:
        super().__init__()
        self.path = journal_path(jobdir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._replay()
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def _replay(self) -> None:
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self._replay_line(entry)
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines):
                    # A kill in the middle of a write leaves half a line: that
                    # change was not done, and its answer is asked again.
                    logger.info("Ignored the torn last line of %s", self.path)
                else:
                    logger.warning("Ignored line %d of %s (%s)", number, self.path, exc)
        if lines and not lines[-1].endswith("}"):
            self._rewrite()  # start appending on a clean line

    def _replay_line(self, entry: dict[str, Any]) -> None:
        if "k" in entry:
            owed = _owed_from(entry["k"])
            if owed.ticket in self.owed_tickets:
                self.owed_tickets[owed.ticket] = owed
            return
        pages = [(str(job), str(url)) for job, url in entry.get("p", [])]
        issued = [_owed_from(data) for data in entry.get("i", [])]
        self._apply(pages, issued, [str(t) for t in entry.get("s", [])])

    # -- writing -------------------------------------------------------------

    def _append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()  # to the OS: a kill -9 of this process loses nothing

    def _write_record(
        self, new_pages: list[Page], accepted: list[Owed], settled: Sequence[str]
    ) -> None:
        entry: dict[str, Any] = {}
        if new_pages:
            entry["p"] = [list(page) for page in new_pages]
        if accepted:
            entry["i"] = [_owed_line(owed) for owed in accepted]
        if settled:
            entry["s"] = list(settled)
        self._append(entry)

    def _write_park(self, owed: Owed) -> None:
        self._append({"k": _owed_line(owed)})

    def close(self, graceful: bool) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if graceful:
            self._rewrite()

    def _rewrite(self) -> None:
        """The journal as one line of what is known and owed (written aside, then swapped in)."""
        tmp = self.path.with_suffix(".tmp")
        entry = {
            "p": [list(page) for page in sorted(self.pages)],
            "i": [_owed_line(owed) for owed in self.owed_tickets.values()],
            # Settled tickets stay known, so copies of their requests that
            # Scrapy's own queue restores are dropped instead of redone.
            "s": sorted(self.settled),
        }
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        os.replace(tmp, self.path)
