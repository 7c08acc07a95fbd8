"""The WDS ledger in redis (``RedisLedger``), as several workers share it, against a real redis-server.

Each test plays two or more workers with one ``RedisLedger`` each, on one
private redis-server, and checks the rules that make a shared crawl lose
nothing and do nothing twice: one first sight per page, one copy of a ticket
in flight, a shared room any worker releases, a dead worker's claims handed
back, orphans only after a grace.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from scrapy_wds._wds._ledger import Owed, make_ticket, page_of
from scrapy_wds._wds._ledger_redis import RedisLedger

API = "http://wds.invalid/api/v2/"
SECRET = "wds-secret-token-0b7e"


class _Spider:
    name = "books"


class _Crawler:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = Settings(settings)
        self.spidercls = _Spider
        self.stats = MemoryStatsCollector(self)  # type: ignore[arg-type]


def worker(redis_url: str, **settings: Any) -> RedisLedger:
    """One worker's ledger (its own connection, its own worker id), heartbeat given."""
    all_settings = {
        "REDIS_URL": redis_url,
        "WDS_API_URL": API,
        "WDS_API_HEADERS": {"Authorization": f"Bearer {SECRET}"},
        **settings,
    }
    ledger = RedisLedger(_Crawler(all_settings))
    ledger.beat()
    return ledger


def owed(name: str, page: tuple[str, str] | None = None, **extra: Any) -> Owed:
    url = API + f"tasks/{name}/info"
    return Owed(
        make_ticket("GET", url),
        {"url": url, "meta": {"wds": {"action": "info", **extra}}},
        page=page,
    )


def test_a_page_is_first_seen_by_one_worker_and_only_its_follow_ups_are_issued(
    redis_url: str,
) -> None:
    a, b = worker(redis_url), worker(redis_url)
    home, shop = page_of("job", "http://site/"), page_of("job", "http://site/shop?b=2&a=1")
    assert a.known([home, shop]) == [False, False]

    assert a.record(pages=[home], issued=[owed("1", home)]) == [True]
    # The same page under another spelling of its URL, and a new one: only the new one's follow-up is owed.
    same_shop = page_of("job", "http://site/shop?a=1&b=2")
    flags = b.record(pages=[same_shop, home], issued=[owed("2", same_shop), owed("3", home)])
    assert flags == [True, False]
    assert a.owed() == b.owed() == 2
    assert b.known([home, shop, page_of("other job", "http://site/")]) == [True, True, False]
    # A page listed twice in one answer is new once, and its follow-up is issued.
    twice = page_of("job", "http://site/twice")
    assert b.record(pages=[twice, twice], issued=[owed("5", twice)]) == [True, False]
    assert a.owed() == 3
    # A follow-up tied to a page this call did not list is never issued.
    b.record(issued=[owed("4", page_of("job", "http://site/elsewhere"))])
    assert a.owed() == 3


