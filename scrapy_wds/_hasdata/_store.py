"""What a job runner needs from where job records live (a state file, or redis)."""

from __future__ import annotations

from typing import Any, Protocol

from scrapy_wds._hasdata._state import JobRecord


class JobStore(Protocol):
    """:class:`~._state.StateFile` and :class:`~._shared_state.SharedJobStore` offer this."""

    #: Named in log lines (a file path, or the redis keys).
    path: Any

    def record(self, key: str, scraper: str, api_url: str) -> JobRecord: ...

    def row_entries(self, key: str) -> list[list[Any]]: ...

    def append_row(self, key: str, entry: list[Any]) -> None: ...

    def save_job(self, key: str) -> None: ...

    def check_claim(self, key: str) -> None: ...

    def save(self) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...
