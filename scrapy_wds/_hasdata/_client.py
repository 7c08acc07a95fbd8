"""The calls of HasData's Scraper Jobs API, with bounded, jittered retries.

Each call is one HTTP exchange on :mod:`._transport` (Scrapy's own HTTP/1.1
download handler, owned by the extension, with Scrapy's proxy middleware
choosing the proxy): proxies, TLS settings and ``HASDATA_TIMEOUT`` are
Scrapy's, and no user middleware sees the calls (the module says why).
Every call sends a ``User-Agent`` (``scrapy-wds (Scrapy x.y)``).

The key travels only in the ``x-api-key`` header.  Error messages name the
call (method and path) and quote the server's text, never a header.

Retries (:func:`retry_wait`): 5xx, dropped connections, timeouts and
malformed answers get ``HASDATA_RETRY_TIMES`` tries with capped, jittered
backoff; 429 (the plan's concurrency is used up) gets a longer patience,
``HASDATA_RATE_LIMIT_MAX_WAIT`` seconds, honouring ``Retry-After``.  A
submit is the one call that costs money and HasData cannot list jobs, so a
submit is resent only when it surely created nothing (connection refused,
name resolution failure, a proxy that refused the tunnel, a failed TLS
handshake, 429); any other failure after the body may have left raises
:class:`HasDataSubmitUncertain` unless ``HASDATA_RETRY_UNCERTAIN_SUBMITS``
allows the risk.  Submits go out on a fresh connection: a pooled one the
server had closed would fail in a way that looks uncertain.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from scrapy_wds._backoff import backoff_delay
from scrapy_wds._hasdata._rows import MalformedAnswer, ResultsPage, parse_page
from scrapy_wds._hasdata._transport import Answer, NoAnswer, Transport

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: How much of a server's error text goes into a message.
_TEXT_LIMIT = 500


# The start of a job record whose first key is its id: '{"id": 416349,' or '{"id": "9f…",'.
_LEADING_ID = re.compile(r'^\s*\{\s*"id"\s*:\s*(?:"([^"\\]+)"|(\d+))\s*[,}]')


class HasDataApiError(Exception):
    """HasData refused a call; ``status`` is the HTTP status, ``text`` its answer."""

    #: False when the failed call surely never reached HasData (refused, 429).
    reached = True

    def __init__(self, call: str, status: int | None, text: str) -> None:
        self.call, self.status, self.text = call, status, text
        where = f"HTTP {status}" if status is not None else "no usable answer"
        super().__init__(f"HasData {call} failed ({where}): {text}")


class HasDataUnauthorized(HasDataApiError):
    """401: the key is missing or wrong.  Retrying cannot help."""


class HasDataNoCredits(HasDataApiError):
    """403: the account's credits or quota are exhausted."""


class HasDataRejected(HasDataApiError):
    """400/404/422 and other 4xx: the call itself is wrong (unknown job or slug, bad body)."""


class HasDataUnavailable(HasDataApiError):
    """429, 5xx, dropped connections or malformed answers outlasted every retry."""


class HasDataTimeout(HasDataUnavailable):
    """No whole answer came within ``HASDATA_TIMEOUT`` seconds, on every try."""


class HasDataSubmitUncertain(HasDataApiError):
    """A submit failed after its body may have reached HasData: a job may exist and cost."""


