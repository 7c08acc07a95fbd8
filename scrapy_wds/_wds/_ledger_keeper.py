"""The spider side's bookkeeping with the ledger: answers in, one write out.

The mixin hands every answer's output here before passing it on to Scrapy:

* follow-ups of pages (requests whose ``meta["wds"]["follow_up"]`` is set)
  go out only on the page's first sight in the job, by canonical URL;
* every WDS request in the output becomes an owed ticket, and is marked
  ``dont_filter``: the ledger drops a second copy of an owed or settled
  ticket at download time (``Ledger.claim``), so Scrapy's dupefilter would
  only compute its fingerprint (the canonical form of a long API URL, about
  a tenth of a WDS crawl's CPU) to find nothing (the job start stays
  filterable, see :meth:`LedgerKeeper.start`);
* the answer's own ticket is settled in the same write, unless it produced
  items: then it is settled once the last of them has been through the
  pipelines (``item_scraped`` / ``item_dropped`` / ``item_error``), so a
  kill between "item handed to Scrapy" and "item stored" loses nothing.

One keeper per crawler (:func:`keeper_for`); the downloader middleware uses
the same one's :attr:`LedgerKeeper.ledger` for claims, parking and resume.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from scrapy import Request, signals
from scrapy.http import Response

from scrapy_wds._wds._ledger import TICKET_KEY, Ledger, Owed, Page, backend_for, page_of
from scrapy_wds._wds._ledger_requests import request_to_data
from scrapy_wds._wds._task import META_KEY

_KEEPERS: weakref.WeakKeyDictionary[Any, LedgerKeeper] = weakref.WeakKeyDictionary()

_T = TypeVar("_T")


def keeper_for(crawler: Any) -> LedgerKeeper:
    """The crawler's keeper, made (and its ledger read) on first use."""
    keeper = _KEEPERS.get(crawler)
    if keeper is None:
        keeper = _KEEPERS[crawler] = LedgerKeeper(crawler, backend_for(crawler))
    return keeper


def ticket_of(request: Request | None) -> str | None:
    wds = request.meta.get(META_KEY) if request is not None else None
    ticket = wds.get(TICKET_KEY) if isinstance(wds, dict) else None
    return ticket if isinstance(ticket, str) else None


def _page_of_follow_up(request: Request) -> Page | None:
    wds = request.meta[META_KEY]
    task = wds.get("task")
    if not wds.get("follow_up") or not isinstance(task, dict):
        return None
    return page_of(str(wds.get("job", "")), str(task.get("url", "")))


