"""A spider that requests nothing: its items are the rows of the HasData jobs in HASDATA_JOBS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy


class RowsOnlySpider(scrapy.Spider):
    name = "rows_only"

    async def start(self) -> AsyncIterator[Any]:
        return
        yield
