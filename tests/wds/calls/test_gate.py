"""The task gate: a task's first call waits for the page, its other calls wait behind it."""

from __future__ import annotations

from typing import Any

import pytest
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from scrapy_wds._wds._gate import RETURNING_PRIORITY_BUMP, HeldBehindTask, TaskGate
from scrapy_wds._wds._waiting_room import NotNow
from tests.wds.downloader.test_middleware import middleware

API = "http://wds.test/api/v2/tasks/"


def call(task: str, endpoint: str, spider: Any = None, priority: int = 0) -> scrapy.Request:
    return scrapy.Request(
        f"{API}{task}/{endpoint}",
        meta={
            "wds": {
                "action": endpoint.split("?")[0],
                "job": "j",
                "task": {"id": task, "url": f"http://site/{task}"},
            }
        },
        errback=getattr(spider, "on_error", None),
        priority=priority,
    )


@pytest.fixture
def mw() -> Any:
    built, spider = middleware()
    mw: Any = built  # with two test attributes: what was released, and the spider
    mw.released = []
    mw.gate = TaskGate(mw.crawler, mw.released.append, mw.ledger, mw.room, 10.0)
    mw.spider = spider
    return mw


def answer(mw: Any, request: scrapy.Request, status: int) -> Any:
    body = b"[]" if status == 200 else b""  # a crawl answer that found no link
    return mw.process_response(
        request, Response(request.url, status=status, body=body, request=request)
    )


def test_the_second_call_of_a_pending_task_waits_behind_the_first_and_goes_when_it_is_ready(
    mw: Any,
) -> None:
    first, second = (
        call("t1", "crawl?selector=a", mw.spider),
        call("t1", "crawl?selector=b", mw.spider, priority=3),
    )
    assert mw.process_request(first) is None
    with pytest.raises(IgnoreRequest):
        answer(mw, first, 202)  # the first call waits: the task is known pending
    with pytest.raises(HeldBehindTask):
        mw.process_request(second)
    assert second.errback == mw.spider.on_error  # the request itself is never changed
    [(_, poll)] = mw.room.close()
    assert mw.released == [] and len(mw.gate) == 1
    assert mw.process_request(poll) is None  # the first call's poll goes on
    assert answer(mw, poll, 200).status == 200
    [back] = mw.released
    assert back.url == second.url and back.dont_filter and back.errback == mw.spider.on_error
    assert back.priority == 3 + RETURNING_PRIORITY_BUMP and len(mw.gate) == 0
    assert mw.process_request(back) is None  # the task is ready now: no waiting
    assert mw.process_request(call("t1", "scrape?selector=c")) is None
    stats = mw.stats.get_stats()
    # Calls made: the first, its poll, the held one once released, and the scrape.
    assert (stats["wds/calls/crawl"], stats["wds/calls/scrape"], stats["wds/gate/held"]) == (
        3,
        1,
        1,
    )


def test_a_call_racing_the_first_answer_makes_one_call_then_waits_behind(mw: Any) -> None:
    first, second = call("t1", "crawl?selector=a"), call("t1", "crawl?selector=b")
    assert mw.process_request(first) is None
    assert mw.process_request(second) is None  # nothing is known of the task yet
    for request in (first, second):
        with pytest.raises(IgnoreRequest):
            answer(mw, request, 202)
    polls = {r.url: r for _, r in mw.room.close()}
    with pytest.raises(HeldBehindTask):
        mw.process_request(polls[second.url])  # back from the room: now it waits behind
    assert mw.process_request(polls[first.url]) is None
    answer(mw, polls[first.url], 200)
    assert [r.url for r in mw.released] == [second.url]


def test_calls_of_other_tasks_and_job_starts_are_not_held(mw: Any) -> None:
    assert mw.process_request(call("t1", "info")) is None
    assert mw.process_request(call("t2", "info")) is None
    start = scrapy.Request(
        "http://wds.test/api/v2/jobs/j/start", method="POST", meta={"wds": {"action": "start"}}
    )
    assert mw.process_request(start) is None and mw.process_request(start.copy()) is None


def pending_task_with_held_calls(
    mw: Any, count: int
) -> tuple[scrapy.Request, list[scrapy.Request]]:
    first, *others = (call("t1", f"crawl?selector={s}") for s in "abcdef"[: count + 1])
    mw.process_request(first)
    with pytest.raises(IgnoreRequest):
        answer(mw, first, 202)
    for held in others:
        with pytest.raises(HeldBehindTask):
            mw.process_request(held)
    [(_, poll)] = mw.room.close()
    return poll, others


def test_when_the_first_call_fails_the_held_calls_go_and_the_next_one_leads(mw: Any) -> None:
    poll, (second, third) = pending_task_with_held_calls(mw, 2)
    mw.process_request(poll)
    with pytest.raises(IgnoreRequest):
        answer(mw, poll, 403)  # the page could not be downloaded
    assert [r.url for r in mw.released] == [second.url, third.url]
    assert mw.process_request(mw.released[0]) is None  # leads now
    with pytest.raises(IgnoreRequest):
        answer(mw, mw.released[0], 202)
    with pytest.raises(HeldBehindTask):
        mw.process_request(mw.released[1])


def test_held_calls_are_released_at_idle_when_nothing_is_parked(mw: Any) -> None:
    _, [second] = pending_task_with_held_calls(mw, 1)
    # The first call's poll was lost (the room was emptied above): idle releases the rest.
    assert mw.gate.release_stranded() == 1 and [r.url for r in mw.released] == [second.url]


def test_a_held_call_the_scheduler_refuses_goes_to_the_room_which_bounds_its_tries(
    mw: Any,
) -> None:
    _, [second] = pending_task_with_held_calls(mw, 1)

    def refuse(request: scrapy.Request) -> None:
        raise OSError("requests.queue is damaged")

    mw.gate._release = refuse
    # Kept held, it would be "released" at every idle for ever: the room tries
    # it again instead, and gives it up after RELEASE_ATTEMPTS refusals.
    assert mw.gate.release_stranded() == 1
    assert len(mw.gate) == 0 and [r.url for _, r in mw.room.close()] == [second.url]


def test_a_held_call_an_engine_not_running_refuses_stays_held(mw: Any) -> None:
    pending_task_with_held_calls(mw, 1)

    def not_now(request: scrapy.Request) -> None:
        raise NotNow("closing")

    mw.gate._release = not_now
    mw.gate.release_stranded()
    assert len(mw.gate) == 1 and len(mw.room) == 0


def test_a_poll_coming_back_gets_the_returning_bump_once() -> None:
    mw, _ = middleware()
    request = call("t1", "info")
    mw.process_request(request)
    with pytest.raises(IgnoreRequest):
        answer(mw, request, 202)
    [(_, poll)] = mw.room.close()
    from scrapy_wds._wds._gate import returning

    assert returning(poll).priority == RETURNING_PRIORITY_BUMP
    assert returning(poll).priority == RETURNING_PRIORITY_BUMP


def test_no_bump_with_a_jobdir(tmp_path: Any) -> None:
    """Each priority is a disk queue file there; a killed run may leave a new one empty."""
    mw, _ = middleware(JOBDIR=str(tmp_path / "job"))
    request = call("t1", "info")
    assert mw.gate.returning(request).priority == 0
