"""Every ``HASDATA_*`` setting: one table (:data:`SETTINGS`), read and checked in one place.

The table feeds the add-on's gap filling (:data:`DEFAULTS`), the readers
below and the documentation's settings reference, so a setting cannot be
documented with one default and read with another.  The defaults follow
HasData's own advice (poll a job no faster than every 10 s; a results page
holds at most 100 rows).

The key, the API URL and the webhook secret fall back to environment
variables of the same name: a project that exports ``HASDATA_API_URL`` (the
local emulator, a proxy) must never send its key to the real service because
settings.py forgot to copy it.  Every bad value raises
:class:`HasDataSettingError` with one line naming the setting, its value
(never a secret's) and what it accepts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from scrapy_wds._setting import Setting

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.hasdata.com"
MAX_PAGE_LIMIT = 100
WEBHOOK_EVENTS = ("scraper.job.started", "scraper.data.scraped", "scraper.job.finished")
#: Below this a poll interval is refused against HasData itself (each poll
#: uses the account's concurrency); HasData asks for 10 s and more.
POLL_FLOOR = 1.0
POLL_ADVISED = 10.0

SETTINGS: dict[str, Setting] = {
    "HASDATA_API_KEY": Setting(
        None,
        "The account's API key; falls back to the environment variable of the same name. Enables HasData.",
    ),
    "HASDATA_API_URL": Setting(
        DEFAULT_API_URL,
        "Base URL of the API (the local emulator, a proxy); falls back to the environment variable of the same name.",
    ),
    "HASDATA_JOBS": Setting(
        [],
        "Jobs to run: a list of job dicts (or a JSON string of one), beside the spider's own ``hasdata_jobs``.",
    ),
    "HASDATA_STATE_FILE": Setting(
        None,
        "Where job ids and delivered rows are remembered; default ``JOBDIR/hasdata-state.json`` or ``.scrapy/hasdata/<spider>.json``.",
    ),
    "HASDATA_POLL_FIRST_DELAY": Setting(
        10.0,
        "Seconds between status polls of a running job (doubling while nothing changes); refused below 1 s against HasData itself, warned below 10 s.",
    ),
    "HASDATA_POLL_MAX_DELAY": Setting(60.0, "Longest wait between two status polls."),
    "HASDATA_JOB_TIMEOUT": Setting(
        86400.0,
        "Seconds after its submit a job may take to end; then it is stopped (DELETE), its rows delivered and the spider closed with ``hasdata_job_timeout``.",
    ),
    "HASDATA_PAGE_LIMIT": Setting(
        MAX_PAGE_LIMIT, "Rows per results page (HasData serves at most 100)."
    ),
    # 8: with a 50 ms round trip a page costs about 56 ms to fetch and 10 ms
    # to deliver, so 4 pages in flight left the crawl waiting on the network
    # (bench/README.md, hasdata_rows.py). Each page in flight takes one of
    # the plan's concurrent requests; past the plan's cap HasData answers 429
    # and the client waits (Retry-After, HASDATA_RATE_LIMIT_MAX_WAIT).
    "HASDATA_PAGE_CONCURRENCY": Setting(
        8,
        "Results pages fetched at once, delivered in page order; each uses one of the plan's concurrent requests (HasData answers 429 past the plan's cap, and the call waits): lower it for a small plan shared with other clients.",
    ),
    "HASDATA_USE_JSON_FILE": Setting(
        False,
        "Read a finished job's rows from its ``json`` download link instead of paging (paging takes over if the link fails).",
    ),
    "HASDATA_STOP_ON_CLOSE": Setting(
        False, "Stop (DELETE) jobs still running when the spider closes."
    ),
    "HASDATA_MAX_CREDITS": Setting(
        None,
        "Credits the crawl may spend; once reached, running jobs are stopped and the spider closes with ``hasdata_credit_limit``.",
    ),
    "HASDATA_RETRY_TIMES": Setting(
        6, "Retries of a call that met a 5xx, a dropped connection or a malformed answer."
    ),
    "HASDATA_RETRY_FIRST_DELAY": Setting(
        1.0, "Seconds before the first retry (doubling, jittered)."
    ),
    "HASDATA_RETRY_MAX_DELAY": Setting(30.0, "Longest wait between two retries."),
    "HASDATA_RATE_LIMIT_MAX_WAIT": Setting(
        900.0,
        "Seconds a call keeps retrying 429 answers (honouring ``Retry-After``) before giving up.",
    ),
    "HASDATA_RETRY_UNCERTAIN_SUBMITS": Setting(
        False,
        "Resend a submit whose answer was lost (5xx, timeout, cut connection), at the risk of paying for a second job.",
    ),
    "HASDATA_TIMEOUT": Setting(120.0, "Seconds to wait for one HasData answer."),
    "HASDATA_PROGRESS_INTERVAL": Setting(60.0, "Seconds between progress log lines (0: none)."),
    "HASDATA_WEBHOOK_ENABLED": Setting(
        False,
        "Start the webhook receiver and ask HasData to call it (rows arrive early; polling goes on).",
    ),
    "HASDATA_WEBHOOK_HOST": Setting("127.0.0.1", "Address the webhook receiver binds to."),
    "HASDATA_WEBHOOK_PORT": Setting(0, "Port of the webhook receiver (0: any free port)."),
    "HASDATA_WEBHOOK_PUBLIC_URL": Setting(
        None, "The URL HasData should call when the receiver sits behind a tunnel or proxy."
    ),
    "HASDATA_WEBHOOK_SECRET": Setting(
        None,
        "Shared secret HasData sends back in ``X-Webhook-Secret``; falls back to the environment variable of the same name, else random per crawl.",
    ),
    "HASDATA_WEBHOOK_MAX_BODY": Setting(10 * 2**20, "Largest webhook body accepted, in bytes."),
    "HASDATA_CLAIM_TTL": Setting(
        30.0, "Seconds a scrapy-redis worker's claim on a job lasts without a heartbeat."
    ),
}

#: Old names still read, each with a deprecation warning naming the new one.
RENAMED = {
    "HASDATA_POLL_INTERVAL": "HASDATA_POLL_FIRST_DELAY",
    "HASDATA_POLL_MAX_INTERVAL": "HASDATA_POLL_MAX_DELAY",
    "HASDATA_RETRY_DELAY": "HASDATA_RETRY_FIRST_DELAY",
}
# In the table too, so the reference lists them (no default: nothing is filled in).
SETTINGS.update(
    (old, Setting(None, f"Deprecated old name of ``{new}``, still read (with a WARNING)."))
    for old, new in RENAMED.items()
)

#: Settings read from the environment when the project leaves them unset.
FROM_ENVIRONMENT = ("HASDATA_API_KEY", "HASDATA_API_URL", "HASDATA_WEBHOOK_SECRET")
#: What the add-on fills in (environment-backed settings are left to the reader).
DEFAULTS: dict[str, Any] = {
    name: row.default
    for name, row in SETTINGS.items()
    if row.default is not None and name not in FROM_ENVIRONMENT
}
_ADDON_PRIORITY = SETTINGS_PRIORITIES["addon"]
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class HasDataSettingError(ValueError):
    """A ``HASDATA_*`` setting has a value the extension cannot use."""


def from_settings_or_env(settings: BaseSettings, name: str) -> str:
    """A setting, else the environment variable of the same name, else ''."""
    return str(settings.get(name) or os.environ.get(name) or "")


def api_key_from(settings: BaseSettings) -> str:
    return from_settings_or_env(settings, "HASDATA_API_KEY")


@dataclass(frozen=True)
class HasDataSettings:
    api_key: str
    api_url: str
    state_file: str | None
    poll_first_delay: float
    poll_max_delay: float
    job_timeout: float
    page_limit: int
    page_concurrency: int
    use_json_file: bool
    stop_on_close: bool
    max_credits: float | None
    retry_times: int
    retry_first_delay: float
    retry_max_delay: float
    rate_limit_max_wait: float
    retry_uncertain_submits: bool
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
        read = _Reader(settings)
        page_limit = read.number("HASDATA_PAGE_LIMIT", int, minimum=1)
        if page_limit > MAX_PAGE_LIMIT:
            raise HasDataSettingError(
                f"HASDATA_PAGE_LIMIT is {page_limit}; HasData serves at most "
                f"{MAX_PAGE_LIMIT} rows per results page, set it to {MAX_PAGE_LIMIT} or less"
            )
        api_url = _api_url(from_settings_or_env(settings, "HASDATA_API_URL") or DEFAULT_API_URL)
        poll_first = read.number("HASDATA_POLL_FIRST_DELAY", float, minimum=0.0, above=True)
        _check_poll_interval(poll_first, api_url)
        values = cls(
            api_key=api_key_from(settings),
            api_url=api_url,
            state_file=settings.get("HASDATA_STATE_FILE") or None,
            poll_first_delay=poll_first,
            poll_max_delay=read.number("HASDATA_POLL_MAX_DELAY", float, minimum=0.0, above=True),
            job_timeout=read.number("HASDATA_JOB_TIMEOUT", float, minimum=0.0, above=True),
            page_limit=page_limit,
            page_concurrency=read.number("HASDATA_PAGE_CONCURRENCY", int, minimum=1),
            use_json_file=read.flag("HASDATA_USE_JSON_FILE"),
            stop_on_close=read.flag("HASDATA_STOP_ON_CLOSE"),
            max_credits=read.number("HASDATA_MAX_CREDITS", float, minimum=0.0, optional=True),
            retry_times=read.number("HASDATA_RETRY_TIMES", int, minimum=0),
            retry_first_delay=read.number("HASDATA_RETRY_FIRST_DELAY", float, minimum=0.0),
            retry_max_delay=read.number("HASDATA_RETRY_MAX_DELAY", float, minimum=0.0),
            rate_limit_max_wait=read.number("HASDATA_RATE_LIMIT_MAX_WAIT", float, minimum=0.0),
            retry_uncertain_submits=read.flag("HASDATA_RETRY_UNCERTAIN_SUBMITS"),
            timeout=read.number("HASDATA_TIMEOUT", float, minimum=0.0, above=True),
            progress_interval=read.number("HASDATA_PROGRESS_INTERVAL", float, minimum=0.0),
            webhook_enabled=read.flag("HASDATA_WEBHOOK_ENABLED"),
            webhook_host=str(read.raw("HASDATA_WEBHOOK_HOST") or "127.0.0.1"),
            webhook_port=read.number("HASDATA_WEBHOOK_PORT", int, minimum=0),
            webhook_public_url=settings.get("HASDATA_WEBHOOK_PUBLIC_URL") or None,
            webhook_secret=from_settings_or_env(settings, "HASDATA_WEBHOOK_SECRET") or None,
            webhook_max_body=read.number("HASDATA_WEBHOOK_MAX_BODY", int, minimum=1),
            claim_ttl=read.number("HASDATA_CLAIM_TTL", float, minimum=0.1),
        )
        for first, cap in (
            ("poll_first_delay", "poll_max_delay"),
            ("retry_first_delay", "retry_max_delay"),
        ):
            if getattr(values, first) > getattr(values, cap):
                raise HasDataSettingError(
                    f"HASDATA_{first.upper()} ({getattr(values, first):g} s) must not exceed "
                    f"HASDATA_{cap.upper()} ({getattr(values, cap):g} s)"
                )
        return values


class _Reader:
    """Reads one setting by its current name, else its old one (with a warning), else the table."""

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings

    def raw(self, name: str) -> Any:
        return self.source(name)[1]

    def source(self, name: str) -> tuple[str, Any]:
        """The name the value was read under (an old name, if the user wrote that) and the value."""
        settings = self.settings
        old = next((o for o, new in RENAMED.items() if new == name), None)
        chosen = (settings.getpriority(name) or 0) > _ADDON_PRIORITY
        if not chosen and old is not None and settings.get(old) not in (None, ""):
            logger.warning("%s is deprecated; use %s (same meaning)", old, name)
            return old, settings.get(old)
        value = settings.get(name)
        return name, SETTINGS[name].default if value is None else value

    def flag(self, name: str) -> bool:
        raw = self.raw(name)
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        raise HasDataSettingError(f"{name} is {raw!r}; set it to True or False")

    def number(
        self, name: str, kind: type, *, minimum: float, above: bool = False, optional: bool = False
    ) -> Any:
        name, raw = self.source(name)
        if raw is None or raw == "":
            if optional:
                return None
            raw = SETTINGS[RENAMED.get(name, name)].default
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = kind(raw)
            if kind is int and isinstance(raw, float) and raw != int(raw):
                raise ValueError
        except (TypeError, ValueError):
            noun = "an integer" if kind is int else "a number"
            raise HasDataSettingError(f"{name} is {raw!r}; set it to {noun}") from None
        if value < minimum or (above and value == minimum):
            bound = f"more than {minimum:g}" if above else f"{minimum:g} or more"
            raise HasDataSettingError(f"{name} is {raw!r}; set it to {bound}")
        return value


def _api_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HasDataSettingError(
            f"HASDATA_API_URL is {value!r}; set it to an http:// or https:// URL with a host, "
            f"e.g. {DEFAULT_API_URL}"
        )
    if parts.username or parts.password or parts.query:
        raise HasDataSettingError(
            "HASDATA_API_URL carries a user name, password or query; give the bare base URL "
            "(the key goes in HASDATA_API_KEY)"
        )
    return value.strip().rstrip("/")


def is_loopback(api_url: str) -> bool:
    host = (urlsplit(api_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _check_poll_interval(seconds: float, api_url: str) -> None:
    # The floor protects a HasData account; a local emulator has none to protect.
    if is_loopback(api_url):
        return
    if seconds < POLL_FLOOR:
        raise HasDataSettingError(
            f"HASDATA_POLL_FIRST_DELAY is {seconds:g}; polls that fast use up the account's "
            f"concurrency: set it to {POLL_FLOOR:g} or more ({POLL_ADVISED:g} is HasData's advice)"
        )
    if seconds < POLL_ADVISED:
        logger.warning(
            "HASDATA_POLL_FIRST_DELAY is %g s; HasData asks clients not to poll a job "
            "faster than every %g s",
            seconds,
            POLL_ADVISED,
        )
