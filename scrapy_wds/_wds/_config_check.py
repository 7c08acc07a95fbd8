"""A WDS crawl's settings and declarations, checked at spider open, refused in one line.

A mistake in a setting (``WDS_POLL_FIRST_DELAY = 0``), in Scrapy's own
concurrency settings, or in what the spider declares (its ``JobConfig``,
rules, callbacks, job name) is reported as ONE error line that names the
setting or field, and the spider closes with :data:`BAD_CONFIG_REASON`
before anything is sent.  Nothing raises out of ``from_crawler`` or
``start()``: Scrapy would print a traceback for that (and before Scrapy
2.18 it ignores a ``CloseSpider`` raised from ``start()``), so the spider
is closed through the engine instead, which every supported Scrapy honours.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import Spider, signals
from scrapy.exceptions import CloseSpider
from scrapy.settings import BaseSettings

from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._callbacks import WdsSpiderError
from scrapy_wds._wds._items import WdsItemError
from scrapy_wds._wds._job_config import JobConfigError
from scrapy_wds._wds._selectors import WdsSelectorError
from scrapy_wds._wds._settings import WdsSettings, WdsSettingsError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Close reason of a crawl refused for a mistake in its settings or declarations
#: (also when a callback's mistake stops it, and when the server refuses the job start).
BAD_CONFIG_REASON = "wds_bad_config"
#: Close reason of a crawl whose job start never reached a working WDS API.
UNREACHABLE_REASON = "wds_unreachable"
#: Mistakes in the spider's own code or declarations, as opposed to answers.
DECLARATION_MISTAKES = (JobConfigError, WdsSpiderError, WdsSelectorError, WdsItemError)

#: Scrapy settings that must be a whole number of at least this much.  Zero
#: concurrency would copy into the API's download slot and hang the crawl.
_AT_LEAST = {
    "CONCURRENT_REQUESTS": 1,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "CONCURRENT_ITEMS": 1,
    "CONCURRENT_REQUESTS_PER_IP": 0,
}
#: Where requests would go if bad settings were ever used: nowhere (``.invalid``
#: never resolves).  The crawl is refused at open, so nothing is sent anyway.
_NOWHERE = "http://wds-settings-are-invalid.invalid/"

#: Crawlers refused so far, with their close reason: one error line per crawl.
_refused: WeakKeyDictionary[Crawler, str] = WeakKeyDictionary()


def whole_number_problem(name: str, raw: Any, least: int) -> str | None:
    """A text naming ``name`` if ``raw`` is not a whole number ≥ ``least``."""
    number: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        number = int(raw)
    if number is None or number < least:
        return f"{name} must be a whole number ≥ {least}, got {raw!r}"
    return None


def concurrency_mistakes(settings: BaseSettings) -> list[str]:
    problems = []
    for name, least in _AT_LEAST.items():
        if settings.get(name) is None:
            continue  # a setting this Scrapy version does not have
        problem = whole_number_problem(name, settings.get(name), least)
        if problem:
            problems.append(problem)
    slots = settings.get("DOWNLOAD_SLOTS") or {}
    if not problems and isinstance(slots, (dict, BaseSettings)):
        for host, slot in dict(slots).items():
            if isinstance(slot, dict) and "concurrency" in slot:
                problem = whole_number_problem(
                    f"DOWNLOAD_SLOTS[{host!r}]['concurrency']", slot["concurrency"], 1
                )
                if problem:
                    problems.append(problem)
    return problems


def setting_mistakes(settings: BaseSettings) -> list[str]:
    """One text per bad setting this crawl depends on; empty when all are usable."""
    problems = []
    try:
        WdsSettings.from_settings(settings)
    except WdsSettingsError as exc:
        problems.extend(exc.problems)
    return problems + concurrency_mistakes(settings)


def is_refused(crawler: Crawler) -> bool:
    return crawler in _refused


def refuse(crawler: Crawler, problem: str, reason: str = BAD_CONFIG_REASON) -> None:
    """Log ``problem`` once as an ERROR line and close the spider with ``reason``."""
    if crawler in _refused:
        return
    _refused[crawler] = reason
    if crawler.stats is not None:
        crawler.stats.set_value(f"wds/refused/{reason}", 1)
    logger.error("WDS crawl stopped before sending anything: %s [%s]", problem, reason)

    def keep_reason(spider: Spider) -> None:
        # An idle spider would close "finished" before close_spider() gets its turn.
        raise CloseSpider(reason)

    crawler.signals.connect(keep_reason, signal=signals.spider_idle, weak=False)
    close_spider(crawler, reason)


def close_spider(crawler: Crawler, reason: str, *, tries: int = 200) -> None:
    """Close the crawl's spider with ``reason``, once the engine runs.

    Called from a signal handler or ``start()``; an engine that is not
    running yet (spider_opened) is asked again shortly, since closing a spider
    before the engine starts leaves the engine waiting for nothing.
    """
    from twisted.internet import reactor

    try:
        engine = crawler.engine
    except RuntimeError:  # Scrapy ≥ 2.14 raises before the crawl starts
        engine = None
    if engine is None or not engine.running or engine.spider is None:
        if tries > 0 and crawler.crawling:
            reactor.callLater(0.01, close_spider, crawler, reason, tries=tries - 1)  # type: ignore[attr-defined,arg-type]
        return
    close_async = getattr(engine, "close_spider_async", None)
    if close_async is not None:  # Scrapy ≥ 2.14; close_spider() is deprecated there
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(close_async(reason=reason))
    else:
        engine.close_spider(engine.spider, reason)


def settings_or_refuse(crawler: Crawler) -> WdsSettings:
    """The crawl's WDS settings; with a mistake, the crawl is refused and placeholders returned."""
    problems = setting_mistakes(crawler.settings)
    if not problems:
        return WdsSettings.from_settings(crawler.settings)
    refuse(crawler, "; ".join(problems))
    return WdsSettings.from_settings(BaseSettings({"WDS_API_URL": _NOWHERE}))


def api_for(settings: BaseSettings) -> WdsApi:
    """The request builder of ``settings``; never raises.

    Scrapy's feed exporter reads every attribute of the spider when it opens,
    so a property that raised would show the user a FeedExporter traceback;
    bad settings are reported by :func:`start_request_or_refuse` instead.
    """
    try:
        return WdsApi(
            settings.get("WDS_API_URL"),
            scrape_multiple_method=settings.get("WDS_SCRAPE_MULTIPLE_METHOD", "auto"),
        )
    except ValueError:
        return WdsApi(_NOWHERE)


def start_request_or_refuse(spider: Any) -> Request | None:
    """The spider's "start job" request, or ``None`` once the crawl is refused in one line."""
    crawler = spider.crawler
    if is_refused(crawler):
        return None
    problems = setting_mistakes(crawler.settings)
    if problems:
        refuse(crawler, "; ".join(problems))
        return None
    try:
        request: Request = spider.wds_start_request()
    except DECLARATION_MISTAKES as exc:
        text = str(exc)
        refuse(crawler, text if text.startswith("spider ") else f"spider {spider.name!r}: {text}")
        return None
    return request
