"""Every ``WDS_*`` setting: defaults, descriptions, parsing, validation.

One table (:data:`SETTINGS`) feeds the add-on's gap filling, the docs and
:class:`WdsSettings`, so a setting cannot be documented with one default and
read with another.  A bad value raises a :class:`WdsSettingsError` (a
``ValueError``) that names each bad setting and says what it accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from scrapy_wds._setting import Setting

#: Every setting of the WDS half, with its default and what it changes.
SETTINGS: dict[str, Setting] = {
    "WDS_API_URL": Setting(
        None, "Base URL of the WDS server (e.g. http://localhost:2807); setting it enables WDS."
    ),
    "WDS_API_HEADERS": Setting(
        {"X-Tenant-Id": "default"},
        "Headers sent with every API call (a dict or a JSON object string), never stored on requests.",
    ),
    "WDS_SECRET_HEADERS": Setting(
        [],
        "More header names whose values are masked in logs (Authorization, Cookie and *key*/*token* names always are).",
    ),
    "WDS_POLL_FIRST_DELAY": Setting(
        0.5, "Seconds before the first new poll of a task that is not downloaded yet (202)."
    ),
    "WDS_POLL_MAX_DELAY": Setting(10.0, "Cap, in seconds, of the doubling delay between polls."),
    "WDS_POLL_MAX_WAIT": Setting(
        600.0, "Seconds a task may stay not-downloaded before its call fails with WdsGaveUpWaiting."
    ),
    "WDS_RETRY_TIMES": Setting(
        3, "Retries of a call that met a 5xx, 408, 429, a failed connection or a malformed 200."
    ),
    "WDS_RETRY_FIRST_DELAY": Setting(1.0, "Seconds before the first retry of a failed call."),
    "WDS_RETRY_MAX_DELAY": Setting(30.0, "Cap, in seconds, of the doubling delay between retries."),
    "WDS_START_PATIENCE": Setting(
        60.0,
        "Seconds the job start keeps retrying while the API is unreachable or failing; "
        "beyond it the crawl closes with wds_unreachable.",
    ),
    "WDS_SCRAPE_MULTIPLE_METHOD": Setting(
        "auto", 'How scrape-multiple is sent: "auto" (GET while the URL is short), "get" or "post".'
    ),
    "WDS_SELECTOR_WARN_PAGES": Setting(
        20, "Warn once when a selector has matched nothing on its first this-many pages (0: never)."
    ),
    "WDS_WORKER_TIMEOUT": Setting(
        15.0,
        "With scrapy-redis: seconds without a heartbeat after which a worker is taken for dead "
        "and the WDS calls it claimed are done by the others.",
    ),
    "WDS_ORPHAN_GRACE": Setting(
        30.0,
        "With scrapy-redis: seconds an owed WDS call that no worker claims or parks may go "
        "untouched (it may be in the shared queue) before an idle worker sends it again.",
    ),
}

#: Defaults of the settings that have one (``WDS_API_URL`` has none: it enables WDS).
DEFAULTS: dict[str, Any] = {
    name: row.default for name, row in SETTINGS.items() if row.default is not None
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
SCRAPE_MULTIPLE_METHODS = ("auto", "get", "post")
_AUTH_SCHEMES = frozenset({"basic", "bearer", "digest", "token"})


class WdsSettingsError(ValueError):
    """One or more ``WDS_*`` settings are wrong; ``problems`` has one text per setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


