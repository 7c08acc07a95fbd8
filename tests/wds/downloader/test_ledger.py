"""The ledger's rules, the same for the memory and journal backends, and the journal's file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from scrapy import Request, Spider

from scrapy_wds._wds._ledger import Owed, make_ticket, page_of
from scrapy_wds._wds._ledger_journal import JournalLedger, journal_path
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._ledger_requests import request_from_data, request_to_data

Backend = Callable[[], MemoryLedger]


@pytest.fixture(params=["memory", "journal"])
def new_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        return MemoryLedger
    return lambda: JournalLedger(tmp_path / "job")


def owed(ticket: str, page: tuple[str, str] | None = None) -> Owed:
    return Owed(
        ticket,
        {"url": f"http://wds/{ticket}", "meta": {"wds": {"ticket": ticket}}},
        page=page,
    )


def test_a_page_is_first_seen_once_whatever_its_task_id(new_ledger: Backend) -> None:
    ledger = new_ledger()
    home = page_of("job", "http://site/a?b=1&a=2")
    same = page_of("job", "http://site/a?a=2&b=1")  # the same page, canonically
    assert home == same
    assert ledger.record(pages=[home], issued=[owed("t1", home)]) == [True]
    assert ledger.record(pages=[same], issued=[owed("t2", same)]) == [False]
    assert ledger.known([home, page_of("other job", "http://site/a?a=2&b=1")]) == [
        True,
        False,
    ]
    assert ledger.owed() == 1  # t2 was for a known page: not issued


def test_tickets_are_claimed_once_and_settled_for_good(new_ledger: Backend) -> None:
    ledger = new_ledger()
    ledger.record(issued=[owed("t1")])
    assert ledger.claim("t1") is True
    assert ledger.claim("t1") is False  # another copy is in flight
    ledger.park(owed("t1"))
    assert ledger.claim("t1") is False  # parked: the room sends it
    assert ledger.unpark("t1") is True
    assert ledger.unpark("t1") is False
    assert ledger.claim("t1") is True
    ledger.record(settled=["t1"])
    assert ledger.claim("t1") is False and ledger.is_settled("t1") and ledger.owed() == 0
    ledger.record(issued=[owed("t1")])  # issued again: stays settled
    assert ledger.owed() == 0
    assert ledger.claim("never-issued") is True  # built outside a WDS callback: let through


def test_orphans_are_owed_tickets_nothing_carries(new_ledger: Backend) -> None:
    ledger = new_ledger()
    ledger.record(issued=[owed("queued"), owed("lost"), owed("parked")])
    ledger.claim("lost")  # its copy vanished without an answer
    ledger.claim("parked")
    ledger.park(owed("parked"))
    assert sorted(o.ticket for o in ledger.orphans()) == ["lost", "queued"]
    assert ledger.claim("lost") is True  # the stale claim was dropped


def test_the_journal_resumes_what_is_owed_after_a_kill(tmp_path: Path) -> None:
    first = JournalLedger(tmp_path)
    home = page_of("job", "http://site/")
    first.record(pages=[home], issued=[owed("start-answer", home), owed("waits")])
    first.claim("waits")
    first.park(Owed("waits", owed("waits").request, due=123.0))
    first.record(issued=[owed("done")])
    first.record(settled=["done"])
    # No close: the process was killed.  A half-written last line is ignored.
    with journal_path(tmp_path).open("a") as f:
        f.write('{"p":[["job","http://site/x"')
    second = JournalLedger(tmp_path)
    resumed = {o.ticket: o.due for o in second.open()}
    assert resumed == {"start-answer": None, "waits": 123.0}
    assert second.known([home, page_of("job", "http://site/x")]) == [True, False]
    assert second.is_settled("done") and second.claim("done") is False
    # Resumed tickets count as parked until the room releases them.
    assert second.claim("waits") is False and second.unpark("waits") and second.claim("waits")


def test_a_graceful_close_compacts_the_journal_to_what_is_known(tmp_path: Path) -> None:
    ledger = JournalLedger(tmp_path)
    for n in range(20):
        page = page_of("job", f"http://site/{n}")
        ledger.record(pages=[page], issued=[owed(f"t{n}", page)])
        ledger.record(settled=[f"t{n}"])
    ledger.record(issued=[owed("left")])
    ledger.close(graceful=True)
    lines = journal_path(tmp_path).read_text().splitlines()
    assert len(lines) == 1
    again = JournalLedger(tmp_path)
    assert [o.ticket for o in again.open()] == ["left"]
    assert again.is_settled("t7") and again.known([page_of("job", "http://site/7")]) == [True]


class _Spider(Spider):
    name = "ledger"

    def on_answer(self, response):  # type: ignore[no-untyped-def]  # pragma: no cover
        pass

    def on_error(self, failure):  # type: ignore[no-untyped-def]  # pragma: no cover
        pass


def test_requests_round_trip_as_json_without_credentials() -> None:
    spider = _Spider()
    request = Request(
        "http://wds/api/v2/jobs/j/start",
        method="POST",
        body='{"StartUrls": ["http://s/"]}',
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer secret-42",
        },
        meta={
            "wds": {"action": "start", "job": "j", "ticket": "abc"},
            "dont_cache": True,
            "download_slot": "wds",
        },
        callback=spider.on_answer,
        errback=spider.on_error,
        cb_kwargs={"n": 1},
        priority=3,
    )
    data = json.loads(json.dumps(request_to_data(request)))
    assert "secret-42" not in json.dumps(data)
    back = request_from_data(data, spider)
    assert (back.url, back.method, back.body, back.priority, back.cb_kwargs) == (
        request.url,
        "POST",
        request.body,
        3,
        {"n": 1},
    )
    assert back.meta == {"wds": request.meta["wds"], "dont_cache": True}
    assert back.callback == spider.on_answer and back.errback == spider.on_error
    assert back.dont_filter and "Authorization" not in back.headers


def test_tickets_name_the_call() -> None:
    assert make_ticket("GET", "http://a/1") == make_ticket("get", "http://a/1")
    assert make_ticket("GET", "http://a/1") != make_ticket("GET", "http://a/2")
    assert make_ticket("POST", "http://a/1", b"x") != make_ticket("POST", "http://a/1", b"y")
    assert make_ticket("GET", "http://a/1", unique=True) != make_ticket(
        "GET", "http://a/1", unique=True
    )
