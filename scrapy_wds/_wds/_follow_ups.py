"""What a task found by ``start`` or ``crawl`` becomes: an ``info`` call, or its callback at once.

A callback that reads the task's state (``page_ok``, ``http_status``…) needs
the task's ``info`` answer first: that is the *info-first* follow-up, one
extra API call per page.  A callback that does not read it only builds the
page's real calls (crawl, scrape, scrape-multiple), which wait for the page by
themselves (202 / pending states, see ``_gate``).  Such a task *skips info*:
its callback is called as soon as the task is first seen, with a stand-in
response (no API call) whose request carries the task's facts in
``meta["wds"]``, so ``wds_crawl(response, …)`` and the other helpers work and
``wds_task(response).status`` is ``None``.

A callback skips info when it is marked with :func:`wds_skip_info`, or when
its spider sets ``wds_info_first = False`` (``WdsCrawlSpider`` does).

Either way a task's follow-up is built only for a page the job sees for the
first time (the ledger keeper's ``new_pages``, by canonical URL), and the
calls a stand-in's callback builds for its task are tied to the page like an
info follow-up (``meta["wds"]["follow_up"]``): the ledger issues them in the
same write that records the page, and drops them if another answer saw the
page first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, TypeVar

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapy_wds._wds._answers import TaskRef
from scrapy_wds._wds._callbacks import iterate_output
from scrapy_wds._wds._task import META_KEY, WdsTask

#: The attribute :func:`wds_skip_info` sets on a callback.
SKIP_INFO_MARK = "_wds_skip_info"
#: ``meta["wds"]["action"]`` of a stand-in response: no API call was made.
STAND_IN_ACTION = "task"

_Callback = TypeVar("_Callback", bound=Callable[..., Any])


def wds_skip_info(callback: _Callback) -> _Callback:
    """Mark a WDS callback that does not read its task's state: its tasks skip the ``info`` call.

    The callback is then called as soon as its task is first seen, with a
    stand-in response: ``self.wds_task(response)`` has the task's ``id``,
    ``url`` and ``job`` but no ``status`` (``page_ok`` is ``False``,
    ``state`` and ``http_status`` are ``None``).  Calls it builds on an
    error page answer 403 and are counted (``wds/failed/<action>``).
    """
    setattr(callback, SKIP_INFO_MARK, True)
    return callback


def skips_info(spider: object, callback_name: str) -> bool:
    """Whether the tasks sent to ``callback_name`` skip their ``info`` call."""
    marked = getattr(getattr(spider, callback_name, None), SKIP_INFO_MARK, None)
    if marked is not None:
        return bool(marked)
    return not getattr(spider, "wds_info_first", True)


def stand_in_response(
    task: WdsTask, follow: Mapping[str, Any], cb_kwargs: Mapping[str, Any]
) -> Response:
    """An empty response standing for ``task``, as its callback receives it when info is skipped.

    Its URL is the page's; its status (200) says nothing about the page.
    The request is never sent: it only carries ``meta["wds"]`` like a
    follow-up's, with the action ``"task"`` (no answer body to read).
    """
    wds = {**follow, "action": STAND_IN_ACTION, "job": task.job, "task": task.as_meta()}
    request = Request(task.url, meta={META_KEY: wds}, cb_kwargs=dict(cb_kwargs), dont_filter=True)
    return Response(task.url, request=request)


async def follow_tasks(
    spider: Any,
    job: str,
    tasks: Iterable[TaskRef],
    follow: Mapping[str, Any],
    cb_kwargs: Mapping[str, Any],
    *,
    reraise: tuple[type[BaseException], ...],
) -> AsyncIterator[Any]:
    """Each new task's ``info`` call or, when its callback skips info, that callback's output."""
    info_first = not skips_info(spider, follow["callback"])
    for task in tasks:
        handle = WdsTask(job, task.id, task.url)
        if info_first:
            yield spider._wds_api.info(
                handle,
                wds=dict(follow),
                callback=spider._wds_on_answer,
                errback=spider._wds_on_error,
                cb_kwargs=dict(cb_kwargs),
            )
            continue
        async for element in call_back_now(spider, handle, follow, cb_kwargs, reraise=reraise):
            yield element


async def call_back_now(
    spider: Any,
    task: WdsTask,
    follow: Mapping[str, Any],
    cb_kwargs: Mapping[str, Any],
    *,
    reraise: tuple[type[BaseException], ...],
) -> AsyncIterator[Any]:
    """The output of ``task``'s callback, called with a stand-in response.

    A callback error costs only its own task, as it would with an info
    answer: it is handed to Scrapy's usual spider-error handling (log line,
    ``spider_error`` signal, ``spider_exceptions/*`` stats), and the other
    tasks of the same crawl answer still get their callbacks.  ``reraise``
    (set-up mistakes that fail alike on every page) propagates.
    """
    response = stand_in_response(task, follow, cb_kwargs)
    spider.crawler.stats.inc_value("wds/tasks/info_skipped")
    callback = getattr(spider, follow["callback"], None)
    if not callable(callback):
        spider.logger.error(
            "WDS task %r of %r names callback %r, which this spider does not have",
            task.id,
            task.url,
            follow["callback"],
        )
        return
    try:
        async for element in iterate_output(callback(response, **cb_kwargs)):
            yield _tied_to_page(element, task)
    except reraise:
        raise
    except Exception:
        _report_callback_error(spider, Failure(), response)


def _tied_to_page(element: Any, task: WdsTask) -> Any:
    """Mark a call on ``task`` built from its stand-in as the page's follow-up (see above)."""
    if isinstance(element, Request):
        wds = element.meta.get(META_KEY)
        # Each call built by the mixin has its own meta dict: marking it shares nothing.
        if isinstance(wds, dict) and (wds.get("task") or {}).get("id") == task.id:
            wds["follow_up"] = True
    return element


def _report_callback_error(spider: Any, failure: Failure, response: Response) -> None:
    try:
        scraper = getattr(spider.crawler.engine, "scraper", None)
    except RuntimeError:  # no engine: a spider driven by hand, as in tests
        scraper = None
    if scraper is not None and hasattr(scraper, "handle_spider_error"):
        scraper.handle_spider_error(failure, response.request, response)
        return
    spider.logger.error(
        "Spider error processing %s",
        response.request,
        exc_info=(failure.type, failure.value, failure.getTracebackObject()),
    )
    spider.crawler.stats.inc_value("spider_exceptions/count")
    spider.crawler.stats.inc_value(f"spider_exceptions/{failure.value.__class__.__name__}")
