"""``WdsSpiderMixin``: a spider that drives a WDS job.

Flow: ``start()`` sends "start job"; every task in its answer (and in every
crawl answer) whose page the job has not seen yet becomes a *follow-up*: the
task's ``info`` call, which the downloader middleware keeps waiting (202 or a
pending state) until WDS has downloaded the page, and which then reaches the
callback the user named with the task's final status.  Pages are known by
canonical URL per job (the ledger), so a page is followed once whatever task
ids WDS returns for it.  From a callback, ``wds_crawl`` / ``wds_scrape`` /
``wds_scrape_multiple`` / ``wds_info`` ask more of the same task.

This module builds the requests; :mod:`~scrapy_wds._wds._mixin_answers`
turns their answers into what callbacks receive.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cached_property
from typing import Any

from scrapy import Request
from scrapy.http import Response

from scrapy_wds._wds._answers import load_json, parse_strings
from scrapy_wds._wds._api import WdsApi
from scrapy_wds._wds._callbacks import WdsSpiderError, method_name
from scrapy_wds._wds._config_check import api_for, start_request_or_refuse
from scrapy_wds._wds._items import (
    WdsItemError,
    check_field_names,
    check_values_mode,
    item_class_path,
)
from scrapy_wds._wds._job_config import JobConfig, JobConfigError
from scrapy_wds._wds._mixin_answers import (
    SETUP_MISTAKES,
    START_ERROR_REASON,
    WdsAnswers,
)
from scrapy_wds._wds._selectors import (
    FieldSpec,
    check_attribute_name,
    parse_fields,
    parse_selector,
)
from scrapy_wds._wds._task import NotAWdsResponse, WdsTask, task_of, wds_meta

__all__ = ["SETUP_MISTAKES", "START_ERROR_REASON", "WdsSpiderError", "WdsSpiderMixin"]


class WdsSpiderMixin(WdsAnswers):
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
        # A set-up mistake is one line that names it, and the close reason
        # wds_bad_config; no traceback, nothing sent.
        request = start_request_or_refuse(self)
        if request is None:
            return
        # A resumed crawl whose job start was answered already does not start
        # it again; what that answer led to is resumed from the ledger.
        start = self._wds_keeper.start(request)
        if start is not None:
            yield start

    def wds_start_request(self) -> Request:
        """The "start job" request, after every check (raises naming what is wrong)."""
        config = self.wds_job_config()
        if not isinstance(config, JobConfig):
            raise JobConfigError(f"wds_job_config() must return a JobConfig, not {config!r}")
        wire = config.to_wire()
        job = self.name if self.wds_job_name is None else self.wds_job_name
        if not isinstance(job, str) or not job.strip():
            raise WdsSpiderError("wds_job_name must be a non-empty string (it names the WDS job)")
        self.wds_check()
        return self._wds_api.start(
            job.strip(), wire, **self._wds_request_args(self.wds_start_callback, {}, "start")
        )

    @cached_property
    def _wds_api(self) -> WdsApi:
        return api_for(self.settings)  # never raises: the feed exporter reads every attribute

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
        try:
            json.dumps(request_kwargs.get("cb_kwargs") or {})
        except (TypeError, ValueError):
            raise WdsSpiderError(
                f"{where} cb_kwargs must hold JSON-compatible values (the crawl keeps "
                "the calls it owes as data, to resume them after a stop)"
            ) from None
        return {
            **request_kwargs,
            "wds": wds,
            "callback": self._wds_on_answer,
            "errback": self._wds_on_error,
        }
