"""What the crawl owes at its end: gaps asked again, given up after 3 tries, ``wds_incomplete``."""

from __future__ import annotations

from typing import Any

import pytest
import scrapy
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.utils.test import get_crawler
from twisted.internet.task import Clock

from scrapy_wds._wds._ledger import Owed
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._owed_calls import REISSUE_LIMIT, OwedCalls
from scrapy_wds._wds._waiting_room import WaitingRoom


class Owner(scrapy.Spider):
    name = "owner"

    def on_answer(self, response: Any) -> None:  # pragma: no cover - only named
        pass


class Engine:
    running = True

    def __init__(self) -> None:
        self.crawled: list[scrapy.Request] = []

    def crawl(self, request: scrapy.Request) -> None:
        self.crawled.append(request)


def owed_calls() -> tuple[OwedCalls, MemoryLedger, Engine, WaitingRoom]:
    crawler = get_crawler(Owner)
    crawler.spider = Owner.from_crawler(crawler)
    engine = Engine()
    crawler.engine = engine  # type: ignore[assignment]
    ledger = MemoryLedger()
    room = WaitingRoom(Clock(), engine.crawl)  # type: ignore[arg-type]
    return OwedCalls(crawler, ledger, room), ledger, engine, room


def owed(ticket: str) -> Owed:
    meta = {
        "wds": {
            "action": "info",
            "job": "j",
            "task": {"id": ticket, "url": f"http://s/{ticket}"},
            "ticket": ticket,
        }
    }
    return Owed(ticket, {"url": f"http://wds/{ticket}/info", "meta": meta, "callback": "on_answer"})


def test_an_owed_call_nothing_carries_is_asked_again_then_given_up() -> None:
    calls, ledger, engine, _ = owed_calls()
    ledger.record(issued=[owed("lost"), owed("fine")])
    with pytest.raises(DontCloseSpider):
        calls.spider_idle()
    assert sorted(r.meta["wds"]["ticket"] for r in engine.crawled) == ["fine", "lost"]
    assert all(
        r.dont_filter and r.callback == calls.crawler.spider.on_answer for r in engine.crawled
    )
    ledger.record(settled=["fine"])  # its answer came; "lost" never answers
    for _ in range(REISSUE_LIMIT - 1):
        with pytest.raises(DontCloseSpider):
            calls.spider_idle()
    assert len(engine.crawled) == 2 + REISSUE_LIMIT - 1
    with pytest.raises(CloseSpider) as closing:
        calls.spider_idle()
    assert closing.value.reason == "wds_incomplete"
    stats = calls.crawler.stats.get_stats()
    assert stats["wds/ledger/reissued"] == 1 + REISSUE_LIMIT and stats["wds/ledger/given_up"] == 1
    assert ledger.owed() == 0


def test_the_spider_stays_open_while_the_room_holds_calls_and_closes_when_nothing_is_owed() -> None:
    calls, _, engine, room = owed_calls()
    room.park(scrapy.Request("http://wds/x"), 60)
    with pytest.raises(DontCloseSpider):
        calls.spider_idle()
    room.close()
    calls.spider_idle()  # nothing owed, nothing given up: Scrapy may close ("finished")
    assert engine.crawled == []


def test_resume_parks_owed_calls_at_their_time() -> None:
    calls, ledger, _, room = owed_calls()
    ledger.record(issued=[owed("now"), owed("later")])
    ledger.owed_tickets["later"].due = 10**10
    calls.spider_opened()
    try:
        assert len(room) == 2 and calls.crawler.stats.get_value("wds/ledger/resumed") == 2
        assert ledger.claim("now") is False  # parked until the room releases it
    finally:
        calls.spider_closed(reason="finished")


def test_request_queue_files_a_kill_left_empty_are_removed(tmp_path: Any) -> None:
    from queuelib.queue import LifoDiskQueue
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    from scrapy_wds._compat import remove_torn_request_queues

    settings = Settings({"JOBDIR": str(tmp_path)})
    # Scrapy's default disk queue is still queuelib's LifoDiskQueue with its 4-byte header:
    # when that changes, this test (and the repair) must be revisited.
    assert issubclass(load_object(settings["SCHEDULER_DISK_QUEUE"]), LifoDiskQueue)
    assert LifoDiskQueue.SIZE_SIZE == 4
    slot = tmp_path / "requests.queue" / "127.0.0.1-abc"
    slot.mkdir(parents=True)
    (slot / "0").write_bytes(b"")  # created, header never flushed: the kill's leftover
    good = LifoDiskQueue(str(slot / "1"))
    good.push(b"kept")
    good.close()
    (tmp_path / "requests.queue" / "active.json").write_text("{}")
    assert remove_torn_request_queues(settings) == [slot / "0"]
    assert sorted(p.name for p in slot.iterdir()) == ["1"]
    assert LifoDiskQueue(str(slot / "1")).pop() == b"kept"
    assert remove_torn_request_queues(Settings({})) == []
