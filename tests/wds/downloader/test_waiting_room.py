"""The waiting room on a fake clock: order, one timer, release failures."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.utils.test import get_crawler
from twisted.internet.task import Clock

from scrapy_wds._wds import _waiting_room
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._owed_calls import OwedCalls
from scrapy_wds._wds._waiting_room import (
    RELEASE_ATTEMPTS,
    RELEASE_RETRY_DELAY,
    NotNow,
    WaitingRoom,
)

from .test_owed_calls import Owner, owed


def room_on(
    clock: Clock,
    release: Callable[[Request], None],
    give_up: Callable[[Request, Exception], None] | None = None,
) -> WaitingRoom:
    # Clock.callLater is typed to return the IDelayedCall interface, the room's
    # protocol asks for the DelayedCall class, which is what Clock really returns.
    return WaitingRoom(cast(_waiting_room.Clock, clock), release, give_up)


def always(error: Exception) -> Callable[[Request], None]:
    def release(request: Request) -> None:
        raise error

    return release


def make_room() -> tuple[Clock, WaitingRoom, list[str]]:
    clock = Clock()
    released: list[str] = []
    return clock, room_on(clock, lambda r: released.append(r.url)), released


def test_releases_in_due_order_with_a_single_timer() -> None:
    clock, room, released = make_room()
    for i, delay in enumerate([3.0, 1.0, 2.0, 1.0]):
        room.park(Request(f"http://x/{i}"), delay)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(1.0)
    assert released == ["http://x/1", "http://x/3"]  # ties keep parking order
    clock.advance(1.0)
    clock.advance(1.0)
    assert released[2:] == ["http://x/2", "http://x/0"]
    assert len(room) == 0 and clock.getDelayedCalls() == []


def test_an_earlier_request_rearms_the_timer() -> None:
    clock, room, released = make_room()
    room.park(Request("http://x/late"), 10)
    room.park(Request("http://x/early"), 1)
    clock.advance(1)
    assert released == ["http://x/early"]
    assert len(clock.getDelayedCalls()) == 1


def test_a_failed_release_keeps_the_request_and_tries_again() -> None:
    clock = Clock()
    refuse = [True]
    released: list[str] = []

    def release(request: Request) -> None:
        if refuse[0]:
            raise RuntimeError("engine not ready")
        released.append(request.url)

    room = room_on(clock, release)
    room.park(Request("http://x/a"), 0.5)
    clock.advance(0.5)
    assert len(room) == 1 and released == []
    refuse[0] = False
    clock.advance(RELEASE_RETRY_DELAY)
    assert released == ["http://x/a"] and len(room) == 0


def test_close_keeps_what_could_not_be_released() -> None:
    clock = Clock()
    room = room_on(clock, lambda r: (_ for _ in ()).throw(RuntimeError("closing")))
    room.park(Request("http://x/a"), 0.5)
    clock.advance(1)
    left = room.close()
    assert [(d, r.url) for d, r in left] == [(0.0, "http://x/a")]
    assert clock.getDelayedCalls() == []


def test_close_reports_remaining_delays_and_stops_releasing() -> None:
    clock, room, released = make_room()
    room.park(Request("http://x/a"), 5)
    clock.advance(2)
    assert [(d, r.url) for d, r in room.close()] == [(3.0, "http://x/a")]
    room.park(Request("http://x/b"), 0)
    clock.advance(1)
    assert released == []


def test_a_release_that_keeps_failing_is_given_up_once_and_the_others_still_go() -> None:
    clock = Clock()
    given_up: list[tuple[str, str]] = []
    released: list[str] = []

    def release(request: Request) -> None:
        if request.url.endswith("/broken"):
            raise OSError("queue file is damaged")
        released.append(request.url)

    room = room_on(clock, release, lambda r, e: given_up.append((r.url, str(e))))
    room.park(Request("http://x/broken"), 0)
    room.park(Request("http://x/fine"), 0)
    for _ in range(RELEASE_ATTEMPTS - 1):
        clock.advance(RELEASE_RETRY_DELAY)
    assert given_up == [] and len(room) == 2 and released == []  # the head blocks: kept
    clock.advance(RELEASE_RETRY_DELAY)
    assert given_up == [("http://x/broken", "queue file is damaged")]
    assert released == ["http://x/fine"] and len(room) == 0
    assert clock.getDelayedCalls() == []  # nothing left to try: no timer spins


def test_an_engine_not_running_yet_keeps_the_request_parked_without_limit() -> None:
    clock = Clock()
    given_up: list[Request] = []
    room = room_on(clock, always(NotNow("starting")), lambda r, e: given_up.append(r))
    room.park(Request("http://x/a"), 0)
    for _ in range(3 * RELEASE_ATTEMPTS):
        clock.advance(RELEASE_RETRY_DELAY)
    assert given_up == [] and len(room) == 1
    assert [r.url for _, r in room.close()] == ["http://x/a"]  # at close it stays owed


def test_a_call_the_scheduler_keeps_refusing_ends_the_crawl_incomplete_and_stays_owed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hang: a broken JOBDIR queue refuses every push; the spider must still close."""
    crawler = get_crawler(Owner)
    crawler.spider = Owner.from_crawler(crawler)
    pushes: list[Request] = []

    def crawl(request: Request) -> None:
        pushes.append(request)
        raise ValueError("could not push to requests.queue/p0")

    # An engine that runs, is not closing, and whose scheduler refuses every push.
    crawler.engine = SimpleNamespace(  # type: ignore[assignment]
        running=True, _slot=SimpleNamespace(closing=None), crawl=crawl
    )
    ledger = MemoryLedger()
    ledger.record(issued=[owed("t1")])
    clock = Clock()
    calls: OwedCalls | None = None

    def release(request: Request) -> None:
        assert calls is not None
        calls.send_again(request, lambda r: r)

    room = room_on(clock, release, lambda r, e: calls.release_failed(r, e) if calls else None)
    calls = OwedCalls(crawler, ledger, room)
    request = calls._request(owed("t1"))
    assert ledger.claim("t1")
    ledger.park(owed("t1"))
    room.park(request, 0)
    with caplog.at_level(logging.ERROR):
        for _ in range(RELEASE_ATTEMPTS + 5):
            clock.advance(RELEASE_RETRY_DELAY)
    assert len(pushes) == RELEASE_ATTEMPTS and len(room) == 0
    assert clock.getDelayedCalls() == []
    assert crawler.stats.get_value("wds/ledger/unsendable") == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "ValueError: could not push" in line and "requests.queue" in line
    assert "wds_incomplete" in line
    with pytest.raises(CloseSpider) as closing:
        calls.spider_idle()
    assert closing.value.reason == "wds_incomplete"
    assert ledger.owed() == 1 and "t1" in ledger.parked  # a resumed run sends it again


def test_a_closing_engine_is_not_handed_parked_requests() -> None:
    crawler = get_crawler(Owner)
    pushes: list[Request] = []
    crawler.engine = SimpleNamespace(  # type: ignore[assignment]
        running=True, _slot=SimpleNamespace(closing=object()), crawl=pushes.append
    )
    calls = OwedCalls(crawler, MemoryLedger(), room_on(Clock(), lambda r: None))
    with pytest.raises(NotNow):
        calls.send_again(Request("http://x/a", meta={"wds": {}}), lambda r: r)
    assert pushes == []
