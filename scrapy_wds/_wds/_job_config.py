"""``JobConfig``: the body of "start job", typed on the Python side, checked before sending.

Python attributes are snake_case and flat (``restart_mode`` rather than
``Restart.RestartMode``); one table, :data:`_FIELDS`, says where each lands on
the wire and how it is checked, so mapping and validation cannot drift apart.
The wire form is PascalCase with enums by name, exactly as documented.  Parts
of the config this package does not know go in ``extra`` (wire keys, as the
server expects them) and are sent untouched, so newer servers keep working.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit


class JobConfigError(ValueError):
    """A JobConfig that the service would reject; the message names the field."""


# -- checks: each takes the value and the field's name for messages ----------

Check = Callable[[Any, str], Any]


def _enum(*names: str) -> Check:
    def check(value: Any, where: str) -> str:
        if isinstance(value, str):
            for name in names:
                if name.lower() == value.strip().lower():
                    return name
        raise JobConfigError(f"{where} is {value!r}; use one of: {', '.join(names)}")

    return check


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise JobConfigError(f"{where} must be True or False, not {value!r}")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JobConfigError(f"{where} must be a whole number >= 0, not {value!r}")
    return value


def _start_urls(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise JobConfigError(f"{where} must be a list of URLs, not {value!r}")
    if not value:
        raise JobConfigError(f"{where} is empty; give at least one absolute http(s) page URL")
    for index, url in enumerate(value):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise JobConfigError(f"{where}[{index}] {url!r} is not an absolute http(s) URL")
    return [url.strip() for url in value]


def _headers(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise JobConfigError(f"{where} must be a mapping of header name to value(s), not {value!r}")
    entries = []
    for name, values in value.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(name, str) or not name.strip():
            raise JobConfigError(f"{where}: header names must be non-empty strings, not {name!r}")
        if not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
            raise JobConfigError(f"{where}[{name!r}] must be a string or a list of strings")
        entries.append({"Name": name.strip(), "Values": list(values)})
    return {"DefaultRequestHeaders": entries}


# "3" (seconds), "0-3" (a random delay in that range) or "robots" (robots.txt's Crawl-delay).
_DELAY = re.compile(r"\A(\d+)(?:-(\d+))?\Z")
_DELAY_HELP = 'use whole seconds ("3"), a range ("0-3") or "robots"'


def _crawl_delays(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, Mapping):
        raise JobConfigError(
            f"{where} must be a mapping of host to delay, e.g. {{'example.com': '0-3'}}"
        )
    delays = []
    for host, delay in value.items():
        if not isinstance(host, str) or not host.strip():
            raise JobConfigError(f"{where}: hosts must be non-empty strings, not {host!r}")
        if isinstance(delay, int) and not isinstance(delay, bool) and delay >= 0:
            delay = str(delay)
        text = delay.strip() if isinstance(delay, str) else ""
        if text.lower() == "robots":
            text = "robots"
        else:
            match = _DELAY.match(text)
            if match is None:
                raise JobConfigError(f"{where}[{host!r}] is {delay!r}; {_DELAY_HELP}")
            if match.group(2) is not None and int(match.group(2)) < int(match.group(1)):
                raise JobConfigError(
                    f"{where}[{host!r}] is {delay!r}: a range goes from low to high"
                )
        delays.append({"Host": host.strip(), "Delay": text})
    return delays


def _response_codes(value: Any, where: str) -> str:
    codes = value.split(",") if isinstance(value, str) else value
    if not isinstance(codes, Sequence) or not codes:
        raise JobConfigError(f'{where} must be status codes like "401, 403" or [401, 403]')
    texts = [str(code).strip() for code in codes]
    if not all(re.fullmatch(r"[1-5]\d\d", text) for text in texts):
        raise JobConfigError(f'{where} is {value!r}; give HTTP status codes like "401, 403"')
    return ", ".join(texts)


_proxy_protocol = _enum("http", "https", "socks5")


def _pascal(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def _proxies(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise JobConfigError(f"{where} must be a list of proxies (mappings with host and port)")
    proxies = []
    for index, proxy in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(proxy, Mapping):
            raise JobConfigError(
                f"{at} must be a mapping like {{'host': 'proxy.local', 'port': 3128}}"
            )
        # snake_case (Python style) or PascalCase (wire style) keys are both fine.
        wire = {_pascal(str(key)): item for key, item in proxy.items()}
        host, port = wire.get("Host"), wire.get("Port")
        if not isinstance(host, str) or not host.strip():
            raise JobConfigError(f"{at} needs a host")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise JobConfigError(f"{at} needs a port between 1 and 65535, not {port!r}")
        if "Protocol" in wire:
            wire["Protocol"] = _proxy_protocol(wire["Protocol"], f"{at}.protocol")
        proxies.append(wire)
    return proxies


def _pass_through(value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise JobConfigError(f"{where} must be a mapping (it is sent as given)")
    return dict(value)


#: attribute → (path on the wire, check returning the wire value)
_FIELDS: dict[str, tuple[tuple[str, ...], Check]] = {
    "start_urls": (("StartUrls",), _start_urls),
    "type": (("Type",), _enum("Internet", "Intranet")),
    "headers": (("Headers",), _headers),
    "restart_mode": (("Restart", "RestartMode"), _enum("Continue", "FromScratch")),
    "suppress_https_certificate_validation": (
        ("Https", "SuppressHttpsCertificateValidation"),
        _bool,
    ),
    "use_cookies": (("Cookies", "UseCookies"), _bool),
    "use_proxy": (("Proxy", "UseProxy"), _bool),
    "send_overt_requests_on_proxies_failure": (
        ("Proxy", "SendOvertRequestsOnProxiesFailure"),
        _bool,
    ),
    "iterate_proxy_response_codes": (("Proxy", "IterateProxyResponseCodes"), _response_codes),
    "proxies": (("Proxy", "Proxies"), _proxies),
    "error_policy": (("DownloadErrorHandling", "Policy"), _enum("Skip", "Retry")),
    "retry_delay_ms": (("DownloadErrorHandling", "RetryPolicyParams", "RetryDelayMs"), _count),
    "retries_limit": (("DownloadErrorHandling", "RetryPolicyParams", "RetriesLimit"), _count),
    "max_response_size_kb": (("CrawlersProtectionBypass", "MaxResponseSizeKb"), _count),
    "max_redirect_hops": (("CrawlersProtectionBypass", "MaxRedirectHops"), _count),
    "request_timeout_sec": (("CrawlersProtectionBypass", "RequestTimeoutSec"), _count),
    "crawl_delays": (("CrawlersProtectionBypass", "CrawlDelays"), _crawl_delays),
    "cross_domain_access": (("CrossDomainAccess",), _pass_through),
}


@dataclass
class JobConfig:
    """What a WDS job crawls and how; only ``start_urls`` is required.

    ``headers`` is ``{name: value or [values]}``; ``crawl_delays`` is
    ``{host: "3" | "0-3" | "robots"}``; ``proxies`` is a list of mappings
    (``host``, ``port``, ``protocol``, ``user_name``, ``password``,
    ``connections_limit``, ``available_hosts``).  ``extra`` holds any other
    part of the config, in wire form (``{"SomeNewSection": {...}}``), sent as is.
    """

    start_urls: Sequence[str] = ()
    type: str | None = None
    headers: Mapping[str, str | Sequence[str]] | None = None
    restart_mode: str | None = None
    suppress_https_certificate_validation: bool | None = None
    use_cookies: bool | None = None
    use_proxy: bool | None = None
    send_overt_requests_on_proxies_failure: bool | None = None
    iterate_proxy_response_codes: str | Sequence[int] | None = None
    proxies: Sequence[Mapping[str, Any]] | None = None
    error_policy: str | None = None
    retry_delay_ms: int | None = None
    retries_limit: int | None = None
    max_response_size_kb: int | None = None
    max_redirect_hops: int | None = None
    request_timeout_sec: int | None = None
    crawl_delays: Mapping[str, str | int] | None = None
    cross_domain_access: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The checked JSON body; raises :class:`JobConfigError` naming the bad field."""
        _check_no_unknown_fields(self)
        wire: dict[str, Any] = {}
        for attr in (f.name for f in fields(self) if f.name != "extra"):
            value = getattr(self, attr)
            if value is None:
                continue
            path, check = _FIELDS[attr]
            _put(wire, path, check(value, f"JobConfig.{attr}"))
        if not isinstance(self.extra, Mapping):
            raise JobConfigError("JobConfig.extra must be a mapping of wire keys to values")
        _merge(wire, self.extra, "JobConfig.extra")
        return wire

    def validate(self) -> None:
        self.to_wire()