def test_many_workers_racing_over_the_same_pages_follow_each_once(redis_url: str) -> None:
    pages = [page_of("job", f"http://site/book/{n}") for n in range(60)]
    ledgers = [worker(redis_url) for _ in range(6)]
    firsts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def follow(ledger: RedisLedger) -> None:
        for page in pages:
            flags = ledger.record(pages=[page], issued=[owed(page[1], page)])
            if flags[0]:
                with lock:
                    firsts[page] += 1

    threads = [threading.Thread(target=follow, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert firsts == Counter(dict.fromkeys(pages, 1))
    assert ledgers[0].owed() == len(pages)


def test_one_copy_of_a_ticket_is_in_flight_and_a_settled_one_never_again(redis_url: str) -> None:
    a, b = worker(redis_url), worker(redis_url)
    call = owed("1")
    a.record(issued=[call])
    assert a.claim(call.ticket) is True
    assert b.claim(call.ticket) is False  # in flight with worker a
    assert a.claim(call.ticket) is False  # a second copy in the same worker, too

    assert b.is_owed(call.ticket) and not b.is_owed("never-issued")
    parent_done = a.record(issued=[owed("2")], settled=[call.ticket])
    assert parent_done == []
    assert a.is_settled(call.ticket) and b.is_settled(call.ticket) and not b.is_owed(call.ticket)
    assert b.claim(call.ticket) is False
    # Issuing a settled ticket again (an answer processed twice) changes nothing.
    b.record(issued=[call])
    assert a.owed() == 1 and b.claim(call.ticket) is False
    # A ticket the ledger never saw goes through, untracked.
    assert b.claim("never-issued") is True and b.claim("never-issued") is True


def test_any_worker_takes_due_tickets_from_the_shared_room_once(redis_url: str) -> None:
    a, b = worker(redis_url), worker(redis_url)
    soon, later = owed("soon"), owed("later")
    a.record(issued=[soon, later])
    assert a.claim(soon.ticket) and a.claim(later.ticket)
    polled = Owed(soon.ticket, {**soon.request, "polls": 1}, due=time.time() + 0.3)
    a.park(polled)
    a.park(Owed(later.ticket, later.request, due=time.time() + 3600))

    assert b.claim(soon.ticket) is False  # parked: a copy from a queue is dropped
    assert b.due(time.time()) == []
    time.sleep(0.4)
    taken = b.due(time.time())
    assert [(t.ticket, t.request) for t in taken] == [(soon.ticket, polled.request)]
    assert a.due(time.time()) == []  # taken once
    assert a.unpark(soon.ticket) is False  # a's own timer fires later: b sends it, a drops it
    assert b.claim(soon.ticket) is True

    # The worker that parked a ticket sends it itself when its own timer is first.
    assert a.unpark(later.ticket) is True
    assert b.due(time.time() + 7200) == [] and b.unpark(later.ticket) is False
    assert a.claim(later.ticket) is True


def test_a_dead_workers_claims_go_back_to_the_room_for_the_live_ones(redis_url: str) -> None:
    dead, live = worker(redis_url, WDS_WORKER_TIMEOUT=0.3), worker(redis_url)
    calls = [owed(str(n)) for n in range(3)]
    dead.record(issued=calls)
    for call in calls[:2]:
        assert dead.claim(call.ticket)
    assert live.beat() == []  # dead's heartbeat is still fresh
    time.sleep(0.5)  # dead is SIGKILLed: no beat

    assert sorted(live.beat()) == sorted(c.ticket for c in calls[:2])
    assert live.stats.get_value("wds/ledger/taken_over") == 2
    assert sorted(t.ticket for t in live.due(time.time())) == sorted(c.ticket for c in calls[:2])
    assert all(live.claim(c.ticket) for c in calls[:2])
    assert live.beat() == []  # taken over once


def test_orphans_are_handed_out_after_the_grace_once(redis_url: str) -> None:
    a = worker(redis_url, WDS_ORPHAN_GRACE=0.3)
    b = worker(redis_url, WDS_ORPHAN_GRACE=0.3)
    queued, parked, claimed = owed("queued"), owed("parked"), owed("claimed")
    a.record(issued=[queued, parked, claimed])
    assert a.claim(parked.ticket) and a.claim(claimed.ticket)
    a.park(Owed(parked.ticket, parked.request, due=time.time() + 3600))
    assert b.orphans() == []  # just issued: it may be in a queue right now

    time.sleep(0.4)
    assert [o.ticket for o in b.orphans()] == [queued.ticket]
    assert a.orphans() != []  # a is idle: its own claim is stale, an orphan at once
    assert b.orphans() == []  # each handed out once per grace


def test_a_worker_that_closes_hands_its_claims_back_and_keeps_what_is_owed(redis_url: str) -> None:
    a, b = worker(redis_url), worker(redis_url)
    call = owed("1")
    a.record(issued=[call])
    assert a.claim(call.ticket)
    a.close(graceful=True)
    assert [t.ticket for t in b.due(time.time())] == [call.ticket]
    assert b.owed() == 1
    b.record(settled=[call.ticket])
    client = redis.Redis.from_url(redis_url)
    assert client.keys("books:wds:*") != []
    b.close(graceful=True)  # SCHEDULER_PERSIST is off and nothing is owed: the ledger goes
    assert client.keys("books:wds:*") == []


def test_persist_keeps_the_ledger_and_flush_on_start_removes_it(redis_url: str) -> None:
    a = worker(redis_url, SCHEDULER_PERSIST=True)
    a.record(pages=[page_of("job", "http://site/")], settled=["start"])
    a.close(graceful=True)
    again = worker(redis_url, SCHEDULER_PERSIST=True)
    assert again.is_settled("start") and again.known([page_of("job", "http://site/")]) == [True]
    assert again.flush() > 0
    assert not again.is_settled("start")


def test_no_secret_header_value_is_ever_written_to_redis(redis_url: str) -> None:
    a = worker(redis_url)
    leaky = owed("1", headers={"Authorization": f"Bearer {SECRET}"})
    with pytest.raises(ValueError, match="WDS_API_HEADERS"):
        a.record(issued=[leaky])
    a.record(issued=[owed("2")])
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("*")
    assert keys
    for key in keys:
        assert SECRET.encode() not in (client.dump(key) or b""), key


def test_bad_timing_settings_name_the_setting(redis_url: str) -> None:
    with pytest.raises(ValueError, match="WDS_WORKER_TIMEOUT must be a number of seconds"):
        worker(redis_url, WDS_WORKER_TIMEOUT="soon")
    with pytest.raises(ValueError, match="WDS_ORPHAN_GRACE"):
        worker(redis_url, WDS_ORPHAN_GRACE=0)


def test_flushing_a_spiders_ledger_leaves_other_spiders_keys_alone(redis_url: str) -> None:
    class Globby:
        name = "bo*ks"

    crawler = _Crawler({"REDIS_URL": redis_url, "WDS_API_URL": API})
    crawler.spidercls = Globby  # type: ignore[assignment]
    globby, books = RedisLedger(crawler), worker(redis_url)
    globby.record(settled=["start"])
    books.record(settled=["start"])
    assert globby.flush() == 1
    assert books.is_settled("start") and not globby.is_settled("start")


def test_opening_starts_the_heartbeat_and_closing_ends_it(redis_url: str) -> None:
    a = RedisLedger(_Crawler({"REDIS_URL": redis_url, "WDS_API_URL": API}))
    client = redis.Redis.from_url(redis_url)
    assert a.open() == []  # what others owed comes through due() and orphans(), never twice
    assert 0 < client.pttl(a.heartbeat_key) <= 15_000
    call = owed("1")
    a.record(issued=[call])
    assert a.claim(call.ticket)
    a.close(graceful=False)
    assert not client.exists(a.heartbeat_key)
    assert client.zscore("books:wds:room", call.ticket) is not None  # handed back, due now


def test_a_worker_joining_a_finished_crawl_says_how_to_start_afresh(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    done = worker(redis_url, SCHEDULER_PERSIST=True)
    done.record(settled=["start"])
    late = RedisLedger(_Crawler({"REDIS_URL": redis_url, "WDS_API_URL": API}))
    with caplog.at_level("INFO", logger="scrapy_wds._wds._ledger_redis"):
        late.open()
    late.close(graceful=True)
    assert "nothing to do. Set SCHEDULER_FLUSH_ON_START=True" in caplog.text


def test_a_stalled_worker_taken_for_dead_no_longer_holds_its_tickets(redis_url: str) -> None:
    stalled, live = worker(redis_url, WDS_WORKER_TIMEOUT=0.3), worker(redis_url)
    call, other = owed("1"), owed("2")
    stalled.record(issued=[call, other])
    assert stalled.claim(call.ticket) and stalled.claim(other.ticket)
    assert stalled.holds(call.ticket) and not live.holds(call.ticket)
    assert live.holds("never-issued")
    time.sleep(0.5)  # stalled: no beat
    live.beat()
    [first, second] = live.due(time.time())
    assert live.claim(first.ticket)
    live.record(settled=[second.ticket])
    # Its answers come in late: neither ticket is its own any more.
    assert not stalled.holds(first.ticket) and not stalled.holds(second.ticket)
    assert live.holds(first.ticket)
    # A "not yet" it got for one cannot park it away from the worker that took it over.
    stalled.park(Owed(first.ticket, first.request, due=time.time()))
    assert live.holds(first.ticket) and live.due(time.time()) == []
