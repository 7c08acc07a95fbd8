"""Malformed 200 answers, as a proxy or a half-broken server sends them.

A client that trusts every 200 to carry the JSON the docs promise breaks on
these: a body cut short (a connection closed mid-answer), an HTML page (a
proxy's or a captive portal's error page, sent with 200), or valid JSON of the
wrong shape (an object where an array is expected, and the other way round).
The ``malformed`` switches of the WDS emulator choose when and which.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

#: The forms a malformed answer takes; "mixed" draws one of the others each time.
FORMS = ("truncated", "html", "object")
MALFORMED_CHOICES = (*FORMS, "mixed")

PROXY_PAGE = """<!DOCTYPE html>
<html><head><title>Gateway notice</title></head>
<body><h1>Please wait</h1>
<p>The service you asked for is being checked by the network's proxy.
(A malformed 200 answer injected by the WDS emulator.)</p>
</body></html>
"""


def pick_form(malformed: str, rng: random.Random) -> str:
    return rng.choice(FORMS) if malformed == "mixed" else malformed


def malformed_answer(
    form: str, good: web.Response, json_answer: Callable[[Any], web.Response]
) -> web.Response:
    """A 200 answer of ``form`` in place of the ``good`` JSON answer.

    ``json_answer`` writes JSON as the emulator's switches say (key case).
    """
    text = good.text or ""
    if form == "truncated":
        # At least one character short, so even "[]" stops being JSON.
        return web.Response(text=text[: len(text) // 2], content_type="application/json")
    if form == "html":
        return web.Response(text=PROXY_PAGE, content_type="text/html")
    data = json.loads(text)
    if isinstance(data, list):
        # An envelope some APIs use; the docs promise the bare array.
        return json_answer({"Items": data, "Count": len(data)})
    return json_answer([data])
