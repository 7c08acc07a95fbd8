"""Tolerant reading of WDS answers (200 bodies).

The WDS documentation writes PascalCase keys and enums by name, but no live
sample is public and a .NET server with default settings emits camelCase and
integer enums; older servers call the state field ``State``.  Every reader
here therefore matches keys case-insensitively, takes an enum as its name in
any case (with or without underscores) or as its integer, and an id as a
string or a number.  Anything it cannot make sense of raises
:class:`MalformedAnswer`, which the spider mixin logs, counts and skips: a
bad answer costs one task, never the crawl.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class MalformedAnswer(ValueError):
    """A 200 answer whose body is not what the API documents."""


class TaskState(enum.Enum):
    """``DownloadTaskStates`` of the API, with the documented integers as values.

    A plain Enum, not an IntEnum, on purpose: ``Handled`` is 0, and
    ``if task.state:`` must not read a handled task as "no state".
    """

    Handled = 0
    AccessDeniedForRobots = 1
    AllRequestGatesExhausted = 2
    Created = 10
    InProgress = 11
    Deleted = 12

    @property
    def stat_name(self) -> str:
        """``AccessDeniedForRobots`` → ``access_denied_for_robots`` (for stats keys)."""
        return "".join("_" + c.lower() if c.isupper() else c for c in self.name).lstrip("_")


_STATES_BY_NAME = {state.name.lower(): state for state in TaskState}


@dataclass(frozen=True)
class TaskRef:
    """A ``DownloadTask``: the id to call the task endpoints with, and its page URL."""

    id: str
    url: str


@dataclass(frozen=True)
class TaskStatus:
    """The useful part of a ``DownloadTaskStatus``."""

    state: TaskState
    error: str | None = None
    url: str | None = None
    http_status: int | None = None
    is_success: bool | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def page_ok(self) -> bool:
        """Whether the page was downloaded with a 2xx/3xx answer."""
        if self.state is not TaskState.Handled:
            return False
        if self.http_status is not None:
            return self.http_status < 400
        return self.is_success is not False


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedAnswer(f"the body is not JSON ({exc}): {_excerpt(body)}") from None


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text + ("…" if len(body) > limit else ""))


def get_key(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` with the key matched case-insensitively; ``None`` if absent."""
    if name in obj:
        return obj[name]
    wanted = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


def _as_object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedAnswer(f"{what} must be a JSON object, got {_short(value)}")
    return value


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedAnswer(f"{what} must be a JSON array, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:119] + "…"


def parse_state(value: Any) -> TaskState:
    if isinstance(value, bool):
        raise MalformedAnswer(f"unknown task state {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            value = int(text)
        else:
            state = _STATES_BY_NAME.get(text.replace("_", "").lower())
            if state is None:
                raise MalformedAnswer(f"unknown task state {value!r}")
            return state
    if isinstance(value, int):
        try:
            return TaskState(value)
        except ValueError:
            raise MalformedAnswer(f"unknown task state {value!r}") from None
    raise MalformedAnswer(f"unknown task state {_short(value)}")


def _as_id(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MalformedAnswer(f"task Id must be a string or an integer, got {_short(value)}")


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise MalformedAnswer(f"expected an integer, got {_short(value)}")


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedAnswer(f"expected a boolean, got {_short(value)}")


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise MalformedAnswer(f"expected a string, got {_short(value)}")


def _as_strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    strings = []
    for item in _as_list(value, what):
        text = _as_str(item)
        if text is not None:
            strings.append(text)
    return strings


def parse_task(data: Any) -> TaskRef:
    obj = _as_object(data, "a DownloadTask")
    url = get_key(obj, "Url")
    if not isinstance(url, str) or not url.strip():
        raise MalformedAnswer(f"a DownloadTask needs a Url string, got {_short(data)}")
    return TaskRef(_as_id(get_key(obj, "Id")), url.strip())


def parse_tasks(data: Any) -> tuple[list[TaskRef], list[str]]:
    """An array of DownloadTask → (good tasks, one problem text per bad entry).

    A bad entry costs only itself: the others are still followed.
    """
    tasks, problems = [], []
    for index, entry in enumerate(_as_list(data, "the answer")):
        try:
            tasks.append(parse_task(entry))
        except MalformedAnswer as exc:
            problems.append(f"entry {index}: {exc}")
    return tasks, problems


def parse_strings(data: Any) -> list[str]:
    """The scrape answer: an array of strings (numbers are taken as text)."""
    return _as_strings(_as_list(data, "the answer"), "the answer")


def parse_scrape_results(data: Any) -> list[tuple[str, list[str]]]:
    """The scrape-multiple answer: ``[(Name, Values), …]`` in the server's order."""
    results = []
    for index, entry in enumerate(_as_list(data, "the answer")):
        obj = _as_object(entry, f"ScrapeResult {index}")
        name = get_key(obj, "Name")
        if not isinstance(name, str):
            raise MalformedAnswer(f"ScrapeResult {index} needs a Name string, got {_short(entry)}")
        results.append((name, _as_strings(get_key(obj, "Values"), f"ScrapeResult {name!r} Values")))
    return results


def _parse_headers(value: Any) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    if value is None:
        return headers
    if isinstance(value, Mapping):  # a server that sends {name: values} instead
        entries = [{"Name": k, "Values": v} for k, v in value.items()]
    else:
        entries = _as_list(value, "ResponseHeaders")
    for entry in entries:
        obj = _as_object(entry, "a header")
        name = _as_str(get_key(obj, "Name"))
        if name:
            headers.setdefault(name, []).extend(_as_strings(get_key(obj, "Values"), name))
    return headers


def parse_status(data: Any) -> TaskStatus:
    """The info answer (``DownloadTaskStatus``)."""
    obj = _as_object(data, "the DownloadTaskStatus")
    state = get_key(obj, "TaskState")
    if state is None:
        state = get_key(obj, "State")  # the field's name on older servers
    if state is None:
        raise MalformedAnswer(f"the DownloadTaskStatus has no TaskState (or State): {_short(data)}")
    result = get_key(obj, "Result")
    info = _as_object(result, "Result") if result is not None else {}
    return TaskStatus(
        state=parse_state(state),
        error=_as_str(get_key(obj, "Error")) or None,
        url=_as_str(get_key(info, "Url")),
        http_status=_as_int(get_key(info, "HttpStatusCode")),
        is_success=_as_bool(get_key(info, "IsSuccess")),
        headers=_parse_headers(get_key(info, "ResponseHeaders")),
    )
