"""A job runner on fakes: an in-memory store, a scripted client, a fake clock."""

from __future__ import annotations

from typing import Any

from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from scrapy_wds import HasDataJob
from scrapy_wds._hasdata._runner import JobRunner
from scrapy_wds._hasdata._settings import HasDataSettings
from scrapy_wds._hasdata._spending import SpendGuard
from scrapy_wds._hasdata._state import JobRecord


class MemoryStore:
    """A :class:`~scrapy_wds._hasdata._store.JobStore` in memory; counts its saves."""

    path = "memory"

    def __init__(self, record: JobRecord | None = None) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.rows: dict[str, list[list[Any]]] = {}
        self.saves = 0
        self._first = record

    def record(self, key: str, scraper: str, api_url: str) -> JobRecord:
        if key not in self.jobs:
            self.jobs[key] = self._first or JobRecord(scraper, api_url=api_url)
        return self.jobs[key]

    def row_entries(self, key: str) -> list[list[Any]]:
        return list(self.rows.get(key, []))

    def append_row(self, key: str, entry: list[Any]) -> None:
        self.rows.setdefault(key, []).append(entry)

    def save_job(self, key: str) -> None:
        self.saves += 1

    def check_claim(self, key: str) -> None:
        pass

    def save(self) -> None:
        self.saves += 1

    def clear(self) -> None:
        self.jobs.clear()

    def close(self) -> None:
        pass


def runner_for(
    client: Any,
    clock: Any,
    *,
    record: JobRecord | None = None,
    guard: SpendGuard | None = None,
    job: HasDataJob | None = None,
    **settings: Any,
) -> JobRunner:
    stats = MemoryStatsCollector(get_crawler())
    return JobRunner(
        job or HasDataJob("crawler", {}),
        MemoryStore(record or JobRecord("crawler", job_id="7")),
        client=client,
        settings=HasDataSettings.from_settings(Settings({"HASDATA_API_KEY": "k", **settings})),
        pusher=None,  # type: ignore[arg-type]
        guard=guard or SpendGuard(None),
        stats=stats,
        reactor=clock,
    )
