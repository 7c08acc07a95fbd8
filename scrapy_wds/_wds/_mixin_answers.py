"""How the WDS spider mixin turns API answers into what user callbacks receive.

Every WDS request's Scrapy callback is :meth:`WdsAnswers._wds_on_answer` (a
spider method, so requests pickle); the user's callback travels as a method
*name* in ``meta["wds"]``.  Answers are read here first, so a malformed one is
logged, counted and skipped instead of reaching user code.  What one answer
leads to (follow-ups of new pages, further calls, items) is recorded in the
ledger in one write before any of it is handed to Scrapy (``_ledger_keeper``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapy_wds._wds._answers import (
    MalformedAnswer,
    load_json,
    parse_scrape_results,
    parse_status,
    parse_strings,
    parse_tasks,
)
from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._callbacks import iterate_output
from scrapy_wds._wds._config_check import BAD_CONFIG_REASON, DECLARATION_MISTAKES
from scrapy_wds._wds._errors import WdsError
from scrapy_wds._wds._follow_ups import follow_tasks
from scrapy_wds._wds._items import WdsItemError, build_item, load_item_class
from scrapy_wds._wds._ledger_keeper import LedgerKeeper, keeper_for
from scrapy_wds._wds._task import META_KEY
from scrapy_wds._wds._waiting_room import SetAside

#: Finish reason of a crawl stopped by a set-up mistake (bad JobConfig, rules…).
START_ERROR_REASON = BAD_CONFIG_REASON
#: Mistakes in the spider's own code or declarations, as opposed to answers.
SETUP_MISTAKES = DECLARATION_MISTAKES


class WdsAnswers:
    """The answer side of :class:`~scrapy_wds._wds._mixin.WdsSpiderMixin`."""

    #: Set once a callback mistake has stopped the crawl, so it is reported once.
    _wds_stopping: bool = False

    # Provided by scrapy.Spider and the mixin.
    name: str
    crawler: Any
    logger: Any

    @property
    def _wds_api(self) -> WdsApi:
        raise NotImplementedError  # the mixin builds it from the settings

    @property
    def _wds_keeper(self) -> LedgerKeeper:
        return keeper_for(self.crawler)

    async def _wds_on_answer(self, response: Response, **cb_kwargs: Any) -> AsyncIterator[Any]:
        wds = response.meta[META_KEY]
        action = wds.get("action")
        stats = self.crawler.stats
        # The whole output is collected first: the ledger records what one
        # answer led to in one write, before any of it is handed to Scrapy.
        produced: list[Any] = []
        failed: Exception | None = None
        try:
            if action in ("start", "crawl"):
                output: Any = self._wds_follow_up(response, wds, cb_kwargs)
            elif action == "scrape_multiple":
                output = self._wds_item(response, wds)
            elif action in ("info", "scrape"):
                output = self._wds_user_callback(response, wds, cb_kwargs)
            else:
                raise MalformedAnswer(f"the request has an unknown WDS action {action!r}")
            async for element in iterate_output(output):
                produced.append(element)
        except MalformedAnswer as exc:
            stats.inc_value(f"wds/malformed_answers/{action}")
            self.logger.warning(
                "Skipped a malformed WDS %s answer (%s): %s", action, _about(wds), exc
            )
        except SETUP_MISTAKES as exc:
            raise self._wds_stop_for_mistake(response, wds, exc) from None
        except Exception as exc:
            # The user's callback failed part-way: what it made so far goes
            # on, then Scrapy reports its error as for any callback.  Asking
            # WDS again would only fail the same way, so the call is settled.
            failed = exc
        for element in self._wds_keeper.answered(response, produced):
            yield element
        if failed is not None:
            raise failed

    def _wds_stop_for_mistake(
        self, response: Response, wds: Mapping[str, Any], mistake: Exception
    ) -> CloseSpider:
        """A mistake in a callback (a bad selector, say) fails on every page alike.

        Stop at the first one with one line, instead of a traceback per page,
        and schedule the request again, so that a fixed spider resumed from
        the same JOBDIR redoes this page instead of finding it already seen.
        """
        assert self.crawler.engine is not None
        request = response.request
        if request is not None:
            # Only the headers the request was built with: the downloader
            # middleware added the WDS_API_HEADERS, which must not be saved.
            built = {
                k: request.headers[k] for k in ("Accept", "Content-Type") if k in request.headers
            }
            self.crawler.engine.crawl(request.replace(headers=built, dont_filter=True))
        if not self._wds_stopping:
            self._wds_stopping = True
            self.crawler.stats.inc_value("wds/callback_mistakes")
            self.logger.error(
                "WDS spider %r stops: callback %r has a mistake: %s",
                self.name,
                wds.get("callback"),
                mistake,
            )
        return CloseSpider(START_ERROR_REASON)

    def _wds_follow_up(
        self, response: Response, wds: Mapping[str, Any], cb_kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        tasks, problems = parse_tasks(load_json(response.body))
        stats = self.crawler.stats
        for problem in problems:
            stats.inc_value(f"wds/malformed_answers/{wds['action']}")
            self.logger.warning(
                "Skipped a malformed task in a WDS %s answer (%s): %s",
                wds["action"],
                _about(wds),
                problem,
            )
        if wds["action"] == "start":
            stats.inc_value("wds/jobs/started")
        job = str(wds.get("job", ""))
        # Each page once per job, whatever id WDS gives it this time.
        tasks = self._wds_keeper.new_pages(job, tasks, url_of=lambda task: task.url)
        follow = {"callback": wds["callback"], "follow_up": True}
        if "errback" in wds:
            follow["errback"] = wds["errback"]
        # The task's info call, or its callback at once (see _follow_ups).
        return follow_tasks(self, job, tasks, follow, cb_kwargs, reraise=SETUP_MISTAKES)

    def _wds_user_callback(
        self, response: Response, wds: Mapping[str, Any], cb_kwargs: dict[str, Any]
    ) -> Any:
        body = load_json(response.body)
        if wds["action"] == "info":
            status = parse_status(body)
            if wds.get("follow_up"):
                self.crawler.stats.inc_value(f"wds/tasks/{status.state.stat_name}")
        else:
            self.crawler.stats.inc_value("wds/scraped_values", len(parse_strings(body)))
        callback = getattr(self, wds["callback"], None)
        if not callable(callback):
            self.logger.error(
                "WDS %s answer (%s) names callback %r, which this spider does not have",
                wds["action"],
                _about(wds),
                wds["callback"],
            )
            return None
        return callback(response, **cb_kwargs)

    def _wds_item(self, response: Response, wds: Mapping[str, Any]) -> Any:
        results = parse_scrape_results(load_json(response.body))
        try:
            item = build_item(
                load_item_class(wds.get("item_class")),
                results,
                wanted=wds.get("fields", []),
                values=wds.get("values", "first"),
                fixed=wds.get("fixed"),
            )
        except (WdsItemError, ImportError, NameError, AttributeError) as exc:
            self.crawler.stats.inc_value("wds/items/failed")
            self.logger.error("Could not build an item (%s): %s", _about(wds), exc)
            return None
        self.crawler.stats.inc_value("wds/items")
        return item

    def _wds_on_error(self, failure: Failure) -> Any:
        if isinstance(failure.value, SetAside):
            return None  # a copy of the call carries on
        request = getattr(failure, "request", None)
        self._wds_keeper.failed(request)
        wds = request.meta.get(META_KEY, {}) if request is not None else {}
        action = wds.get("action", "unknown")
        status = getattr(failure.value, "status", None)
        reason = status if status is not None else type(failure.value).__name__
        stats = self.crawler.stats
        stats.inc_value(f"wds/failed/{action}")
        if wds.get("follow_up"):
            stats.inc_value(f"wds/tasks/failed/{reason}")
        # The downloader middleware already logged its own typed errors (page
        # URL and server text included); repeat them only at debug level.
        level = logging.DEBUG if isinstance(failure.value, WdsError) else logging.WARNING
        self.logger.log(level, "WDS %s failed (%s): %s", action, _about(wds), failure.value)
        errback = getattr(self, wds.get("errback") or "", None)
        return errback(failure) if callable(errback) else None


def _about(wds: Mapping[str, Any]) -> str:
    task = wds.get("task")
    if isinstance(task, Mapping):
        return f"job {wds.get('job')!r}, task {task.get('id')!r} of {task.get('url')!r}"
    return f"job {wds.get('job')!r}"
