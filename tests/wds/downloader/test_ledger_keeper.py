"""The keeper: one write per answer, follow-ups only for new pages, items settle their call when stored."""

from __future__ import annotations

from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._ledger import Owed
from scrapy_wds._wds._ledger_keeper import LedgerKeeper
from scrapy_wds._wds._ledger_memory import MemoryLedger
from scrapy_wds._wds._ledger_requests import request_to_data
from scrapy_wds._wds._selectors import WdsSelector, parse_selector
from scrapy_wds._wds._task import WdsTask

API = WdsApi("http://wds.test/")


class Owner(scrapy.Spider):
    name = "owner"


def keeper(**settings: Any) -> tuple[LedgerKeeper, MemoryLedger, Any]:
    crawler = get_crawler(Owner, settings)
    ledger = MemoryLedger()
    return LedgerKeeper(crawler, ledger), ledger, crawler


def answer_to(request: scrapy.Request, depth: int = 0) -> TextResponse:
    request.meta["depth"] = depth
    return TextResponse(request.url, body=b"[]", request=request)


def follow_up(task_id: str, url: str) -> scrapy.Request:
    return API.info(WdsTask("job", task_id, url), wds={"follow_up": True, "callback": "parse"})


def test_one_answer_is_one_write_and_known_pages_are_not_followed() -> None:
    keeper_, ledger, crawler = keeper()
    crawl = API.crawl(WdsTask("job", "t0", "http://s/"), _selector())
    ledger.record(issued=[_owed(crawl)])
    writes: list[Any] = []
    record = ledger.record

    def counted(**kw: Any) -> list[bool]:
        writes.append(kw)
        return record(**kw)

    ledger.record = counted  # type: ignore[method-assign]
    out = keeper_.answered(
        answer_to(crawl), [follow_up("t1", "http://s/a"), follow_up("t2", "http://s/b")]
    )
    assert len(out) == 2 and len(writes) == 1
    assert writes[0]["settled"] == [crawl.meta["wds"]["ticket"]]
    # The same pages under new ids, from another answer: dropped, counted.
    other = API.crawl(WdsTask("job", "t9", "http://s/c"), _selector())
    assert keeper_.answered(answer_to(other), [follow_up("t3", "http://s/a?")]) == []
    stats = crawler.stats.get_stats()
    assert stats["wds/tasks/found"] == 2 and stats["wds/tasks/known_again"] == 1


def test_an_answer_with_items_is_settled_when_its_items_are_through_the_pipelines() -> None:
    keeper_, ledger, crawler = keeper()
    scrape = API.info(WdsTask("job", "t1", "http://s/a"))
    ledger.record(issued=[_owed(scrape)])
    ticket = scrape.meta["wds"]["ticket"]
    response = answer_to(scrape)
    assert keeper_.answered(response, [{"n": 1}, {"n": 2}]) == [{"n": 1}, {"n": 2}]
    assert ledger.owed() == 1
    crawler.signals.send_catch_log(
        signals.item_scraped, item={"n": 1}, response=response, spider=None
    )
    assert ledger.owed() == 1
    crawler.signals.send_catch_log(
        signals.item_dropped, item={"n": 2}, response=response, spider=None, exception=Exception()
    )
    assert ledger.owed() == 0 and ledger.is_settled(ticket)


def test_requests_deeper_than_depth_limit_are_not_owed() -> None:
    keeper_, ledger, _ = keeper(DEPTH_LIMIT=2)
    crawl = API.crawl(WdsTask("job", "t0", "http://s/"), _selector())
    out = keeper_.answered(answer_to(crawl, depth=2), [follow_up("t1", "http://s/a")])
    assert len(out) == 1  # Scrapy's DepthMiddleware drops it; the ledger must not wait for it
    assert ledger.owed() == 0


def _selector() -> WdsSelector:
    return parse_selector("CSS: a", where="test")


def _owed(request: scrapy.Request) -> Owed:
    return Owed(request.meta["wds"]["ticket"], request_to_data(request))


def test_the_ledger_pipeline_settles_first_and_the_signals_do_not_count_twice() -> None:
    keeper_, ledger, crawler = keeper()
    call = API.info(WdsTask("job", "t1", "http://s/a"))
    ledger.record(issued=[_owed(call)])
    response = answer_to(call)
    first, second, third = {"n": 1}, {"n": 2}, {"n": 3}
    keeper_.answered(response, [first, second, third])
    keeper_.item_stored(first)  # through every pipeline: the ledger pipeline says so
    crawler.signals.send_catch_log(signals.item_scraped, item=first, response=response, spider=None)
    assert ledger.owed() == 1
    # A pipeline handed on another object for the second item: the answer still tells.
    crawler.signals.send_catch_log(
        signals.item_scraped, item={"n": 22}, response=response, spider=None
    )
    assert ledger.owed() == 1
    crawler.signals.send_catch_log(
        signals.item_error, item=third, response=response, spider=None, failure=None
    )
    assert ledger.owed() == 0


def test_calls_the_ledger_tracks_skip_the_dupefilter_and_the_job_start_does_not() -> None:
    keeper_, ledger, _ = keeper(DEPTH_LIMIT=2)
    start = API.start("job", {"StartUrls": ["http://s/"]})
    assert keeper_.start(start) is start and not start.dont_filter
    crawl = API.crawl(WdsTask("job", "t0", "http://s/"), _selector())
    ledger.record(issued=[_owed(crawl)])
    scrape = API.scrape(WdsTask("job", "t0", "http://s/"), _selector())
    elsewhere = scrapy.Request("http://elsewhere.test/")
    out = keeper_.answered(answer_to(crawl), [follow_up("t1", "http://s/a"), scrape, elsewhere])
    # Owed from this write on: the ledger's claim lets one copy out, no fingerprint needed.
    assert [r.dont_filter for r in out] == [True, True, False]
    assert all(ledger.is_owed(r.meta["wds"]["ticket"]) for r in out[:2])
    # The same calls again (an answer processed twice): the ledger drops the copies.
    for request in out[:2]:
        assert ledger.claim(request.meta["wds"]["ticket"])
        assert not ledger.claim(request.meta["wds"]["ticket"])
    # Too deep: not owed, so left to the dupefilter (and DepthMiddleware).
    deep = API.scrape(WdsTask("job", "t5", "http://s/x"), _selector())
    keeper_.answered(answer_to(crawl, depth=2), [deep])
    assert not deep.dont_filter and not ledger.is_owed(deep.meta["wds"]["ticket"])
