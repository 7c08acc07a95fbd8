"""Running one mistake in-process, as ``scrapy crawl`` would, and keeping what it said.

The crawl is a real one (add-on, middleware, engine, emulators on loopback);
only the process is shared, which keeps 60 crawls within seconds.  Every log
record of the run is kept, so a test can count the error lines and look for
tracebacks, including the ones asyncio and Twisted log on their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerRunner

from . import spiders
from .cases import Mistake, render

HASDATA_KEY = "hasdata-test-key"
#: Words that give a traceback away, whoever logged it.
TRACEBACK_SIGNS = ("Traceback", "exception was never retrieved", "Unhandled error in Deferred")


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Outcome:
    reason: str | None
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def error_lines(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]

    @property
    def tracebacks(self) -> list[str]:
        found = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info or any(sign in text for sign in TRACEBACK_SIGNS):
                found.append(f"{record.name}: {text[:300]}")
        return found


def base_settings(case: Mistake, urls: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "ADDONS": {"scrapy_wds.Addon": 300},
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "DEMO_SITE_URL": urls["site"],
    }
    if case.service == "HasData":
        settings.update(
            {
                "HASDATA_API_KEY": HASDATA_KEY,
                "HASDATA_API_URL": urls["hasdata"],
                "HASDATA_STATE_FILE": str(tmp_path / "hasdata-state.json"),
                "HASDATA_POLL_INTERVAL": 0.05,
            }
        )
    else:
        settings.update(
            {
                "WDS_API_URL": urls["wds"],
                "WDS_RETRY_FIRST_DELAY": 0.05,
                "WDS_RETRY_MAX_DELAY": 0.2,
            }
        )
    settings.update(render(case.settings, urls))
    return settings


async def run(case: Mistake, urls: dict[str, str], tmp_path: Path) -> Outcome:
    runner = CrawlerRunner(base_settings(case, urls, tmp_path))
    crawler = runner.create_crawler(getattr(spiders, case.spider))
    keep = _Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.INFO)
    try:
        await runner.crawl(crawler)
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    assert crawler.stats is not None
    return Outcome(crawler.stats.get_value("finish_reason"), keep.records)
