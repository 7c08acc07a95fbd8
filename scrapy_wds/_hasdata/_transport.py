"""One HTTP exchange with HasData, through Scrapy's own HTTP/1.1 download handler.

The calls go through an instance of
:class:`~scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler` (the
handler ``DOWNLOAD_HANDLERS_BASE`` names for ``http`` and ``https``) that this
transport owns, with the proxy chosen by an instance of Scrapy's
:class:`~scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware` applied
to each request.  So the calls get what Scrapy's downloads get, maintained by
Scrapy: ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY``, ``HTTPPROXY_ENABLED``,
``HTTPPROXY_AUTH_ENCODING`` and credentials in the proxy URL (sent as
``Proxy-Authorization``, over a ``CONNECT`` tunnel for ``https``), the TLS
settings (``DOWNLOADER_CLIENTCONTEXTFACTORY``, ``DOWNLOADER_CLIENT_TLS_*``,
``DOWNLOAD_BIND_ADDRESS``), ``DOWNLOAD_MAXSIZE`` / ``DOWNLOAD_WARNSIZE``, a
persistent connection pool, and ``download_timeout`` (set to
``HASDATA_TIMEOUT``: connect, send and the whole answer).

Why not ``engine.download``: the calls are the extension's bookkeeping, not
pages of the crawl.  Through the engine they would pass the user's
downloader middlewares (one that logs headers would log the key; robots.txt,
retries, caches and proxies meant for sites would act on them) and hold
``CONCURRENT_REQUESTS`` slots, and the ``DELETE`` of ``HASDATA_STOP_ON_CLOSE``
runs in ``spider_closed``, after Scrapy has closed its downloader.  The
handler here is not the downloader's: nothing but this module calls it, and
it closes when the extension says so, after its last call.  It is made by
:func:`scrapy_wds._compat.own_http11_handler` with signals of its own, so
the crawl's ``headers_received`` / ``bytes_received`` handlers never see
these requests, and with two settings of its own:

* ``DOWNLOAD_VERIFY_CERTIFICATES = True``: Scrapy does not check sites'
  certificates by default, but these calls carry the key, so HasData's
  certificate is checked (against the system's CAs; OpenSSL's
  ``SSL_CERT_FILE`` names another bundle);
* ``CONCURRENT_REQUESTS_PER_DOMAIN``: the pool keeps as many connections as
  the extension makes calls at once.

A submit gets a handler of its own, opened for it and closed after it: its
connection is surely new.  On a pooled connection the server had closed in
the meantime a POST would fail in a way that looks like "maybe sent"
(Twisted resends only idempotent methods), and a submit that may have been
sent is not resent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from OpenSSL import SSL
from scrapy import Request
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotConfigured,
    ResponseDataLossError,
)
from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.web.client import ResponseFailed
from twisted.web.http import PotentialDataLoss

from scrapy_wds._backoff import parse_retry_after
from scrapy_wds._compat import own_http11_handler

if TYPE_CHECKING:
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
    from scrapy.crawler import Crawler

#: Failures after which the request surely never reached the server: no
#: connection (to it or to the proxy); a proxy that refused the tunnel
#: (``TunnelError``) is added with the first transport, which imports the
#: handler's module (``import scrapy_wds`` stays light).
_NO_CONNECTION = (
    DownloadConnectionRefusedError,
    CannotResolveHostError,
    net_error.ConnectError,
    net_error.DNSLookupError,
)
#: Failures after the request may have reached the server.
_MAYBE_SENT = (
    DownloadFailedError,
    ResponseDataLossError,
    DownloadCancelledError,
    ResponseFailed,
    PotentialDataLoss,
    net_error.ConnectionLost,
    net_error.ConnectionDone,
)
_TIMED_OUT = (DownloadTimeoutError, net_error.TimeoutError, defer.TimeoutError)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    #: Seconds from ``Retry-After``, when the answer has one.
    retry_after: float | None


class NoAnswer(Exception):
    """The call got no usable answer; ``sent`` is False when it surely never left."""

    def __init__(self, description: str, *, sent: bool, timed_out: bool = False) -> None:
        super().__init__(description)
        self.sent = sent
        self.timed_out = timed_out


class Transport:
    """HTTP calls on Scrapy's HTTP/1.1 download handler, proxies chosen as Scrapy chooses them."""

    def __init__(self, crawler: Crawler, *, timeout: float, pool_size: int) -> None:
        self._crawler = crawler
        self._timeout = timeout
        self._pool_size = pool_size
        self._handler = self._new_handler()
        self._proxies = _proxy_chooser(crawler)
        from scrapy.core.downloader.handlers.http11 import TunnelError

        self._tunnel_error = TunnelError
        self._never_sent = (*_NO_CONNECTION, TunnelError)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None = None,
        fresh: bool = False,
    ) -> Answer:
        """One request and its whole answer; raises :class:`NoAnswer` if there is none.

        ``fresh``: on a connection opened for this request alone.
        """
        request = Request(
            url,
            method=method,
            headers=headers,
            body=body,
            # What Scrapy's own middlewares would set; nothing secret: the
            # proxy's credentials go into a header, the key is a header.
            meta={"download_timeout": self._timeout},
        )
        if self._proxies is not None:
            self._proxies.process_request(request)
        handler = self._new_handler() if fresh else self._handler
        try:
            response = await handler.download_request(request)
        except _TIMED_OUT:
            raise NoAnswer(
                f"no answer within {self._timeout:g} s (HASDATA_TIMEOUT)" + _via(request),
                sent=True,
                timed_out=True,
            ) from None
        except self._never_sent as exc:
            # Scrapy's text for a tunnel: "Could not open CONNECT tunnel with
            # proxy host:port [{'status': 407, ...}]"
            text = f"connection failed: {exc}" if isinstance(exc, self._tunnel_error) else None
            raise NoAnswer((text or _describe(exc)) + _via(request), sent=False) from None
        except _MAYBE_SENT as exc:
            tls = _tls_failure(exc)
            if tls is not None:  # the handshake failed: the request never left
                raise NoAnswer(f"TLS failed: {tls}" + _via(request), sent=False) from None
            raise NoAnswer(_describe(exc) + _via(request), sent=True) from None
        finally:
            if fresh:
                await handler.close()
        return Answer(
            status=response.status,
            body=response.body,
            retry_after=parse_retry_after(response.headers.get(b"Retry-After")),
        )

    async def close(self) -> None:
        await self._handler.close()

    def _new_handler(self) -> HTTP11DownloadHandler:
        return own_http11_handler(
            self._crawler,
            DOWNLOAD_VERIFY_CERTIFICATES=True,
            CONCURRENT_REQUESTS_PER_DOMAIN=self._pool_size,
        )


