"""Small readers of WDS requests and answers, for the downloader middleware.

What a request asks (its action, task, job: for stats, log lines and typed
errors) and what an answer says about waiting (a pending task state, a
``Retry-After`` header).
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.http import Response

from scrapy_wds._backoff import parse_retry_after
from scrapy_wds._wds._answers import MalformedAnswer, TaskState, load_json, parse_status
from scrapy_wds._wds._errors import describe_call
from scrapy_wds._wds._task import META_KEY

#: Task states that mean "the page is not there yet": waited on like a 202.
PENDING_STATES = frozenset({TaskState.Created, TaskState.InProgress})


def pending_state(request: Request, response: Response) -> TaskState | None:
    """The state of an ``info`` answer that says the page is not there yet, else ``None``.

    A body that cannot be read is left to the spider side, which reports it.
    """
    if action_of(request) != "info":
        return None
    try:
        state = parse_status(load_json(response.body)).state
    except MalformedAnswer:
        return None
    return state if state in PENDING_STATES else None


def is_wds(request: Request) -> bool:
    return isinstance(request.meta.get(META_KEY), dict)


def action_of(request: Request) -> str:
    """The call's action; only asked of requests that passed :func:`_is_wds`."""
    return str(request.meta[META_KEY].get("action") or "unknown")


def call_facts(request: Request) -> dict[str, Any]:
    """What a WDS request asks about, as the keywords of :func:`describe_call` and WdsError."""
    wds = request.meta[META_KEY]
    task = wds.get("task") if isinstance(wds.get("task"), dict) else {}
    return {
        "action": action_of(request),
        "task_id": str(task["id"]) if "id" in task else None,
        "job": wds.get("job"),
        "page_url": task.get("url"),
    }


def describe(request: Request) -> str:
    return describe_call(**call_facts(request))


def retry_after(response: Response) -> float | None:
    """Seconds from a ``Retry-After`` header, if any."""
    return parse_retry_after(response.headers.get("Retry-After"))
