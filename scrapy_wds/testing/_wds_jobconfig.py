"""Reading a WDS JobConfig the way a lenient .NET server would.

Keys are matched case-insensitively (PascalCase as documented, camelCase as
.NET binds by default), enums by name in any case or by their integer, and
unknown fields are ignored.  What the emulator cannot accept (no start URLs,
an unknown enum name, a malformed crawl delay) is a :class:`JobConfigProblem`,
answered with 400 and a reason naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from w3lib.url import safe_url_string

_JOB_TYPES = ("Internet", "Intranet")
_RESTART_MODES = ("Continue", "FromScratch")
_ERROR_POLICIES = ("Skip", "Retry")
_PROXY_PROTOCOLS = ("http", "https", "socks5")
_DELAY = re.compile(r"\A\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?\Z")


class JobConfigProblem(ValueError):
    """A JobConfig the service rejects with 400; the message names the field."""


@dataclass(frozen=True)
class CrawlDelay:
    """``"3"`` → (3, 3); ``"0-3"`` → (0, 3); ``"robots"`` → from robots.txt."""

    low: float = 0.0
    high: float = 0.0
    from_robots: bool = False


@dataclass
class JobSettings:
    """What the emulator uses of a job's config (the rest is kept as given)."""

    start_urls: list[str]
    headers: list[tuple[str, str]] = field(default_factory=list)
    restart_from_scratch: bool = False
    request_timeout: float = 30.0
    max_redirects: int = 10
    verify_certificates: bool = True
    crawl_delays: dict[str, CrawlDelay] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def hosts(self) -> set[str]:
        return {(urlsplit(url).hostname or "").lower() for url in self.start_urls}

    def crawl_delay(self, host: str) -> CrawlDelay | None:
        return self.crawl_delays.get(host.lower())


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute, fragment-free, safely escaped http(s) URL; None for anything else.

    Start URLs and crawled links go through the same function, so one page
    always has one spelling, and so one task id in its job.
    """
    try:
        absolute, _fragment = urldefrag(urljoin(base, url.strip()) if base else url.strip())
        parts = urlsplit(absolute)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        return safe_url_string(absolute)
    except ValueError:  # "http://[bad", hosts IDNA cannot encode…
        return None


def get_field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` with the key matched case-insensitively, else None."""
    wanted = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


def _object(obj: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = get_field(obj, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JobConfigProblem(f"{where}{name} must be a JSON object")
    return value


def _list(obj: dict[str, Any], name: str, where: str) -> list[Any]:
    value = get_field(obj, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise JobConfigProblem(f"{where}{name} must be a JSON array")
    return value


def _enum(value: Any, allowed: tuple[str, ...], where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(allowed):
        return allowed[value]
    if isinstance(value, str):
        for name in allowed:
            if name.lower() == value.strip().lower():
                return name
    raise JobConfigProblem(f"{where}: unknown value {value!r}; use one of {', '.join(allowed)}")


def _number(value: Any, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise JobConfigProblem(f"{where} must be a non-negative number, not {value!r}")
    return float(value)


def _start_urls(config: dict[str, Any]) -> list[str]:
    urls = get_field(config, "StartUrls")
    if urls is None or urls == []:
        raise JobConfigProblem("StartUrls is missing or empty; give at least one page URL")
    if not isinstance(urls, list):
        raise JobConfigProblem("StartUrls must be a JSON array of URLs")
    normalized = []
    for index, url in enumerate(urls):
        page = normalize_url(url) if isinstance(url, str) else None
        if page is None:
            raise JobConfigProblem(f"StartUrls[{index}] {url!r} is not an absolute http(s) URL")
        normalized.append(page)
    return normalized


def _headers(config: dict[str, Any]) -> list[tuple[str, str]]:
    section = _object(config, "Headers", "")
    headers: list[tuple[str, str]] = []
    for index, entry in enumerate(_list(section, "DefaultRequestHeaders", "Headers.")):
        where = f"Headers.DefaultRequestHeaders[{index}]"
        name = get_field(entry, "Name") if isinstance(entry, dict) else None
        values = get_field(entry, "Values") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise JobConfigProblem(f"{where}.Name must be a non-empty string")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise JobConfigProblem(f"{where}.Values must be an array of strings")
        headers.extend((name.strip(), value) for value in values)
    return headers


def _crawl_delays(protection: dict[str, Any]) -> dict[str, CrawlDelay]:
    delays: dict[str, CrawlDelay] = {}
    for index, entry in enumerate(_list(protection, "CrawlDelays", "CrawlersProtectionBypass.")):
        where = f"CrawlersProtectionBypass.CrawlDelays[{index}]"
        if not isinstance(entry, dict):
            raise JobConfigProblem(f"{where} must be an object with Host and Delay")
        host, delay = get_field(entry, "Host"), get_field(entry, "Delay")
        if not isinstance(host, str) or not host.strip():
            raise JobConfigProblem(f"{where}.Host must be a non-empty host name")
        text = str(delay).strip() if isinstance(delay, (str, int, float)) else ""
        if text.lower() == "robots":
            delays[host.strip().lower()] = CrawlDelay(from_robots=True)
            continue
        match = _DELAY.match(text)
        if match is None or isinstance(delay, bool):
            raise JobConfigProblem(
                f'{where}.Delay {delay!r} is malformed; use seconds ("3"), '
                'a range ("0-3") or "robots"'
            )
        low = float(match.group(1))
        high = float(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise JobConfigProblem(f"{where}.Delay {delay!r}: the range must go from low to high")
        delays[host.strip().lower()] = CrawlDelay(low, high)
    return delays


def parse_job_config(config: Any) -> JobSettings:
    if not isinstance(config, dict):
        raise JobConfigProblem("the body must be a JobConfig JSON object")
    _enum(get_field(config, "Type"), _JOB_TYPES, "Type")
    restart = _enum(
        get_field(_object(config, "Restart", ""), "RestartMode"),
        _RESTART_MODES,
        "Restart.RestartMode",
    )
    handling = _object(config, "DownloadErrorHandling", "")
    _enum(get_field(handling, "Policy"), _ERROR_POLICIES, "DownloadErrorHandling.Policy")
    for index, proxy in enumerate(_list(_object(config, "Proxy", ""), "Proxies", "Proxy.")):
        if isinstance(proxy, dict):
            where = f"Proxy.Proxies[{index}].Protocol"
            _enum(get_field(proxy, "Protocol"), _PROXY_PROTOCOLS, where)
    protection = _object(config, "CrawlersProtectionBypass", "")
    suppress = get_field(_object(config, "Https", ""), "SuppressHttpsCertificateValidation")
    if suppress is not None and not isinstance(suppress, bool):
        raise JobConfigProblem("Https.SuppressHttpsCertificateValidation must be true or false")
    return JobSettings(
        start_urls=_start_urls(config),
        headers=_headers(config),
        restart_from_scratch=restart == "FromScratch",
        request_timeout=_number(
            get_field(protection, "RequestTimeoutSec"),
            "CrawlersProtectionBypass.RequestTimeoutSec",
            30.0,
        )
        or 30.0,
        max_redirects=int(
            _number(
                get_field(protection, "MaxRedirectHops"),
                "CrawlersProtectionBypass.MaxRedirectHops",
                10,
            )
        ),
        crawl_delays=_crawl_delays(protection),
        verify_certificates=not suppress,
        raw=config,
    )
