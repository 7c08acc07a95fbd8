"""Every ``WDS_*`` setting the downloader side reads: defaults, parsing, validation.

One table (:data:`DEFAULTS`) feeds the add-on's gap filling, the docs and
:class:`WdsSettings`, so a setting cannot be documented with one default and
read with another.  Each bad value raises a :class:`ValueError` that names
the setting and says what it accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

#: Defaults of the settings read here (``WDS_API_URL`` has none: it enables WDS).
DEFAULTS: dict[str, Any] = {
    "WDS_API_HEADERS": {"X-Tenant-Id": "default"},
    "WDS_SECRET_HEADERS": [],
    "WDS_POLL_FIRST_DELAY": 0.5,
    "WDS_POLL_MAX_DELAY": 10.0,
    "WDS_POLL_MAX_WAIT": 600.0,
    "WDS_RETRY_TIMES": 3,
    "WDS_RETRY_FIRST_DELAY": 1.0,
    "WDS_RETRY_MAX_DELAY": 30.0,
    # Several scrapy-redis workers (read by _ledger_redis).
    "WDS_WORKER_TIMEOUT": 15.0,
    "WDS_ORPHAN_GRACE": 30.0,
}

#: The settings that are a number of seconds.
_SECONDS = (
    "WDS_POLL_FIRST_DELAY",
    "WDS_POLL_MAX_DELAY",
    "WDS_POLL_MAX_WAIT",
    "WDS_RETRY_FIRST_DELAY",
    "WDS_RETRY_MAX_DELAY",
)

#: Header names whose values are always secret, whatever the settings say.
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})
#: A header named like one of these words is secret too (X-Api-Key, X-Auth-Token…).
_SECRET_WORDS = re.compile(r"key|token|secret|passw|auth", re.IGNORECASE)

MASK = "***"
_AUTH_SCHEMES = frozenset({"basic", "bearer", "digest", "token"})


@dataclass(frozen=True)
class WdsSettings:
    """The validated downloader-side WDS settings of one crawler."""

    api_url: str
    headers: dict[str, str]
    secret_header_names: frozenset[str]
    poll_first_delay: float
    poll_max_delay: float
    poll_max_wait: float
    retry_times: int
    retry_first_delay: float
    retry_max_delay: float
    secret_values: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        values: set[str] = set()
        for name, value in self.headers.items():
            if self.is_secret(name) and value:
                # "Bearer abc123": the token alone must not leak either.
                values.add(value)
                values.update(
                    part
                    for part in value.split()
                    if len(part) >= 4 and part.lower() not in _AUTH_SCHEMES
                )
        object.__setattr__(self, "secret_values", tuple(sorted(values, key=len, reverse=True)))

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> WdsSettings:
        seconds = {name: _positive_number(settings, name) for name in _SECONDS}
        for first, cap in (
            ("WDS_POLL_FIRST_DELAY", "WDS_POLL_MAX_DELAY"),
            ("WDS_RETRY_FIRST_DELAY", "WDS_RETRY_MAX_DELAY"),
        ):
            if seconds[first] > seconds[cap]:
                raise ValueError(
                    f"{first} ({seconds[first]:g} s) must not exceed {cap} ({seconds[cap]:g} s)"
                )
        return cls(
            api_url=parse_api_url(settings.get("WDS_API_URL")),
            headers=parse_api_headers(
                settings.get("WDS_API_HEADERS", DEFAULTS["WDS_API_HEADERS"])
            ),
            secret_header_names=_secret_header_names(settings),
            poll_first_delay=seconds["WDS_POLL_FIRST_DELAY"],
            poll_max_delay=seconds["WDS_POLL_MAX_DELAY"],
            poll_max_wait=seconds["WDS_POLL_MAX_WAIT"],
            retry_times=_whole_number(settings, "WDS_RETRY_TIMES"),
            retry_first_delay=seconds["WDS_RETRY_FIRST_DELAY"],
            retry_max_delay=seconds["WDS_RETRY_MAX_DELAY"],
        )

    def is_secret(self, header_name: str) -> bool:
        name = header_name.strip().lower()
        return (
            name in ALWAYS_SECRET
            or name in self.secret_header_names
            or bool(_SECRET_WORDS.search(name))
        )

    def describe_headers(self) -> str:
        """``Name: value`` pairs for logs, with every secret value masked."""
        return ", ".join(
            f"{k}: {MASK if self.is_secret(k) else v}" for k, v in self.headers.items()
        ) or "(none)"

    def redact(self, text: str) -> str:
        """``text`` with every secret header value replaced by a mask.

        Server error texts are shown to the user; a proxy that echoes the
        request back must not leak a token through them.
        """
        for value in self.secret_values:
            text = text.replace(value, MASK)
        return text


def parse_api_url(value: Any) -> str:
    """``WDS_API_URL`` with exactly one trailing slash, so paths join under it."""
    if not value:
        raise ValueError(
            "WDS_API_URL is not set: give the WDS server's base URL, e.g. "
            "http://localhost:2807 (a path such as http://host/wds/ is fine)"
        )
    if not isinstance(value, str):
        raise ValueError(f"WDS_API_URL must be a string URL, got {value!r}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"WDS_API_URL must be an http:// or https:// URL with a host, got {value!r}"
        )
    if parts.username or parts.password:
        raise ValueError(
            "WDS_API_URL must not carry a user name or password (URLs end up in logs); "
            'put credentials in WDS_API_HEADERS, e.g. {"Authorization": "Bearer …"}'
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"WDS_API_URL must not carry a query or fragment, got {value!r}; "
            "put extra parameters in WDS_API_HEADERS instead"
        )
    return value.strip().rstrip("/") + "/"


def parse_api_headers(value: Any) -> dict[str, str]:
    """``WDS_API_HEADERS`` as a dict of str → str (a dict or a JSON object string)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                "WDS_API_HEADERS must be a dict or a JSON object string such as "
                f'\'{{"X-Tenant-Id": "default"}}\'; the string is not valid JSON ({exc.msg})'
            ) from None
    if isinstance(value, BaseSettings):
        value = value.copy_to_dict()
    if not isinstance(value, Mapping):
        raise ValueError(
            f"WDS_API_HEADERS must be a dict of header names to values, got {type(value).__name__}"
        )
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"WDS_API_HEADERS has an invalid header name {name!r}")
        if not isinstance(header_value, (str, int, float)) or isinstance(header_value, bool):
            # Never echo the value: it may be a credential.
            raise ValueError(
                f"WDS_API_HEADERS[{name!r}] must be a string, got {type(header_value).__name__}"
            )
        headers[name.strip()] = str(header_value)
    return headers


