"""The waiting room on a fake clock: order, one timer, release failures, JOBDIR file."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from scrapy import Request, Spider
from twisted.internet.task import Clock

from scrapy_wds._wds._waiting_room import (
    RELEASE_RETRY_DELAY,
    WaitingRoom,
    load_parked,
    parked_file,
    save_parked,
)


def make_room() -> tuple[Clock, WaitingRoom, list[str]]:
    clock = Clock()
    released: list[str] = []
    return clock, WaitingRoom(clock, lambda r: released.append(r.url)), released


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

    room = WaitingRoom(clock, release)
    room.park(Request("http://x/a"), 0.5)
    clock.advance(0.5)
    assert len(room) == 1 and released == []
    refuse[0] = False
    clock.advance(RELEASE_RETRY_DELAY)
    assert released == ["http://x/a"] and len(room) == 0


def test_close_keeps_what_could_not_be_released() -> None:
    clock = Clock()
    room = WaitingRoom(clock, lambda r: (_ for _ in ()).throw(RuntimeError("closing")))
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


class _Spider(Spider):
    name = "room"

    def parse_info(self, response):  # pragma: no cover - only named
        pass

    def on_error(self, failure):  # pragma: no cover - only named
        pass


def test_jobdir_file_round_trip(tmp_path: Path) -> None:
    spider = _Spider()
    request = Request(
        "http://wds/api/v2/tasks/t%201/info",
        callback=spider.parse_info,
        errback=spider.on_error,
        meta={"wds": {"action": "info", "task": {"id": "t 1", "url": "http://s/"}, "polls": 2}},
        dont_filter=True,
    )
    save_parked(str(tmp_path), [(1.5, request)], spider)
    paused, parked = load_parked(str(tmp_path), spider)
    assert paused >= 0
    [(delay, back)] = parked
    assert delay == 1.5
    assert back.url == request.url and back.meta == request.meta and back.dont_filter
    assert back.callback == spider.parse_info and back.errback == spider.on_error


def test_foreign_jobdir_file_is_a_clear_error(tmp_path: Path) -> None:
    parked_file(str(tmp_path)).write_bytes(pickle.dumps(["something else"]))
    with pytest.raises(ValueError, match="fresh JOBDIR"):
        load_parked(str(tmp_path), _Spider())
    assert load_parked(str(tmp_path / "none"), _Spider()) == (0.0, [])
