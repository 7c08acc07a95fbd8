"""How the WDS emulator downloads a task's page: for real, once, politely.

A :class:`PageFetcher` asks each host for its ``robots.txt`` once, spaces its
requests per host when the job sets a crawl delay, and turns the answer into
a :class:`Page`: the task's final state, the DownloadInfo records the info
endpoint shows, and the body that crawl and scrape run selectors on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp
from parsel import Selector
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

from scrapy_wds.testing._wds_jobconfig import JobSettings

DEFAULT_USER_AGENT = "WdsEmulator/1.0 (scrapy-wds local stand-in)"

HANDLED = "Handled"
ACCESS_DENIED_FOR_ROBOTS = "AccessDeniedForRobots"
ALL_REQUEST_GATES_EXHAUSTED = "AllRequestGatesExhausted"


class ContentProblem(ValueError):
    """A page body selectors cannot run on; the service answers 422."""


@dataclass
class Page:
    """The outcome of downloading one task's page."""

    state: str
    url: str
    error: str | None = None
    result: dict[str, Any] | None = None  # DownloadInfo, PascalCase keys
    intermediate: list[dict[str, Any]] = field(default_factory=list)
    body: bytes = b""
    content_type: str = ""
    _document: Selector | None = None

    def document(self) -> Selector:
        """The parsed body (parsed once); :class:`ContentProblem` if it is not HTML text."""
        if self._document is None:
            self._document = Selector(text=self._decode(), type="html", base_url=self.url)
        return self._document

    def _decode(self) -> str:
        mime = self.content_type.split(";")[0].strip().lower()
        if mime and not (mime.startswith("text/") or "html" in mime or "xml" in mime):
            raise ContentProblem(
                f"the page {self.url} is {mime}, not HTML; nothing to select in it"
            )
        encoding = (
            http_content_type_encoding(self.content_type)
            or html_body_declared_encoding(self.body)
            or "utf-8"
        )
        try:
            return self.body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ContentProblem(
                f"the page {self.url} cannot be decoded as {encoding}; nothing to select in it"
            ) from None