class _Retryable(Exception):
    def __init__(
        self,
        reason: str,
        status: int | None,
        text: str,
        *,
        sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(text)
        self.reason, self.status, self.text = reason, status, text
        #: False only when the request surely never reached the server.
        self.sent = sent
        self.retry_after = retry_after


def retry_wait(
    reason: str,
    attempt: int,
    waited_429: float,
    retry_after: float | None,
    *,
    retry_times: int,
    first: float,
    cap: float,
    rate_limit_max_wait: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next try, or None to give up.

    ``attempt`` counts the failed tries of this kind so far (from 0) and
    ``waited_429`` the seconds already spent waiting out 429s.  A 429 is
    retried until ``rate_limit_max_wait`` seconds of waiting are used up,
    after ``Retry-After`` when the server gives one; anything else
    ``retry_times`` times.
    """
    if reason == "429":
        left = rate_limit_max_wait - waited_429
        if left <= 0:
            return None
        if retry_after is None:
            retry_after = backoff_delay(attempt, first=first, cap=max(cap, 60.0), rng=rng)
        return min(max(retry_after, 0.0), left)
    if attempt >= retry_times:
        return None
    return backoff_delay(attempt, first=first, cap=cap, rng=rng)


class HasDataClient:
    """Asynchronous calls to one HasData account (coroutines, on the Twisted reactor)."""

    def __init__(
        self,
        *,
        crawler: Crawler,
        api_url: str,
        api_key: str,
        timeout: float,
        retry_times: int,
        retry_delay: float,
        retry_max_delay: float,
        rate_limit_max_wait: float = 900.0,
        retry_uncertain_submits: bool = False,
        user_agent: str = "scrapy-wds",
        pool_size: int = 4,
        on_event: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        hidden: Iterable[str] = (),
    ) -> None:
        """``hidden``: values never to quote from an answer (the webhook secret).

        HasData echoes the submitted body in job records, webhook headers and
        all, and an error answer may quote it; the key is hidden too.
        """
        from twisted.internet import reactor

        self._reactor = reactor
        self._api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._retry_times = retry_times
        self._retry_delay = retry_delay
        self._retry_max_delay = retry_max_delay
        self._rate_limit_max_wait = rate_limit_max_wait
        self._retry_uncertain_submits = retry_uncertain_submits
        self._user_agent = user_agent
        self._rng = rng or random.Random()
        self._on_event = on_event or (lambda name: None)
        self._hidden = _spellings([api_key, *hidden])
        self._transport = Transport(crawler, timeout=timeout, pool_size=pool_size)

    def __repr__(self) -> str:
        return f"HasDataClient({self._api_url!r})"

    # -- the API ---------------------------------------------------------

    async def submit(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start a paid job.  An answer cut short still counts when it names the job.

        A damaged answer that begins with the job's ``id`` (every record
        HasData shows does) is read as ``{"id": ...}``; the next status poll
        fills in the rest.  Raises :class:`HasDataSubmitUncertain` when a job
        may have been created but its id never arrived.
        """
        answer = await self._call(
            "POST",
            f"/scrapers/{quote(slug, safe='')}/jobs",
            body,
            read=_an_object,
            salvage_id=True,
            submit=True,
        )
        assert isinstance(answer, dict)
        return answer

    async def status(self, job_id: str) -> dict[str, Any]:
        answer = await self._call(
            "GET", f"/scrapers/jobs/{quote(job_id, safe='')}", read=_an_object
        )
        assert isinstance(answer, dict)
        return answer

    async def results(self, job_id: str, page: int, limit: int) -> ResultsPage:
        """One results page; a page not shaped like rows is retried like a 5xx."""
        query = urlencode({"page": page, "limit": limit})
        answer = await self._call(
            "GET",
            f"/scrapers/jobs/{quote(job_id, safe='')}/results?{query}",
            read=lambda body: parse_page(_an_object(body), page),
        )
        assert isinstance(answer, ResultsPage)
        return answer

    async def stop(self, job_id: str) -> Any:
        return await self._call("DELETE", f"/scrapers/jobs/{quote(job_id, safe='')}")

    async def fetch_file(self, url: str) -> Any:
        """GET a finished job's data link, once, without the key (it is pre-signed).

        Raises :class:`HasDataApiError` on any failure: the caller falls back
        to paging instead of retrying a link that may have expired.
        """
        try:
            answer = await self._send("GET", url, None, with_key=False)
        except NoAnswer as exc:  # network trouble: paging takes over
            raise HasDataApiError("GET <data link>", None, str(exc)) from None
        except Exception as exc:  # an odd scheme or URL; the link itself is not quoted (signed)
            raise HasDataApiError(
                "GET <data link>", None, f"unusable link: {type(exc).__name__}"
            ) from None
        if not 200 <= answer.status < 300:
            raise HasDataApiError("GET <data link>", answer.status, self._text(answer.body))
        try:
            return json.loads(answer.body)
        except ValueError:
            raise HasDataApiError("GET <data link>", answer.status, "answer is not JSON") from None

    async def close(self) -> None:
        """Close the connections; the extension calls it after its last call."""
        await self._transport.close()

    # -- plumbing --------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        read: Callable[[Any], Any] | None = None,
        salvage_id: bool = False,
        submit: bool = False,
    ) -> Any:
        call = f"{method} {path.split('?')[0]}"
        attempts: dict[bool, int] = {True: 0, False: 0}  # by "is it a 429"
        waited_429 = 0.0
        while True:
            try:
                return await self._attempt(call, method, path, body, read, salvage_id, submit)
            except _Retryable as retry:
                is_429 = retry.reason == "429"
                if submit and retry.sent and not is_429 and not self._retry_uncertain_submits:
                    self._on_event("errors/submit_uncertain")
                    raise HasDataSubmitUncertain(call, retry.status, retry.text) from None
                delay = retry_wait(
                    retry.reason,
                    attempts[is_429],
                    waited_429,
                    retry.retry_after,
                    retry_times=self._retry_times,
                    first=self._retry_delay,
                    cap=self._retry_max_delay,
                    rate_limit_max_wait=self._rate_limit_max_wait,
                    rng=self._rng,
                )
                if delay is None:
                    self._on_event(f"errors/{retry.reason}")
                    tries = attempts[True] + attempts[False] + 1
                    gave_up = HasDataTimeout if retry.reason == "timeout" else HasDataUnavailable
                    error = gave_up(
                        call, retry.status, f"{retry.text} (gave up after {tries} tries)"
                    )
                    error.reached = retry.sent and not is_429
                    raise error from None
                attempts[is_429] += 1
                waited_429 += delay if is_429 else 0.0
                self._on_event("retries")
                self._on_event(f"retries/{retry.reason}")
                logger.debug("HasData %s: %s; retrying in %.1fs", call, retry.text, delay)
                await maybe_deferred_to_future(deferLater(self._reactor, delay, lambda: None))

    async def _attempt(
        self,
        call: str,
        method: str,
        path: str,
        body: Any,
        read: Callable[[Any], Any] | None,
        salvage_id: bool,
        submit: bool,
    ) -> Any:
        self._on_event("requests")
        try:
            answer = await self._send(
                method, self._api_url + path, body, with_key=True, fresh=submit
            )
        except NoAnswer as exc:
            reason = "timeout" if exc.timed_out else "connection"
            raise _Retryable(reason, None, str(exc), sent=exc.sent) from None
        status, raw = answer.status, answer.body
        self._on_event(f"responses/{status}")
        if status == 429 or status >= 500:
            raise _Retryable(str(status), status, self._text(raw), retry_after=answer.retry_after)
        if status >= 400:
            self._on_event(f"errors/{status}")
            error = {401: HasDataUnauthorized, 403: HasDataNoCredits}.get(status, HasDataRejected)
            raise error(call, status, self._text(raw))
        if read is None:
            return None
        try:
            return read(json.loads(raw))
        except MalformedAnswer as exc:
            raise _Retryable("malformed", status, str(exc)) from None
        except ValueError:
            leading = _LEADING_ID.match(raw.decode("utf-8", "replace")) if salvage_id else None
            if leading is not None:
                self._on_event("answers_salvaged")
                return {"id": leading.group(1) or leading.group(2)}
            raise _Retryable("malformed", status, "the answer is not valid JSON") from None

    async def _send(
        self, method: str, url: str, body: Any, *, with_key: bool, fresh: bool = False
    ) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if with_key:
            headers["x-api-key"] = self._api_key
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        return await self._transport.send(method, url, headers=headers, body=payload, fresh=fresh)

    def _text(self, raw: bytes) -> str:
        """An answer's text for a message: secrets blanked out, then cut short."""
        text = raw.decode("utf-8", "replace").strip()
        for secret in self._hidden:
            text = text.replace(secret, "<hidden>")
        return text[:_TEXT_LIMIT] or "(empty answer)"


def _spellings(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as sent and as JSON escapes it; longest first (a prefix of one is no match)."""
    found = {form for secret in secrets if secret for form in (secret, json.dumps(secret)[1:-1])}
    return tuple(sorted(found, key=len, reverse=True))


def _an_object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    return answer
