"""What a WDS crawl still owes: the ledger's interface, its tickets and its data.

The downloader middleware owns *waiting*; the ledger owns *what is owed*:

* **pages known**, by canonical URL per job: a crawl answer's tasks are
  followed only on a page's first sight, whatever ids WDS gives them (the
  same id again, a new id, or none at all for a page it already has);
* **tickets**: every WDS request the package issues carries
  ``meta["wds"]["ticket"]``.  A ticket is *issued* (owed; the request kept as
  JSON-compatible data, without ``WDS_API_HEADERS``), *claimed* when it is
  downloaded, *parked* while WDS says "not yet", and *settled* once its
  answer has been turned into what it promised (follow-ups issued, items
  through the pipelines) or it has failed for good.

One answer's effects (pages first seen, tickets issued, its own ticket
settled) are one :meth:`Ledger.record` call, i.e. one write: a crash between
them can neither lose a page nor follow it twice.

Backends: memory (``_ledger_memory``), a JOBDIR journal (``_ledger_journal``)
and Redis under scrapy-redis (``_ledger_redis``); :func:`backend_for` picks one.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from w3lib.url import canonicalize_url

#: A page a job knows: ``(job name, canonical page URL)``.
Page = tuple[str, str]

#: Meta key (inside ``meta["wds"]``) of a request's ticket.
TICKET_KEY = "ticket"


@dataclass
class Owed:
    """One owed ticket and what it takes to send its request again.

    ``request``: JSON-compatible request data (see ``_ledger_requests``), never
    credentials.  ``due``: for a parked ticket, the wall-clock time
    (``time.time()``) of its next try; ``None`` means "now".  ``page``: set on a
    follow-up of a page: the ticket is issued only if :meth:`Ledger.record`
    sees that page for the first time in the same call.
    """

    ticket: str
    request: dict[str, Any]
    due: float | None = None
    page: Page | None = None


class Ledger(Protocol):
    """What a crawl owes, shared by everything that carries its requests.

    Every method is synchronous and cheap for the memory and journal backends;
    the Redis backend makes each one a single round trip (a Lua script or a
    MULTI) so several workers can share one ledger.
    """

    def open(self) -> list[Owed]:
        """What a previous run left owed, to send again (resume).

        Called once, when the spider opens.  The returned tickets count as
        parked in this process's waiting room from then on (their ``due`` says
        when; ``None`` = now), so copies that Scrapy's own queue also restores
        are refused by :meth:`claim` until :meth:`unpark`.
        """
        ...

    def known(self, pages: Sequence[Page]) -> list[bool]:
        """Whether each page was seen already (read only; a cheap pre-filter).

        Lets the spider side build follow-up requests only for new pages; the
        decision that counts is :meth:`record`'s.
        """
        ...

    def is_settled(self, ticket: str) -> bool:
        """Whether ``ticket`` was settled (the job start asks: send it again?)."""
        ...

    def is_owed(self, ticket: str) -> bool:
        """Whether ``ticket`` is issued and not settled (a resumed job start is sent again)."""
        ...

    def record(
        self,
        *,
        pages: Sequence[Page] = (),
        issued: Sequence[Owed] = (),
        settled: Sequence[str] = (),
    ) -> list[bool]:
        """One answer's effects, in one write; returns a first-sight flag per page.

        ``pages``: every page the answer found (known ones included, for the
        counts).  ``issued``: tickets now owed; one whose ``page`` is set is
        issued only if that page is first seen by this call (several tickets
        may share a page).  A ticket that is already owed or settled stays as
        it is.  ``settled``: tickets done with (settling an unknown or settled
        ticket is a no-op).
        """
        ...

    def claim(self, ticket: str) -> bool:
        """At download time: may this copy of ``ticket`` go out?

        False (drop the copy quietly) when the ticket is settled, or another
        copy is in flight or parked.  True marks it in flight.  A ticket the
        ledger never saw (a request built outside a WDS callback) is let
        through and not tracked.
        """
        ...

    def holds(self, ticket: str) -> bool:
        """Is the answer to this process's claim of ``ticket`` still its to hand on?

        Always, in one process.  Redis: not when this worker was taken for dead
        (stalled past ``WDS_WORKER_TIMEOUT``) and the call passed to another.
        """
        ...

    def park(self, owed: Owed) -> None:
        """The claimed ticket waits until ``owed.due`` (202, pending state, retry).

        ``owed.request`` is the copy that will be sent (poll counters updated),
        so a resumed crawl resumes the wait, not the first try.  A ticket that
        is not owed (untracked, or settled meanwhile) is ignored.
        """
        ...

    def unpark(self, ticket: str) -> bool:
        """The local waiting room released ``ticket``: send it now?

        True: it is no longer parked (a later :meth:`claim` succeeds).  False:
        it was settled meanwhile, or (Redis) another worker took it: drop it.
        """
        ...

    def due(self, now: float) -> list[Owed]:
        """Parked tickets of a *shared* room whose time has come, taken by this worker.

        The memory and journal backends return ``[]`` (their room is the
        local one); Redis hands out tickets parked by any worker, dead ones
        included.  Taken tickets are treated as unparked.
        """
        ...

    def orphans(self) -> list[Owed]:
        """At spider_idle: owed tickets nothing is carrying (not parked, not in flight).

        Locally, an idle engine carries nothing, so any claim this process
        still holds is stale and is dropped.  The caller sends each one
        again (or gives it up with ``record(settled=...)``).
        """
        ...

    def owed(self) -> int:
        """How many tickets are owed (the spider stays open while > 0)."""
        ...

    def close(self, graceful: bool) -> None:
        """The spider closed; ``graceful`` compacts the store to what is owed."""
        ...


def make_ticket(method: str, url: str, body: bytes | str = b"", *, unique: bool = False) -> str:
    """A short, deterministic name for a call (so a re-processed answer re-issues the same ones).

    ``unique`` (``dont_filter`` calls, e.g. an explicit ``wds_info``) adds a
    random part: asking twice on purpose is two calls.
    """
    raw = body.encode() if isinstance(body, str) else body
    digest = hashlib.sha1(method.upper().encode() + b" " + url.encode() + b"\n" + raw).hexdigest()
    ticket = digest[:16]
    return f"{ticket}-{uuid.uuid4().hex[:8]}" if unique else ticket


def page_of(job: str, url: str) -> Page:
    """The key a page is known by in a job: its canonical URL."""
    return (job, _canonical(url))


@functools.lru_cache(maxsize=4096)
def _canonical(url: str) -> str:
    # Cached: a task's page is keyed when its crawl answer is read
    # (``new_pages``) and again for each call its callback builds on it.
    return canonicalize_url(url)


def backend_for(crawler: Any) -> Ledger:
    """The ledger this crawl uses: Redis under scrapy-redis, a journal with JOBDIR, else memory."""
    from scrapy_wds._hasdata._shared_state import uses_scrapy_redis

    if uses_scrapy_redis(crawler.settings):
        from scrapy_wds._wds._ledger_redis import RedisLedger

        return RedisLedger(crawler)
    jobdir = crawler.settings.get("JOBDIR")
    if jobdir:
        from scrapy_wds._wds._ledger_journal import JournalLedger

        return JournalLedger(jobdir)
    from scrapy_wds._wds._ledger_memory import MemoryLedger

    return MemoryLedger()