def _header_list(headers: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return [{"Name": name, "Values": values} for name, values in grouped.items()]


def _cookie_list(cookies: SimpleCookie, host: str) -> list[dict[str, Any]]:
    listed = []
    for name, morsel in cookies.items():
        cookie: dict[str, Any] = {
            "Name": name,
            "Value": morsel.value,
            "Domain": morsel["domain"] or host,
            "Path": morsel["path"] or "/",
            "HttpOnly": bool(morsel["httponly"]),
            "Secure": bool(morsel["secure"]),
        }
        if morsel["expires"]:
            cookie["Expires"] = morsel["expires"]
        listed.append(cookie)
    return listed


def _download_info(
    response: aiohttp.ClientResponse, started: datetime, took: float, waited: float, delay: float
) -> dict[str, Any]:
    return {
        "Method": response.method,
        "Url": str(response.url),
        "IsSuccess": 200 <= response.status < 300,
        "HttpStatusCode": response.status,
        "ReasonPhrase": response.reason or "",
        "RequestHeaders": _header_list(response.request_info.headers.items()),
        "ResponseHeaders": _header_list(response.headers.items()),
        "RequestCookies": [],
        "ResponseCookies": _cookie_list(response.cookies, response.url.host or ""),
        "RequestDateUtc": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DownloadTimeSec": round(took, 6),
        "ViaProxy": False,
        "WaitTimeSec": round(waited, 6),
        "CrawlDelaySec": int(delay),
    }


class PageFetcher:
    """Downloads pages over a shared aiohttp session on the emulator's loop."""

    def __init__(self, *, parallel: int = 16) -> None:
        self._parallel = parallel
        self._session: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None
        self._robots: dict[str, asyncio.Task[RobotFileParser | None]] = {}
        self._next_turn: dict[str, float] = {}
        self._rng = random.Random(0)

    async def open(self) -> None:
        # Each task is a fresh visit: the emulator keeps no cookies between pages.
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self._gate = asyncio.Semaphore(self._parallel)

    async def close(self) -> None:
        self.forget()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def forget(self) -> None:
        """Drop cached robots.txt files and crawl-delay turns (on reset)."""
        for pending in self._robots.values():
            pending.cancel()
        self._robots.clear()
        self._next_turn.clear()
        self._rng = random.Random(0)

    async def fetch(
        self, url: str, settings: JobSettings, on_start: Callable[[], None] = lambda: None
    ) -> Page:
        assert self._session is not None, "fetcher not open"
        assert self._gate is not None, "fetcher not open"
        queued = time.monotonic()
        headers = list(settings.headers)
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers.append(("User-Agent", DEFAULT_USER_AGENT))
        agent = next(value for name, value in headers if name.lower() == "user-agent")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        robots = await self._robots_for(f"{parts.scheme}://{parts.netloc}", headers, settings)
        if robots is not None and not robots.can_fetch(agent, url):
            return Page(
                ACCESS_DENIED_FOR_ROBOTS,
                url,
                error=f"robots.txt of {parts.netloc} disallows {url} for {agent!r}",
            )
        delay = self._crawl_delay(host, settings, robots, agent)
        await self._wait_turn(host, delay)
        async with self._gate:
            on_start()
            waited = time.monotonic() - queued
            started_at = datetime.now(timezone.utc)
            began = time.monotonic()
            try:
                async with self._session.get(
                    url,
                    headers=headers,
                    # aiohttp gives up on reaching max_redirects hops; WDS allows that many.
                    max_redirects=settings.max_redirects + 1,
                    ssl=settings.verify_certificates,
                    timeout=aiohttp.ClientTimeout(total=settings.request_timeout),
                ) as response:
                    body = await response.read()
            except aiohttp.TooManyRedirects:
                return Page(
                    ALL_REQUEST_GATES_EXHAUSTED,
                    url,
                    error=f"{url} redirects more than {settings.max_redirects} times "
                    "(CrawlersProtectionBypass.MaxRedirectHops)",
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                reason = str(exc) or type(exc).__name__
                return Page(
                    ALL_REQUEST_GATES_EXHAUSTED,
                    url,
                    error=f"every request gate failed for {url}: {reason}",
                )
            took = time.monotonic() - began
        return Page(
            HANDLED,
            str(response.url),
            result=_download_info(response, started_at, took, waited, delay),
            intermediate=[
                _download_info(hop, started_at, 0.0, 0.0, 0.0) for hop in response.history
            ],
            body=body,
            content_type=response.headers.get("Content-Type", ""),
        )

    async def _robots_for(
        self, origin: str, headers: list[tuple[str, str]], settings: JobSettings
    ) -> RobotFileParser | None:
        if origin not in self._robots:
            self._robots[origin] = asyncio.ensure_future(
                self._fetch_robots(origin, headers, settings.request_timeout)
            )
        return await asyncio.shield(self._robots[origin])

    async def _fetch_robots(
        self, origin: str, headers: list[tuple[str, str]], timeout: float
    ) -> RobotFileParser | None:
        """The host's rules, or None (allow all) when it has no readable robots.txt."""
        assert self._session is not None
        try:
            async with self._session.get(
                origin + "/robots.txt",
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                if response.status != 200:
                    return None
                text = (await response.read()).decode("utf-8", errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        return parser

    def _crawl_delay(
        self, host: str, settings: JobSettings, robots: RobotFileParser | None, agent: str
    ) -> float:
        spec = settings.crawl_delay(host)
        if spec is None:
            return 0.0
        if spec.from_robots:
            found = robots.crawl_delay(agent) if robots is not None else None
            return float(found or 0)
        return self._rng.uniform(spec.low, spec.high)

    async def _wait_turn(self, host: str, delay: float) -> None:
        """Keep ``delay`` seconds between the starts of requests to one host."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        turn = max(self._next_turn.get(host, now), now)
        self._next_turn[host] = turn + delay
        if turn > now:
            await asyncio.sleep(turn - now)
