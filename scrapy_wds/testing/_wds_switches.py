"""The WDS emulator's switches: which values they take and how they shape answers.

The WDS documentation writes keys in PascalCase and enums by name, but a .NET
server with default settings would send camelCase and integers, and older
servers name the state field ``State``; the switches let the emulator play
each reading (see docs/emulator-wds.md).
"""

from __future__ import annotations

import re
from typing import Any

from scrapy_wds.testing._wds_malformed import MALFORMED_CHOICES
from scrapy_wds.testing._wds_tasks import KNOWN_PAGES

#: DownloadTaskStates by name, with the integers a .NET server would send.
TASK_STATES = {
    "Handled": 0,
    "AccessDeniedForRobots": 1,
    "AllRequestGatesExhausted": 2,
    "Created": 10,
    "InProgress": 11,
    "Deleted": 12,
}

_CHOICES = {
    "key_case": ("pascal", "camel"),
    "enum_style": ("name", "int"),
    "state_field": ("TaskState", "State"),
    # How info answers while its task waits: "200" is the documented reading
    # (200 with TaskState Created/InProgress) and is meant to become the default.
    "pending_info": ("202", "200"),
    "known_pages": KNOWN_PAGES,
    "malformed": MALFORMED_CHOICES,
}
_NON_NEGATIVE = ("pending_polls", "pending_seconds", "error_delay", "download_wait")
_RATES = ("error_rate", "drop_rate", "malformed_rate")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_switches(values: dict[str, Any]) -> None:
    """Refuse values the emulator could not play, naming the switch (ValueError)."""
    for name, choices in _CHOICES.items():
        if values[name] not in choices:
            raise ValueError(f"{name} must be one of {choices}, not {values[name]!r}")
    for name in _NON_NEGATIVE:
        if not _is_number(values[name]) or values[name] < 0:
            raise ValueError(f"{name} must be a non-negative number, not {values[name]!r}")
    for name in _RATES:
        if not _is_number(values[name]) or not 0 <= values[name] <= 1:
            raise ValueError(f"{name} must be a number from 0 to 1, not {values[name]!r}")
    if not isinstance(values["seed"], int) or isinstance(values["seed"], bool):
        raise ValueError(f"seed must be a whole number, not {values['seed']!r}")
    fail_tasks = values["fail_tasks"]
    if not isinstance(fail_tasks, dict):
        raise ValueError("fail_tasks must map URL regexes to HTTP status codes")
    for pattern, status in fail_tasks.items():
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ValueError(f"fail_tasks: {pattern!r} is not a regex: {exc}") from None
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError(f"fail_tasks: status for {pattern!r} must be 400-599, not {status!r}")
    malformed_tasks = values["malformed_tasks"]
    if not isinstance(malformed_tasks, list):
        raise ValueError(f"malformed_tasks must be a list of URL regexes, not {malformed_tasks!r}")
    for pattern in malformed_tasks:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ValueError(f"malformed_tasks: {pattern!r} is not a regex: {exc}") from None


def cased(data: Any, key_case: str) -> Any:
    """``data`` with every object key, nested ones too, in the chosen case."""
    if key_case != "camel":
        return data
    if isinstance(data, dict):
        return {key[:1].lower() + key[1:]: cased(value, key_case) for key, value in data.items()}
    if isinstance(data, list):
        return [cased(item, key_case) for item in data]
    return data


def encoded_state(state: str, enum_style: str) -> str | int:
    return TASK_STATES[state] if enum_style == "int" else state
