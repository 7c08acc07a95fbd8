"""The HTTP endpoint HasData calls back while a job runs.

It runs on the crawl's own Twisted reactor (twisted.web), so rows it receives
are handed to the extension on the same thread as everything else in Scrapy:
no locks, no second event loop.

Webhooks are an accelerator, never the source of truth (the extension always
polls and pages too), so the receiver is strict and cheap: anything doubtful
is refused with a 4xx and left to paging. What it guards against:

* strangers: the shared secret header is compared in constant time, and the
  socket binds to loopback unless told otherwise;
* floods: bodies are capped while they are read (declared or chunked), so a
  huge body never sits in memory or on disk;
* noise: unknown jobs, malformed JSON and unknown shapes are refused.

Nothing it logs contains the secret or a body.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import Counter
from collections.abc import Callable
from io import BytesIO
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.web import http, resource, server

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/hasdata/webhook"
SECRET_HEADER = "X-Webhook-Secret"

EVENT_STARTED = "scraper.job.started"
EVENT_DATA = "scraper.data.scraped"
EVENT_DATA_LEGACY = "scraper.data.rows_added"
EVENT_FINISHED = "scraper.job.finished"
#: Where each data event keeps its rows: the current name, then the older one
#: from an earlier form of HasData's docs.
_ROWS_FIELD = {EVENT_DATA: "data", EVENT_DATA_LEGACY: "dataRows"}

#: Outcome names, counted in :attr:`WebhookReceiver.counts` (the extension
#: copies them into stats).
ACCEPTED = "accepted"
UNAUTHORIZED = "unauthorized"
TOO_LARGE = "too_large"
UNKNOWN_JOB = "unknown_job"
BAD_REQUEST = "bad_request"
FAILED = "failed"

#: A body over the cap is still read (and thrown away) up to this much more,
#: so the sender gets a proper 413 instead of a reset connection; past that
#: the connection is cut.
_MIN_DRAIN = 64 * 1024
#: An idle callback connection is closed after this many seconds.
_IDLE_TIMEOUT = 60


class _BadPayload(ValueError):
    """The body is not a webhook this receiver understands (answered 400)."""


class _CappedRequest(server.Request):
    """A request that stops keeping its body once the body passes the cap.

    twisted.web normally buffers the whole body (spilling to a temporary file)
    before any resource sees it; counting here bounds memory and disk whatever
    the sender declares.
    """

    too_large = False
    _received = 0
    _cut = False

    def gotLength(self, length: int | None) -> None:
        # Always memory: at most max_body bytes are ever kept.
        self.content = BytesIO()
        if length is not None and length > self._site().max_body:
            self.too_large = True

    def handleContentChunk(self, data: bytes) -> None:
        if self._cut:
            return
        site = self._site()
        self._received += len(data)
        if self._received > site.max_body:
            self.too_large = True
        if not self.too_large:
            assert self.content is not None
            self.content.write(data)
        elif self._received > site.max_body + max(site.max_body, _MIN_DRAIN):
            self._cut_connection()

    def process(self) -> None:
        if self._cut:  # already answered; the connection is going away
            return
        super().process()

    def _cut_connection(self) -> None:
        # The sender keeps streaming far past the cap: answer now and hang up
        # rather than read on (the same move twisted.web makes for bad heads).
        self._cut = True
        self._site().receiver._count(TOO_LARGE)
        body = b'{"error": "body too large"}'
        transport: Any = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        transport.loseConnection()

    def _site(self) -> _WebhookSite:
        site = getattr(self.channel, "site", None)
        assert isinstance(site, _WebhookSite)
        return site


class _TrackedChannel(http.HTTPChannel):
    """An HTTP/1.1 connection its site knows about, so ``stop()`` can close it."""

    site: _WebhookSite

    def connectionMade(self) -> None:
        super().connectionMade()
        self.site.channels.add(self)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        self.site.channels.discard(self)
        super().connectionLost(reason)


class _WebhookSite(server.Site):
    """A quiet site: no access log (it would carry request lines into the crawl log)."""

    noisy = False
    requestFactory = _CappedRequest
    protocol = _TrackedChannel  # type: ignore[assignment]

    def __init__(self, receiver: WebhookReceiver, max_body: int) -> None:
        # Any: twisted's zope interfaces are opaque to mypy without a plugin.
        root: Any = resource.Resource()
        hasdata: Any = resource.Resource()
        root.putChild(b"hasdata", hasdata)
        hasdata.putChild(b"webhook", _WebhookResource(receiver))
        super().__init__(root, timeout=_IDLE_TIMEOUT)
        self.receiver = receiver
        self.max_body = max_body
        self.channels: set[_TrackedChannel] = set()

    def log(self, request: Any) -> None:
        return


class _WebhookResource(resource.Resource):
    isLeaf = True

    def __init__(self, receiver: WebhookReceiver) -> None:
        super().__init__()
        self._receiver = receiver

    def render(self, request: server.Request) -> bytes:
        # twisted.web answers a method it has no render_* for with 501 (not
        # implemented, a server fault); the resource exists, it only takes POST.
        if request.method != b"POST":
            request.setResponseCode(405)
            request.setHeader(b"Allow", b"POST")
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps({"error": "only POST is accepted here"}).encode()
        return super().render(request)  # type: ignore[no-any-return]

    def render_POST(self, request: server.Request) -> bytes:
        status, message = self._receiver._handle(request)
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"application/json")
        key = "status" if status < 300 else "error"
        return json.dumps({key: message}).encode()


class WebhookReceiver:
    """Receives HasData webhook callbacks and hands their rows to the crawl.

    ``is_known_job(job_id)`` says whether a job belongs to this crawl;
    ``on_rows(job_id, rows)`` gets the bare rows of each data callback (rows
    may repeat: callbacks are retried and duplicated, so the caller
    deduplicates, e.g. by :func:`~scrapy_wds._hasdata._row_keys.row_content_key`);
    ``on_finished(job_id)`` is told when HasData says a job finished (a hint
    to poll now, since callbacks can arrive out of order). Job ids are always
    passed as strings.
    """

    def __init__(
        self,
        *,
        secret: str,
        max_body: int,
        is_known_job: Callable[[str], bool],
        on_rows: Callable[[str, list[dict[str, Any]]], None],
        on_finished: Callable[[str], None],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not secret:
            raise ValueError(
                "the webhook receiver needs a non-empty secret (HASDATA_WEBHOOK_SECRET); "
                "leave the setting unset to get a random one per crawl"
            )
        if max_body < 1:
            raise ValueError(f"HASDATA_WEBHOOK_MAX_BODY is {max_body}; set it to 1 or more")
        self._secret = secret.encode()
        self._max_body = max_body
        self._is_known_job = is_known_job
        self._on_rows = on_rows
        self._on_finished = on_finished
        self._host = host
        self._port = port
        self._listening: Any = None  # an IListeningPort once started
        self._site: _WebhookSite | None = None
        #: How many callbacks ended in each outcome (``accepted``,
        #: ``unauthorized``, ``too_large``, ``unknown_job``, ``bad_request``,
        #: ``failed``), and ``rows``: rows handed to ``on_rows``.
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        # The secret must never reach a log line, even through a debug repr.
        return f"WebhookReceiver(host={self._host!r}, port={self._port!r})"

    @property
    def url(self) -> str:
        """The callback URL (valid once :meth:`start` ran)."""
        if self._listening is None:
            raise RuntimeError("the webhook receiver is not started")
        port = self._listening.getHost().port
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}{WEBHOOK_PATH}"

    def start(self) -> str:
        """Listen on the crawl's reactor; return the URL HasData should call."""
        if self._listening is None:
            # Imported here: importing the reactor module installs a default
            # reactor, and Scrapy must have installed its own first.
            from twisted.internet import reactor as installed

            reactor: Any = installed
            self._site = _WebhookSite(self, self._max_body)
            self._listening = reactor.listenTCP(self._port, self._site, interface=self._host)
            logger.debug("HasData webhook receiver listening on %s", self.url)
        return self.url

    def stop(self) -> Deferred[Any] | None:
        """Stop listening and close open callback connections."""
        if self._listening is None:
            return None
        listening, site = self._listening, self._site
        self._listening = self._site = None
        stopped = listening.stopListening()
        if site is not None:
            for channel in list(site.channels):
                transport: Any = channel.transport
                if transport is not None:
                    transport.loseConnection()
        return stopped if isinstance(stopped, Deferred) else None

    # -- one callback -----------------------------------------------------------

    def _count(self, outcome: str, amount: int = 1) -> None:
        self.counts[outcome] += amount

    def _handle(self, request: server.Request) -> tuple[int, str]:
        outcome, status, message = self._judge(request)
        self._count(outcome)
        if status >= 400:
            # Why it was refused, never what it carried.
            logger.debug("HasData webhook refused with %d: %s", status, message)
        return status, message

    def _judge(self, request: server.Request) -> tuple[str, int, str]:
        provided = request.getHeader(SECRET_HEADER.encode())
        if provided is None or not hmac.compare_digest(provided, self._secret):
            return UNAUTHORIZED, 401, f"missing or wrong {SECRET_HEADER} header"
        if getattr(request, "too_large", False):
            return TOO_LARGE, 413, f"body larger than {self._max_body} bytes"
        assert request.content is not None
        try:
            event, job_id, rows = _parse(request.content.getvalue())
        except _BadPayload as exc:
            return BAD_REQUEST, 400, str(exc)
        if not self._is_known_job(job_id):
            return UNKNOWN_JOB, 404, "unknown job"
        try:
            if rows:
                self._on_rows(job_id, rows)
                self._count("rows", len(rows))
            elif event == EVENT_FINISHED:
                self._on_finished(job_id)
        except Exception:
            # A non-2xx makes HasData retry, and paging still covers the rows.
            logger.exception("HasData webhook %s for job %s could not be handled", event, job_id)
            return FAILED, 500, "callback could not be handled"
        return ACCEPTED, 200, "ok"


def _parse(body: bytes) -> tuple[str, str, list[dict[str, Any]]]:
    """Event name, job id (as a string) and bare rows of one callback body."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _BadPayload("body is not JSON") from None
    if not isinstance(payload, dict):
        raise _BadPayload("body is not a JSON object")
    event = payload.get("event")
    if event not in (EVENT_STARTED, EVENT_FINISHED, *_ROWS_FIELD):
        raise _BadPayload("'event' is missing or not a known HasData event")
    job_id = payload.get("jobId")
    # bool is an int subclass, and never a job id.
    if isinstance(job_id, bool) or not isinstance(job_id, (int, str)) or job_id == "":
        raise _BadPayload("'jobId' is missing or neither an integer nor a string")
    rows: list[dict[str, Any]] = []
    if event in _ROWS_FIELD:
        # Tolerant reader: take the rows under either name, whichever event.
        raw = payload.get(_ROWS_FIELD[event], payload.get("data", payload.get("dataRows")))
        if not isinstance(raw, list) or not all(isinstance(row, dict) for row in raw):
            raise _BadPayload(f"'{_ROWS_FIELD[event]}' of {event} must be an array of objects")
        rows = raw
    return str(event), str(job_id), rows