def _secret_header_names(settings: BaseSettings) -> frozenset[str]:
    """``WDS_SECRET_HEADERS`` (a list, or a comma-separated string) as lower-case names."""
    names = settings.get("WDS_SECRET_HEADERS", DEFAULTS["WDS_SECRET_HEADERS"])
    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    if not isinstance(names, (list, tuple, set, frozenset)) or not all(
        isinstance(n, str) for n in names
    ):
        raise ValueError(
            "WDS_SECRET_HEADERS must be a list of header names (or a comma-separated "
            f"string), got {names!r}"
        )
    return frozenset(n.strip().lower() for n in names)


def _whole_number(settings: BaseSettings, name: str) -> int:
    raw = settings.get(name, DEFAULTS[name])
    problem = ValueError(f"{name} must be a whole number ≥ 0, got {raw!r}")
    # True is an int to Python, and int(2.5) would cut silently: refuse both.
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise problem
    try:
        number = int(raw)
    except ValueError:
        raise problem from None
    if number < 0:
        raise problem
    return number


def _positive_number(settings: BaseSettings, name: str) -> float:
    raw = settings.get(name, DEFAULTS[name])
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds > 0, got {raw!r}") from None
    if isinstance(raw, bool) or not number > 0 or number == float("inf"):
        raise ValueError(f"{name} must be a number of seconds > 0, got {raw!r}")
    return number
