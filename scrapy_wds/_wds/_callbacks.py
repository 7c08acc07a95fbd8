"""Callbacks travel by name; whatever they return is iterated alike.

Requests must pickle (JOBDIR, scrapy-redis), so a user's callback is carried
in ``meta["wds"]`` as the name of a spider method, checked when the request
is built.  When the answer arrives, the mixin calls it and passes on its
output, whatever form Scrapy allows it to take.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from itemadapter import is_item
from scrapy import Request


class WdsSpiderError(ValueError):
    """A spider set up in a way WDS calls cannot be built from (names the culprit)."""


def method_name(spider: object, method: object, *, where: str) -> str:
    """The name of ``method`` (a spider method or its name), checked to exist."""
    name = getattr(method, "__name__", method)
    if not isinstance(name, str) or not callable(getattr(spider, name, None)):
        raise WdsSpiderError(
            f"{where} must be a method of the spider (or its name), not {method!r}: requests "
            "carry callbacks by name so they can be saved (JOBDIR) and shared (scrapy-redis)"
        )
    bound = getattr(spider, name)
    owner = getattr(method, "__self__", spider)
    if callable(method) and (
        owner is not spider
        or getattr(method, "__func__", method) is not getattr(bound, "__func__", bound)
    ):
        raise WdsSpiderError(f"{where} {method!r} is not the spider's own method {name!r}")
    return name


async def iterate_output(result: Any) -> AsyncIterator[Any]:
    """What a callback produced, whatever its form (None, one object, sync/async iterable).

    Scrapy's ``iterate_spider_output`` sorts the same forms but hands a
    coroutine's result back as a Deferred, which this async generator could
    await only under the asyncio reactor; a coroutine is awaited here instead.
    """
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if isinstance(result, Request) or is_item(result):
        yield result
    elif hasattr(result, "__aiter__"):
        async for element in result:
            yield element
    else:
        for element in result:
            yield element
