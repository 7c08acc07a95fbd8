"""The ledger kept in memory: same rules as the others, nothing written anywhere.

Used without JOBDIR and without scrapy-redis.  A crawl that stops keeps
nothing, but while it runs the ledger still follows each page once, drops
duplicate copies of a call, and finds gaps at the end.  The journal backend
builds on it and only adds the writing.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapy_wds._wds._ledger import Owed, Page


class MemoryLedger:
    """:class:`~scrapy_wds._wds._ledger.Ledger` in this process's memory."""

    def __init__(self) -> None:
        self.pages: set[Page] = set()
        self.owed_tickets: dict[str, Owed] = {}
        self.settled: set[str] = set()
        self.in_flight: set[str] = set()
        self.parked: set[str] = set()
        self._opened = False

    # -- reading -----------------------------------------------------------

    def open(self) -> list[Owed]:
        if self._opened:
            return []
        self._opened = True
        self.parked.update(self.owed_tickets)
        return list(self.owed_tickets.values())

    def known(self, pages: Sequence[Page]) -> list[bool]:
        return [page in self.pages for page in pages]

    def is_settled(self, ticket: str) -> bool:
        return ticket in self.settled

    def is_owed(self, ticket: str) -> bool:
        return ticket in self.owed_tickets

    def owed(self) -> int:
        return len(self.owed_tickets)

    # -- changing ------------------------------------------------------------

    def record(
        self,
        *,
        pages: Sequence[Page] = (),
        issued: Sequence[Owed] = (),
        settled: Sequence[str] = (),
    ) -> list[bool]:
        settled = [ticket for ticket in settled if ticket not in self.settled]
        flags, new_pages, accepted = self._apply(pages, issued, settled)
        if new_pages or accepted or settled:
            self._write_record(new_pages, accepted, settled)
        return flags

    def _apply(
        self, pages: Sequence[Page], issued: Sequence[Owed], settled: Sequence[str]
    ) -> tuple[list[bool], list[Page], list[Owed]]:
        """Change the state; return (first-sight flags, pages new, tickets accepted)."""
        flags = []
        new_pages: list[Page] = []
        for page in pages:
            is_new = page not in self.pages
            flags.append(is_new)
            if is_new:
                self.pages.add(page)
                new_pages.append(page)
        accepted = []
        fresh = set(new_pages)
        for owed in issued:
            if owed.page is not None and owed.page not in fresh:
                continue
            if owed.ticket in self.settled or owed.ticket in self.owed_tickets:
                continue
            self.owed_tickets[owed.ticket] = owed
            accepted.append(owed)
        for ticket in settled:
            self.owed_tickets.pop(ticket, None)
            self.settled.add(ticket)
            self.in_flight.discard(ticket)
            self.parked.discard(ticket)
        return flags, new_pages, accepted

    def _write_record(
        self, new_pages: list[Page], accepted: list[Owed], settled: Sequence[str]
    ) -> None:
        """Where the journal writes; memory keeps nothing."""

    def claim(self, ticket: str) -> bool:
        if ticket not in self.owed_tickets:
            return ticket not in self.settled
        if ticket in self.in_flight or ticket in self.parked:
            return False
        self.in_flight.add(ticket)
        return True

    def holds(self, ticket: str) -> bool:
        return True  # one process: no other one can take its calls over

    def park(self, owed: Owed) -> None:
        if owed.ticket not in self.owed_tickets:
            return  # untracked, or settled meanwhile: nothing to keep
        self.owed_tickets[owed.ticket] = owed
        self.in_flight.discard(owed.ticket)
        self.parked.add(owed.ticket)
        self._write_park(owed)

    def _write_park(self, owed: Owed) -> None:
        """Where the journal writes; memory keeps nothing."""

    def unpark(self, ticket: str) -> bool:
        if ticket not in self.owed_tickets:
            return ticket not in self.settled  # untracked: the room sends it
        if ticket not in self.parked:
            return False  # a copy is already out
        self.parked.discard(ticket)
        return True

    def due(self, now: float) -> list[Owed]:
        return []

    def orphans(self) -> list[Owed]:
        self.in_flight.clear()
        return [owed for ticket, owed in self.owed_tickets.items() if ticket not in self.parked]

    def close(self, graceful: bool) -> None:
        pass