#: The constructor the dataclass wrote, wrapped below.
_dataclass_init = JobConfig.__init__
_ATTRIBUTES = tuple(f.name for f in fields(JobConfig))


def _init_keeping_unknown_fields(self: JobConfig, *args: Any, **kwargs: Any) -> None:
    """The dataclass constructor, except that unknown keywords are kept for :meth:`to_wire`.

    ``wds_job = JobConfig(strat_urls=[...])`` runs when Scrapy imports the
    spider module: a TypeError there is a traceback from Scrapy's spider
    loader.  Kept here, the typo becomes one line naming it when the spider
    starts, and the crawl is refused before anything is sent.
    """
    unknown = {name: kwargs.pop(name) for name in list(kwargs) if name not in _ATTRIBUTES}
    _dataclass_init(self, *args, **kwargs)
    self.__dict__["_unknown_fields"] = sorted(unknown)


JobConfig.__init__ = _init_keeping_unknown_fields  # type: ignore[method-assign]


def _check_no_unknown_fields(config: JobConfig) -> None:
    unknown = config.__dict__.get("_unknown_fields") or []
    if not unknown:
        return
    guesses = [
        f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
        for name in unknown
        for close in [difflib.get_close_matches(name, _ATTRIBUTES, n=1)]
    ]
    every_guessed = all("did you mean" in guess for guess in guesses)
    fields_list = "" if every_guessed else f"; its fields are {', '.join(_ATTRIBUTES)}"
    raise JobConfigError(
        f"JobConfig has no field {', '.join(guesses)}{fields_list} "
        "(wire keys the server knows go in extra={...})"
    )


def _put(wire: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        wire = wire.setdefault(key, {})
    wire[path[-1]] = value


def _merge(wire: dict[str, Any], extra: Mapping[str, Any], where: str) -> None:
    """Add ``extra`` into ``wire``; a key set both ways is an error, not a silent pick."""
    for key, value in extra.items():
        existing = next((k for k in wire if k.lower() == str(key).lower()), None)
        if existing is None:
            wire[key] = value
        elif isinstance(wire[existing], dict) and isinstance(value, Mapping):
            _merge(wire[existing], value, f"{where}[{key!r}]")
        else:
            raise JobConfigError(
                f"{where}[{key!r}] sets a part of the config that a JobConfig attribute "
                "already sets; set it in one place only"
            )
