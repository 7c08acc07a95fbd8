"""``WdsTask``: the handle a spider callback gets for the task it was given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapy.http import Response

from scrapy_wds._wds._answers import TaskState, TaskStatus, load_json, parse_status

#: The one request meta key under which every WDS call describes itself
#: (written by the request builders, read by the middleware and the mixin).
META_KEY = "wds"


class NotAWdsResponse(ValueError):
    """A WDS helper was handed a response that does not come from a WDS task call."""


@dataclass(frozen=True)
class WdsTask:
    """One download task of a WDS job (one page).

    ``status`` is the task's ``DownloadTaskStatus`` when the response is an
    info answer (as every follow-up callback receives), else ``None``.
    """

    job: str
    id: str
    url: str
    status: TaskStatus | None = None

    @property
    def state(self) -> TaskState | None:
        return self.status.state if self.status else None

    @property
    def http_status(self) -> int | None:
        """HTTP status WDS got for the page (not the API call's status)."""
        return self.status.http_status if self.status else None

    @property
    def headers(self) -> dict[str, list[str]]:
        """Response headers WDS got for the page."""
        return self.status.headers if self.status else {}

    @property
    def page_ok(self) -> bool:
        """The page was downloaded and answered below 400 (``False`` if unknown)."""
        return self.status.page_ok if self.status else False

    def as_meta(self) -> dict[str, str]:
        return {"id": self.id, "url": self.url}


def wds_meta(response: Response) -> Mapping[str, Any]:
    meta = response.meta.get(META_KEY) if response.request is not None else None
    if not isinstance(meta, Mapping) or "action" not in meta:
        raise NotAWdsResponse(
            f"{response!r} is not an answer to a WDS call; pass the response your "
            "WDS callback received (or a WdsTask)"
        )
    return meta


def task_of(response: Response, *, with_status: bool = True) -> WdsTask:
    """The task a WDS response is about (with its status if it is an info answer).

    Raises :class:`~scrapy_wds._wds._answers.MalformedAnswer` if an info
    answer cannot be read (the mixin checks before calling user code).
    ``with_status=False`` skips reading the body, for callers that only need
    the task's id and URL.
    """
    meta = wds_meta(response)
    task = meta.get("task")
    if not isinstance(task, Mapping):
        raise NotAWdsResponse(
            f"{response!r} answers a WDS {meta['action']!r} call, which is not about one task"
        )
    status = None
    if with_status and meta["action"] == "info":
        status = parse_status(load_json(response.body))
    return WdsTask(str(meta.get("job", "")), str(task["id"]), str(task["url"]), status)
