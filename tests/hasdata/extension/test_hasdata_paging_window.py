"""Results pages are fetched HASDATA_PAGE_CONCURRENCY at a time, and a slot frees when a page arrives.

The client here answers each page only when the test says so, and the
pusher holds a page's delivery until the test lets it go, so the test sees
which pages are being fetched at each moment.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
from hasdata_runner_support import runner_for
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import reactor as real_reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater

from scrapy_wds._hasdata._rows import ResultsPage

PAGE = 2  # rows per page
PAGES = 12


def page(number: int) -> ResultsPage:
    rows = [{"n": (number - 1) * PAGE + i} for i in range(PAGE)]
    return ResultsPage(rows, number, PAGES, PAGES * PAGE, PAGE)


class HeldClient:
    """Page 1 at once; every other page when :meth:`answer` is called for it."""

    def __init__(self) -> None:
        self.held: dict[int, Deferred[ResultsPage]] = {}

    async def results(self, job_id: str, number: int, limit: int) -> ResultsPage:
        if number == 1:
            return page(1)
        self.held[number] = Deferred()
        return await maybe_deferred_to_future(self.held[number])

    def fetching(self) -> set[int]:
        return {number for number, answer in self.held.items() if not answer.called}

    def answer(self, number: int) -> None:
        self.held[number].callback(page(number))


class HeldPusher:
    """Delivers a page's rows when the test releases it; notes the order."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.gate: Deferred[None] | None = None

    async def deliver(self, job: Any, ledger: Any, rows: list[Any], source: str, **kw: Any) -> int:
        self.gate = Deferred()
        await maybe_deferred_to_future(self.gate)
        self.delivered += [row["n"] for row in rows]
        for index in range(len(rows)):
            ledger.note_paged(kw["first_position"] + index)
        return len(rows)

    def release(self) -> None:
        assert self.gate is not None and not self.gate.called
        self.gate.callback(None)


async def turn() -> None:
    for _ in range(3):  # let the runner's tasks step
        await deferLater(real_reactor, 0, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_page_that_arrives_frees_its_fetch_slot_at_once() -> None:
    client, pusher = HeldClient(), HeldPusher()
    runner = runner_for(client, Clock(), HASDATA_PAGE_CONCURRENCY=3, HASDATA_PAGE_LIMIT=PAGE)
    runner._pusher = pusher  # type: ignore[assignment]
    draining = deferred_from_coro(runner._drain_pages())
    await turn()
    pusher.release()  # page 1 (answered at once) goes through
    await turn()
    assert client.fetching() == {2, 3, 4}

    client.answer(3)  # out of order: page 2 is still awaited
    await turn()
    assert client.fetching() == {2, 4, 5}

    client.answer(2)  # its delivery is held in the pipelines...
    client.answer(4)
    await turn()
    assert client.fetching() == {5, 6, 7}  # ...and fetching goes on meanwhile

    # Arrived pages wait at most as many again as are fetched at once.
    client.answer(5)
    client.answer(6)
    await turn()
    assert client.fetching() == {7, 8}  # 2, 3, 4, 5, 6 arrived; 2 is in delivery

    while not draining.called:  # then everything as soon as asked
        for number in client.fetching():
            client.answer(number)
        if pusher.gate is not None and not pusher.gate.called:
            pusher.release()
        await turn()
    await draining
    assert pusher.delivered == list(range(PAGES * PAGE))  # page order, every row once
    assert runner.ledger.positions.covers(0, PAGES * PAGE)
