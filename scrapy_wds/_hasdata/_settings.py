"""Every ``HASDATA_*`` setting, read and checked in one place.

The defaults follow HasData's own advice (poll a job no faster than every
10 s; a results page holds at most 100 rows).  Tests lower the intervals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings

DEFAULT_API_URL = "https://api.hasdata.com"
MAX_PAGE_LIMIT = 100
WEBHOOK_EVENTS = ("scraper.job.started", "scraper.data.scraped", "scraper.job.finished")


class HasDataSettingError(ValueError):
    """A ``HASDATA_*`` setting has a value the extension cannot use."""


def api_key_from(settings: BaseSettings) -> str:
    """The key from the setting, else the environment variable of the same name."""
    return str(settings.get("HASDATA_API_KEY") or os.environ.get("HASDATA_API_KEY") or "")


@dataclass(frozen=True)
class HasDataSettings:
    api_key: str
    api_url: str
    state_file: str | None
    poll_interval: float
    poll_max_interval: float
    page_limit: int
    page_concurrency: int
    use_json_file: bool
    stop_on_close: bool
    max_credits: float | None
    retry_times: int
    retry_delay: float
    retry_max_delay: float
    timeout: float
    progress_interval: float
    webhook_enabled: bool
    webhook_host: str
    webhook_port: int
    webhook_public_url: str | None
    webhook_secret: str | None
    webhook_max_body: int
    #: Seconds a worker's claim on a job lasts without a heartbeat (scrapy-redis).
    claim_ttl: float

    def __repr__(self) -> str:
        # The key must never reach a log line, even through a debug repr.
        return f"HasDataSettings(api_url={self.api_url!r}, api_key=<{len(self.api_key)} chars>)"

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> HasDataSettings:
        page_limit = _number(settings, "HASDATA_PAGE_LIMIT", MAX_PAGE_LIMIT, int, minimum=1)
        if page_limit > MAX_PAGE_LIMIT:
            raise HasDataSettingError(
                f"HASDATA_PAGE_LIMIT is {page_limit}; HasData serves at most "
                f"{MAX_PAGE_LIMIT} rows per results page, set it to {MAX_PAGE_LIMIT} or less"
            )
        max_credits = settings.get("HASDATA_MAX_CREDITS")
        return cls(
            api_key=api_key_from(settings),
            api_url=str(settings.get("HASDATA_API_URL") or DEFAULT_API_URL).rstrip("/"),
            state_file=settings.get("HASDATA_STATE_FILE") or None,
            poll_interval=_number(settings, "HASDATA_POLL_INTERVAL", 10.0, float, minimum=0.0),
            poll_max_interval=_number(
                settings, "HASDATA_POLL_MAX_INTERVAL", 60.0, float, minimum=0.0
            ),
            page_limit=page_limit,
            page_concurrency=_number(settings, "HASDATA_PAGE_CONCURRENCY", 4, int, minimum=1),
            use_json_file=settings.getbool("HASDATA_USE_JSON_FILE", False),
            stop_on_close=settings.getbool("HASDATA_STOP_ON_CLOSE", False),
            max_credits=None
            if max_credits in (None, "")
            else _number(settings, "HASDATA_MAX_CREDITS", 0.0, float, minimum=0.0),
            retry_times=_number(settings, "HASDATA_RETRY_TIMES", 6, int, minimum=0),
            retry_delay=_number(settings, "HASDATA_RETRY_DELAY", 1.0, float, minimum=0.0),
            retry_max_delay=_number(settings, "HASDATA_RETRY_MAX_DELAY", 30.0, float, minimum=0.0),
            timeout=_number(settings, "HASDATA_TIMEOUT", 120.0, float, minimum=0.001),
            progress_interval=_number(
                settings, "HASDATA_PROGRESS_INTERVAL", 60.0, float, minimum=0.0
            ),
            webhook_enabled=settings.getbool("HASDATA_WEBHOOK_ENABLED", False),
            webhook_host=str(settings.get("HASDATA_WEBHOOK_HOST") or "127.0.0.1"),
            webhook_port=_number(settings, "HASDATA_WEBHOOK_PORT", 0, int, minimum=0),
            webhook_public_url=settings.get("HASDATA_WEBHOOK_PUBLIC_URL") or None,
            webhook_secret=settings.get("HASDATA_WEBHOOK_SECRET") or None,
            webhook_max_body=_number(
                settings, "HASDATA_WEBHOOK_MAX_BODY", 10 * 2**20, int, minimum=1
            ),
            claim_ttl=_number(settings, "HASDATA_CLAIM_TTL", 30.0, float, minimum=0.1),
        )


def _number(
    settings: BaseSettings, name: str, default: Any, kind: type, *, minimum: float
) -> Any:
    raw = settings.get(name)
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw)
        if kind is int and isinstance(raw, float) and raw != int(raw):
            raise ValueError
    except (TypeError, ValueError):
        raise HasDataSettingError(
            f"{name} is {raw!r}; set it to a{'n integer' if kind is int else ' number'}"
        ) from None
    if value < minimum:
        raise HasDataSettingError(f"{name} is {raw!r}; set it to {minimum:g} or more")
    return value
