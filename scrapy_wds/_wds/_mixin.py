"""``WdsSpiderMixin``: a spider that drives a WDS job.

Flow: ``start()`` sends "start job"; every task in its answer (and in every
crawl answer) becomes a *follow-up*: the task's ``info`` call, which the
downloader middleware keeps waiting (202) until WDS has downloaded the page,
and which then reaches the callback the user named with the task's status.
The follow-up of a task has one URL, so the dupefilter follows a task that
crawl returns twice only once.  From a callback, ``wds_crawl`` /
``wds_scrape`` / ``wds_scrape_multiple`` / ``wds_info`` ask more of the same
task.

Every request's Scrapy callback is :meth:`_wds_on_answer` (a spider method,
so requests pickle); the user's callback travels as a method *name* in
``meta["wds"]``.  Answers are read there first, so a malformed one is logged,
counted and skipped instead of reaching user code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cached_property
from typing import Any

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapy_wds._wds._answers import (
    MalformedAnswer,
    TaskRef,
    load_json,
    parse_scrape_results,
    parse_status,
    parse_strings,
    parse_tasks,
)
from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._callbacks import WdsSpiderError, iterate_output, method_name
from scrapy_wds._wds._errors import WdsError
from scrapy_wds._wds._follow_ups import FirstSight, follow_tasks
from scrapy_wds._wds._items import (
    WdsItemError,
    build_item,
    check_field_names,
    check_values_mode,
    item_class_path,
    load_item_class,
)
from scrapy_wds._wds._job_config import JobConfig, JobConfigError
from scrapy_wds._wds._selectors import (
    FieldSpec,
    WdsSelectorError,
    check_attribute_name,
    parse_fields,
    parse_selector,
)
from scrapy_wds._wds._task import META_KEY, NotAWdsResponse, WdsTask, task_of, wds_meta


#: Finish reason of a crawl stopped at start by a set-up mistake (bad JobConfig, rules…).
START_ERROR_REASON = "wds_config_error"
#: Mistakes in the spider's own code or declarations, as opposed to answers.
SETUP_MISTAKES = (JobConfigError, WdsSpiderError, WdsSelectorError, WdsItemError)


class WdsSpiderMixin:
    """Mix into a ``scrapy.Spider`` (before it) to crawl through a WDS job.

    Declare the job with ``wds_job = JobConfig(start_urls=[...])`` or override
    :meth:`wds_job_config`; without either, the spider's ``start_urls`` are
    used.  The job is named ``wds_job_name`` (default: the spider's name) and
    each start task reaches ``wds_start_callback`` (default ``"parse"``).
    """

    wds_job: JobConfig | None = None
    wds_job_name: str | None = None
    wds_start_callback: str = "parse"
    #: ``False``: every task's callback is called without its ``info`` call first
    #: (a stand-in response, no task state); see ``wds_skip_info`` for one callback.
    wds_info_first: bool = True
    #: Set once a callback mistake has stopped the crawl, so it is reported once.
    _wds_stopping: bool = False

    # Provided by scrapy.Spider.
    name: str
    crawler: Any
    logger: Any
    settings: Any

    # -- starting the job ---------------------------------------------------

    def wds_job_config(self) -> JobConfig:
        """The job's config; override to build it from settings."""
        if self.wds_job is not None:
            return self.wds_job
        start_urls = getattr(self, "start_urls", None)
        if not start_urls:
            raise JobConfigError(
                f"spider {self.name!r} declares no WDS job: set wds_job = JobConfig("
                "start_urls=[...]) on it, override wds_job_config(), or set start_urls"
            )
        return JobConfig(start_urls=list(start_urls))

    def wds_check(self) -> None:
        """Checks run at start, before the job is sent; extend to check more."""
        method_name(self, self.wds_start_callback, where="wds_start_callback")

    async def start(self) -> AsyncIterator[Any]:
        try:
            request = self.wds_start_request()
        except SETUP_MISTAKES as exc:
            # A set-up mistake: one line that names it, not a traceback, and a
            # finish reason that says why the crawl stopped.
            self.logger.error("WDS spider %r cannot start: %s", self.name, exc)
            raise CloseSpider(START_ERROR_REASON) from None
        yield request

    def wds_start_request(self) -> Request:
        """The "start job" request, after every check (raises naming what is wrong)."""
        config = self.wds_job_config()
        if not isinstance(config, JobConfig):
            raise JobConfigError(f"wds_job_config() must return a JobConfig, not {config!r}")
        wire = config.to_wire()
        job = self.wds_job_name or self.name
        if not isinstance(job, str) or not job.strip():
            raise WdsSpiderError("wds_job_name must be a non-empty string (it names the WDS job)")
        self.wds_check()
        return self._wds_api.start(
            job.strip(), wire, **self._wds_request_args(self.wds_start_callback, {}, "start")
        )

    @cached_property
    def _wds_api(self) -> WdsApi:
        try:
            return WdsApi(
                self.settings.get("WDS_API_URL"),
                scrape_multiple_method=self.settings.get("WDS_SCRAPE_MULTIPLE_METHOD", "auto"),
            )
        except ValueError as exc:
            raise WdsSpiderError(str(exc)) from None

    # -- what a callback can ask for its task -------------------------------

    def wds_task(self, target: Response | WdsTask) -> WdsTask:
        """The task a WDS callback received, with its status when it is a follow-up."""
        return target if isinstance(target, WdsTask) else task_of(target)

    def wds_values(self, response: Response) -> list[str]:
        """The strings of a scrape answer (in the callback named in :meth:`wds_scrape`)."""
        if wds_meta(response)["action"] != "scrape":
            raise NotAWdsResponse(f"{response!r} is not the answer to a wds_scrape() call")
        return parse_strings(load_json(response.body))

    def wds_crawl(
        self,
        target: Response | WdsTask,
        selector: str,
        *,
        callback: Callable[..., Any] | str | None = None,
        attribute: str | None = None,
        **request_kwargs: Any,
    ) -> Request:
        """Crawl the task's page: each linked page found becomes a follow-up to ``callback``."""
        parsed = parse_selector(selector, where="wds_crawl() selector")
        attribute = check_attribute_name(attribute, where="wds_crawl() attribute")
        args = self._wds_request_args(callback or "parse", request_kwargs, "wds_crawl()")
        return self._wds_api.crawl(self._wds_target(target), parsed, attribute, **args)

    def wds_scrape(
        self,
        target: Response | WdsTask,
        selector: str,
        *,
        callback: Callable[..., Any] | str,
        attribute: str | None = None,
        **request_kwargs: Any,
    ) -> Request:
        """Scrape strings from the task's page; ``callback`` reads them with :meth:`wds_values`."""
        parsed = parse_selector(selector, where="wds_scrape() selector")
        attribute = check_attribute_name(attribute, where="wds_scrape() attribute")
        args = self._wds_request_args(callback, request_kwargs, "wds_scrape()")
        return self._wds_api.scrape(self._wds_target(target), parsed, attribute, **args)

    def wds_scrape_multiple(
        self,
        target: Response | WdsTask,
        fields: Mapping[str, FieldSpec],
        *,
        item_class: type | None = None,
        values: str = "first",
        url_field: str | None = None,
        extra: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> Request:
        """Scrape several fields of the task's page into one item, sent to the pipelines.

        ``fields`` maps item field → selector (or ``(selector, attribute)``);
        ``values`` is ``"first"`` (first value, field unset if none) or
        ``"all"`` (list of every value); ``url_field`` names a field that
        gets the page URL; ``extra`` holds fixed JSON-compatible field values.
        """
        parsed = parse_fields(fields, where="wds_scrape_multiple() fields")
        task = self._wds_target(target)
        fixed = dict(extra or {})
        if url_field is not None:
            fixed[url_field] = task.url
        try:
            json.dumps(fixed)
        except (TypeError, ValueError):
            raise WdsItemError(
                "wds_scrape_multiple() extra must hold JSON-compatible values "
                "(requests carry it so they can be saved and resumed)"
            ) from None
        names = [f.name for f in parsed] + list(fixed)
        check_field_names(item_class, names, where="wds_scrape_multiple()")
        wds = {
            "fields": [f.name for f in parsed],
            "item_class": item_class_path(item_class),
            "values": check_values_mode(values, where="wds_scrape_multiple() values"),
            "fixed": fixed,
        }
        args = self._wds_request_args(None, request_kwargs, "wds_scrape_multiple()", wds)
        return self._wds_api.scrape_multiple(task, parsed, **args)

    def wds_info(
        self,
        target: Response | WdsTask,
        *,
        callback: Callable[..., Any] | str,
        **request_kwargs: Any,
    ) -> Request:
        """Ask the task's status again (``dont_filter``: its follow-up asked the same URL)."""
        request_kwargs.setdefault("dont_filter", True)
        args = self._wds_request_args(callback, request_kwargs, "wds_info()", {"explicit": True})
        return self._wds_api.info(self._wds_target(target), **args)

    def _wds_target(self, target: Response | WdsTask) -> WdsTask:
        # A call needs only the task's id and URL: reading the status would
        # parse the info body once more for every request a callback builds.
        return target if isinstance(target, WdsTask) else task_of(target, with_status=False)

    def _wds_request_args(
        self,
        callback: Any,
        request_kwargs: dict[str, Any],
        where: str,
        wds: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        wds = dict(wds or {})
        if callback is not None:
            wds["callback"] = method_name(self, callback, where=f"{where} callback")
        errback = request_kwargs.pop("errback", None)
        if errback is not None:
            wds["errback"] = method_name(self, errback, where=f"{where} errback")
        unknown = set(request_kwargs) - {"cb_kwargs", "priority", "dont_filter"}
        if unknown:
            raise WdsSpiderError(
                f"{where} takes cb_kwargs, priority, dont_filter and errback as request "
                f"options, not {sorted(unknown)}"
            )
        return {
            **request_kwargs,
            "wds": wds,
            "callback": self._wds_on_answer,
            "errback": self._wds_on_error,
        }

    # -- answers ------------------------------------------------------------

    async def _wds_on_answer(self, response: Response, **cb_kwargs: Any) -> AsyncIterator[Any]:
        wds = response.meta[META_KEY]
        action = wds.get("action")
        stats = self.crawler.stats
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
                yield element
        except MalformedAnswer as exc:
            stats.inc_value(f"wds/malformed_answers/{action}")
            self.logger.warning(
                "Skipped a malformed WDS %s answer (%s): %s", action, _about(wds), exc
            )
        except SETUP_MISTAKES as exc:
            raise self._wds_stop_for_mistake(response, wds, exc) from None

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
            built = {k: request.headers[k] for k in ("Accept", "Content-Type") if k in request.headers}
            self.crawler.engine.crawl(request.replace(headers=built, dont_filter=True))
        if not self._wds_stopping:
            self._wds_stopping = True
            self.crawler.stats.inc_value("wds/callback_mistakes")
            self.logger.error(
                "WDS spider %r stops: callback %r has a mistake: %s",
                self.name, wds.get("callback"), mistake,
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
                wds["action"], _about(wds), problem,
            )
        if wds["action"] == "start":
            stats.inc_value("wds/jobs/started")
        stats.inc_value("wds/tasks/found", len(tasks))
        job = str(wds.get("job", ""))
        follow = {"callback": wds["callback"], "follow_up": True}
        if "errback" in wds:
            follow["errback"] = wds["errback"]
        new = self._wds_first_seen(job, tasks)
        return follow_tasks(self, job, new, follow, cb_kwargs, reraise=SETUP_MISTAKES)

    # -- follow-ups: the info call first, or the callback at once ------------

    def _wds_first_seen(self, job: str, tasks: list[TaskRef]) -> list[TaskRef]:
        """The tasks whose pages this job has not seen yet (by canonical URL)."""
        sight = self.__dict__.get("_wds_first_sight")
        if sight is None:
            sight = self._wds_first_sight = FirstSight()
        fresh = sight.new_pages(job, tasks)
        if len(fresh) < len(tasks):
            self.crawler.stats.inc_value("wds/tasks/known_again", len(tasks) - len(fresh))
        return fresh

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
                wds["action"], _about(wds), wds["callback"],
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
        request = getattr(failure, "request", None)
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