class LedgerKeeper:
    def __init__(self, crawler: Any, ledger: Ledger) -> None:
        self.crawler = crawler
        self.ledger = ledger
        self.stats = crawler.stats
        #: Scrapy's DepthMiddleware drops requests deeper than this (0: no limit);
        #: they must not be owed, or the end of the crawl would ask them anyway.
        self._max_depth = crawler.settings.getint("DEPTH_LIMIT")
        #: Items not yet through the pipelines: item id → its answer's ticket,
        #: and each such ticket → the ids of its items still on their way.
        self._item_ticket: dict[int, str] = {}
        self._items_pending: dict[str, set[int]] = {}
        #: Items the ledger pipeline saw through, until their signal comes.
        self._stored: set[int] = set()
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self._item_done, signal=signal)

    # -- before building follow-ups ------------------------------------------

    def new_pages(self, job: str, tasks: Sequence[_T], url_of: Any) -> list[_T]:
        """The tasks whose page the job has not seen (each page once), in order.

        A cheap pre-filter, so follow-up requests are built only for new pages
        (:meth:`answered` makes the decision that counts).  Counts the others
        as ``wds/tasks/known_again``.
        """
        keys = [page_of(job, url_of(task)) for task in tasks]
        known = self.ledger.known(keys)
        fresh, seen = [], set()
        for task, key, is_known in zip(tasks, keys, known):
            if is_known or key in seen:
                continue
            seen.add(key)
            fresh.append(task)
        if len(fresh) < len(tasks):
            self.stats.inc_value("wds/tasks/known_again", len(tasks) - len(fresh))
        return fresh

    # -- after an answer's callback ------------------------------------------

    def answered(self, response: Response, output: Iterable[Any]) -> list[Any]:
        """Record what one answer produced (one write); return what to pass on to Scrapy."""
        if not self._still_ours(response):
            return []
        output = list(output)
        parent = ticket_of(response.request)
        # What Scrapy's DepthMiddleware will say of this answer's requests.
        depth = int(response.meta.get("depth", 0)) + 1 if response.request is not None else 1
        too_deep = bool(self._max_depth) and depth > self._max_depth
        pages: list[Page] = []
        issued: list[Owed] = []
        items = 0
        for element in output:
            ticket = ticket_of(element) if isinstance(element, Request) else None
            if ticket is not None and not too_deep:
                page = _page_of_follow_up(element)
                if page is not None and page not in pages:
                    pages.append(page)
                data = request_to_data(element)
                data["meta"]["depth"] = depth  # kept, so a resumed call counts on
                issued.append(Owed(ticket, data, page=page))
                # From the record below on, the ledger knows the ticket (owed or
                # settled; unless its page was seen already, and then the
                # request is not passed on): its claim lets one copy out.
                element.dont_filter = True
            elif not isinstance(element, Request) and parent is not None:
                items += 1
                self._item_ticket[id(element)] = parent
                self._items_pending.setdefault(parent, set()).add(id(element))
        settled = [parent] if parent is not None and not items else []
        if not (pages or issued or settled):
            return output
        first = self.ledger.record(pages=pages, issued=issued, settled=settled)
        fresh = {page for page, is_first in zip(pages, first) if is_first}
        if pages:
            self.stats.inc_value("wds/tasks/found", len(fresh))
            if len(fresh) < len(pages):
                self.stats.inc_value("wds/tasks/known_again", len(pages) - len(fresh))
        if len(fresh) == len(pages):
            return output
        return [
            element
            for element in output
            if not isinstance(element, Request)
            or ticket_of(element) is None
            or _page_of_follow_up(element) in (None, *fresh)
        ]

    def _still_ours(self, response: Response) -> bool:
        """False for the answer of a call another worker took over (scrapy-redis).

        A worker stalled past ``WDS_WORKER_TIMEOUT`` is taken for dead and
        its calls are sent again by another; handing on its late answer
        too would give their items twice.
        """
        ticket = ticket_of(response.request)
        if ticket is None or self.ledger.holds(ticket):
            return True
        self.stats.inc_value("wds/ledger/answers_dropped")
        return False

    def failed(self, request: Request | None) -> None:
        """The call failed for good (its errback ran): nothing more is owed for it."""
        ticket = ticket_of(request)
        if ticket is not None:
            self.ledger.record(settled=[ticket])

    def item_stored(self, item: Any) -> None:
        """``item`` got through the pipelines (the ledger pipeline says so, first)."""
        ticket = self._item_ticket.pop(id(item), None)
        if ticket is not None:
            self._stored.add(id(item))
            self._done_with(ticket, id(item))

    def _item_done(self, item: Any = None, response: Any = None, **_: Any) -> None:
        """item_scraped / item_dropped / item_error: the item's way ends here."""
        if id(item) in self._stored:
            self._stored.discard(id(item))  # the ledger pipeline saw it through
            return
        ticket = self._item_ticket.pop(id(item), None)
        if ticket is None:
            # A pipeline returned another object than it was given: the
            # answer the item came from still says which ticket it was.
            ticket = ticket_of(getattr(response, "request", None))
            waiting = self._items_pending.get(ticket or "")
            if ticket is None or not waiting:
                return
            self._done_with(ticket, next(iter(waiting)))
            return
        self._done_with(ticket, id(item))

    def _done_with(self, ticket: str, item_id: int) -> None:
        self._item_ticket.pop(item_id, None)
        waiting = self._items_pending.get(ticket)
        if waiting is None:
            return
        waiting.discard(item_id)
        if not waiting:
            del self._items_pending[ticket]
            self.ledger.record(settled=[ticket])

    # -- the job start ---------------------------------------------------------

    def start(self, request: Request) -> Request | None:
        """The job start, unless a previous run of this JOBDIR/ledger already had its answer.

        A start still owed is sent again ``dont_filter``: the dupefilter of a
        resumed crawl has seen it, and the ledger drops the copy if one is out.
        """
        ticket = ticket_of(request)
        if ticket is None:
            return request
        if self.ledger.is_settled(ticket):
            self.stats.inc_value("wds/jobs/already_started")
            return None
        if self.ledger.is_owed(ticket):
            return request.replace(dont_filter=True)  # owed since a previous run
        # A first start stays filterable: several scrapy-redis workers starting
        # the same job share one dupefilter, which lets one of them through.
        self.ledger.record(issued=[Owed(ticket, request_to_data(request))])
        return request
