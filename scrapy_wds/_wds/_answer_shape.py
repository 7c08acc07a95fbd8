"""Is a WDS success answer the JSON the API documents, at least in its outline?

A proxy's HTML page, a body cut short, or an object where an array belongs
is not an answer, whatever its 2xx status says: the downloader middleware
retries such a call like a 5xx and, when it stays malformed, fails it with a
:class:`~scrapy_wds._wds._errors.WdsBadAnswer` quoting the body.  Only the
outline is checked here (valid JSON, the right top-level type, a state in an
info answer); the tolerant readers of :mod:`~scrapy_wds._wds._answers` deal
with the details, one entry at a time.
"""

from __future__ import annotations

import json
from typing import Any

from scrapy_wds._wds._answers import get_key

#: The top-level JSON type of each action's answer.
_ARRAY_ACTIONS = frozenset({"start", "crawl", "scrape", "scrape_multiple"})


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return f"a JSON {type(value).__name__}" if value is not None else "JSON null"


def shape_problem(action: str, body: bytes) -> str | None:
    """What is wrong with the outline of ``body`` as the answer to ``action`` (``None``: nothing)."""
    if not body.strip():
        return "the answer is empty"
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        start = body.lstrip()[:1]
        if start == b"<":
            return "the answer is an HTML/XML page, not JSON"
        return f"the answer is not JSON ({exc})"
    if action in _ARRAY_ACTIONS and not isinstance(data, list):
        return f"the answer is {_kind(data)}; the {action} call answers a JSON array"
    if action == "info":
        if not isinstance(data, dict):
            return f"the answer is {_kind(data)}; the info call answers a JSON object"
        if get_key(data, "TaskState") is None and get_key(data, "State") is None:
            return "the info answer has no TaskState (or State)"
    return None