_T = TypeVar("_T")


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
    start_patience: float = SETTINGS["WDS_START_PATIENCE"].default
    scrape_multiple_method: str = SETTINGS["WDS_SCRAPE_MULTIPLE_METHOD"].default
    selector_warn_pages: int = SETTINGS["WDS_SELECTOR_WARN_PAGES"].default
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
        """Every WDS setting read and checked; :class:`WdsSettingsError` lists each bad one."""
        problems: list[str] = []

        def read(reader: Callable[[], _T], fallback: _T) -> _T:
            try:
                return reader()
            except ValueError as exc:
                problems.append(str(exc))
                return fallback

        seconds: dict[str, float] = {}
        for name in _SECONDS:
            seconds[name] = read(partial(_positive_number, settings, name), DEFAULTS[name])
        for first, cap in (
            ("WDS_POLL_FIRST_DELAY", "WDS_POLL_MAX_DELAY"),
            ("WDS_RETRY_FIRST_DELAY", "WDS_RETRY_MAX_DELAY"),
        ):
            already_wrong = any(p.startswith((first + " ", cap + " ")) for p in problems)
            if not already_wrong and seconds[first] > seconds[cap]:
                problems.append(
                    f"{first} ({seconds[first]:g} s) must not exceed {cap} ({seconds[cap]:g} s)"
                )
        read_settings = cls(
            api_url=read(lambda: parse_api_url(settings.get("WDS_API_URL")), ""),
            headers=read(
                lambda: parse_api_headers(
                    settings.get("WDS_API_HEADERS", DEFAULTS["WDS_API_HEADERS"])
                ),
                {},
            ),
            secret_header_names=read(lambda: _secret_header_names(settings), frozenset()),
            poll_first_delay=seconds["WDS_POLL_FIRST_DELAY"],
            poll_max_delay=seconds["WDS_POLL_MAX_DELAY"],
            poll_max_wait=seconds["WDS_POLL_MAX_WAIT"],
            retry_times=read(lambda: _whole_number(settings, "WDS_RETRY_TIMES"), 0),
            retry_first_delay=seconds["WDS_RETRY_FIRST_DELAY"],
            retry_max_delay=seconds["WDS_RETRY_MAX_DELAY"],
            start_patience=read(
                lambda: _positive_number(settings, "WDS_START_PATIENCE", allow_zero=True), 0.0
            ),
            scrape_multiple_method=read(
                lambda: check_scrape_multiple_method(settings.get("WDS_SCRAPE_MULTIPLE_METHOD")),
                "auto",
            ),
            selector_warn_pages=read(lambda: _whole_number(settings, "WDS_SELECTOR_WARN_PAGES"), 0),
        )
        if problems:
            raise WdsSettingsError(problems)
        return read_settings

    def is_secret(self, header_name: str) -> bool:
        name = header_name.strip().lower()
        return (
            name in ALWAYS_SECRET
            or name in self.secret_header_names
            or bool(_SECRET_WORDS.search(name))
        )

    def describe_headers(self) -> str:
        """``Name: value`` pairs for logs, with every secret value masked."""
        return (
            ", ".join(f"{k}: {MASK if self.is_secret(k) else v}" for k, v in self.headers.items())
            or "(none)"
        )

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
        raise ValueError(
            f"WDS_API_URL must be a string URL such as http://localhost:2807, "
            f"got a {type(value).__name__}"
        )
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ValueError(
            f"WDS_API_URL {masked_url(value)!r} does not parse as a URL; give the WDS "
            "server's base URL, e.g. http://localhost:2807"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"WDS_API_URL must be an http:// or https:// URL with a host, e.g. "
            f"http://localhost:2807; got {masked_url(value)!r}"
        )
    if parts.username or parts.password:
        raise ValueError(
            "WDS_API_URL must not carry a user name or password (URLs end up in logs); "
            'put credentials in WDS_API_HEADERS, e.g. {"Authorization": "Bearer …"}'
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"WDS_API_URL must not carry a query or fragment, got {masked_url(value)!r}; "
            "put extra parameters in WDS_API_HEADERS instead"
        )
    return value.strip().rstrip("/") + "/"


def masked_url(value: str) -> str:
    """``value`` fit for a log line: a password and every query value replaced by the mask."""
    text = re.sub(r"(//[^/@:?#]*:)[^/@?#]*@", rf"\1{MASK}@", value)
    return re.sub(r"([?&;][^=&;#]*=)[^&;#]*", rf"\1{MASK}", text)


def check_scrape_multiple_method(value: object) -> str:
    text = str(value or "auto").strip().lower()
    if text not in SCRAPE_MULTIPLE_METHODS:
        raise ValueError(
            f'WDS_SCRAPE_MULTIPLE_METHOD is {value!r}; use "auto" (GET while the URL '
            'is short, POST beyond), "get" or "post"'
        )
    return text


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


def _positive_number(settings: BaseSettings, name: str, *, allow_zero: bool = False) -> float:
    raw = settings.get(name, DEFAULTS[name])
    bound = "≥ 0" if allow_zero else "> 0"
    problem = ValueError(f"{name} must be a number of seconds {bound}, got {raw!r}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise problem from None
    too_small = number < 0 if allow_zero else not number > 0
    if isinstance(raw, bool) or too_small or number != number or number == float("inf"):
        raise problem
    return number