def _proxy_chooser(crawler: Crawler) -> HttpProxyMiddleware | None:
    """Scrapy's proxy middleware as the crawl configures it; None with ``HTTPPROXY_ENABLED = False``."""
    try:
        return HttpProxyMiddleware.from_crawler(crawler)
    except NotConfigured:
        return None


def _via(request: Request) -> str:
    """Which proxy the call went through, if any (its URL without credentials)."""
    proxy = request.meta.get("proxy")
    if not proxy:
        return ""
    return f" (through the proxy {proxy}: HTTP_PROXY / HTTPS_PROXY, NO_PROXY, HTTPPROXY_ENABLED)"


def _reasons(exc: BaseException) -> list[BaseException]:
    """What Twisted says went wrong under a failed response (Scrapy wraps it)."""
    failed = exc if isinstance(exc, ResponseFailed) else exc.__cause__
    if isinstance(failed, ResponseFailed):
        return [reason.value for reason in failed.reasons]
    return []


def _tls_failure(exc: BaseException) -> SSL.Error | None:
    return next((r for r in _reasons(exc) if isinstance(r, SSL.Error)), None)


def _describe(exc: BaseException) -> str:
    """The failure in a few words: the type of what went wrong."""
    if isinstance(exc, DownloadCancelledError):
        # "... larger than download max size (N)": DOWNLOAD_MAXSIZE applies here too
        return f"answer cut short: {exc}"
    reasons = _reasons(exc)
    if reasons:
        return f"connection failed: {type(reasons[0]).__name__}"
    return f"connection failed: {type(exc).__name__}"
