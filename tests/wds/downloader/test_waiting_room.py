"""The waiting room on a fake clock: order, one timer, release failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from scrapy import Request
from twisted.internet.task import Clock

from scrapy_wds._wds import _waiting_room
from scrapy_wds._wds._waiting_room import RELEASE_RETRY_DELAY, WaitingRoom


def room_on(clock: Clock, release: Callable[[Request], None]) -> WaitingRoom:
    # Clock.callLater is typed to return the IDelayedCall interface, the room's
    # protocol asks for the DelayedCall class, which is what Clock really returns.
    return WaitingRoom(cast(_waiting_room.Clock, clock), release)


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
