"""The HasData calls take the path Scrapy's downloads take: its proxies, TLS and timeouts.

Real HTTP on loopback: a forward proxy (:mod:`forward_proxy`) counts what
goes through it, a TLS front serves the emulator over HTTPS.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import scrapy
from forward_proxy import ForwardProxy, PortRecorder, TlsFront, self_signed_cert
from hasdata_ext_support import API_KEY, calls, crawl_jobs, small_job, submits
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler

from scrapy_wds._hasdata._client import HasDataClient, HasDataTimeout


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    server.start()
    yield server
    server.stop()


def watch_headers_received(seen: list[str]) -> Any:
    def connect(crawler: Crawler) -> None:
        crawler.signals.connect(
            lambda request, **_: seen.append(request.url),
            signal=signals.headers_received,
            weak=False,
        )

    return connect


@pytest_twisted.ensureDeferred
async def test_every_call_goes_through_the_environment_proxy_and_every_row_arrives(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://scott:tiger@"))
    hasdata_emulator.configure(page_size_cap=10)
    signalled: list[str] = []
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [small_job(demo_site, limit=23)],
        on_crawler=watch_headers_received(signalled),
    )
    assert result.reason == "finished"
    assert len({item["url"] for item in result.items}) == len(result.items) == 23
    api_calls = [c for c in hasdata_emulator.calls() if c["path"].startswith("/scrapers/")]
    assert len(proxy.seen) == len(api_calls) >= 5  # submit, a poll, three pages
    assert all(t.startswith(hasdata_emulator.url + "/scrapers/") for t in proxy.targets())
    credentials = "Basic " + base64.b64encode(b"scott:tiger").decode()
    for request in proxy.seen:
        assert request["headers"]["user-agent"].startswith("scrapy-wds (Scrapy ")
        assert request["headers"]["proxy-authorization"] == credentials
        assert request["headers"]["x-api-key"] == API_KEY
    # The handler's signals are its own: the crawl's handlers never see the key's requests.
    assert signalled == []
    assert API_KEY not in caplog.text and "tiger" not in caplog.text
    assert not any(
        API_KEY in str(value) or "tiger" in str(value) for value in result.stats.values()
    )


@pytest.mark.parametrize(
    "bypass, settings",
    [
        pytest.param({"NO_PROXY": "127.0.0.1"}, {}, id="NO_PROXY"),
        pytest.param({}, {"HTTPPROXY_ENABLED": False}, id="HTTPPROXY_ENABLED-False"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_the_proxy_is_bypassed_when_scrapy_would_bypass_it(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    bypass: dict[str, str],
    settings: dict[str, Any],
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    for name, value in bypass.items():
        monkeypatch.setenv(name, value)
    result = await crawl_jobs(hasdata_emulator, tmp_path, [small_job(demo_site)], **settings)
    assert result.reason == "finished" and len(result.items) == 23
    assert proxy.seen == []
    assert submits(hasdata_emulator)  # the calls went straight to the emulator


@pytest.fixture
def https_emulator(hasdata_emulator: Any, tmp_path: Path) -> Iterator[tuple[TlsFront, Path]]:
    cert, key = self_signed_cert(tmp_path)
    front = TlsFront(hasdata_emulator.url, cert, key)
    front.start()
    yield front, cert
    front.stop()


@pytest_twisted.ensureDeferred
async def test_https_goes_through_a_connect_tunnel_with_the_certificate_checked(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    proxy: ForwardProxy,
    https_emulator: tuple[TlsFront, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front, cert = https_emulator
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL trusts the test's own CA
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site)], HASDATA_API_URL=front.url
    )
    assert result.reason == "finished" and len(result.items) == 23
    tunnels = proxy.targets("CONNECT")
    assert tunnels and set(tunnels) == {f"localhost:{front.port}"}
    assert len(proxy.seen) == len(tunnels)  # nothing in clear through the proxy


async def crawl_with_a_submit_that_never_arrives(
    emulator: Any, site: Any, tmp_path: Path, front: TlsFront, **settings: Any
) -> None:
    """A crawl whose submit fails before it leaves: it is resent once, then the job fails."""
    result = await crawl_jobs(
        emulator,
        tmp_path,
        [small_job(site)],
        HASDATA_API_URL=front.url,
        HASDATA_RETRY_TIMES=1,
        **settings,
    )
    assert emulator.calls() == []  # no request reached the server
    # Nothing was sent, so the submit was resent; the job is not "uncertain".
    assert result.stats["hasdata/retries/connection"] == 1
    assert result.reason == "hasdata_failed"


@pytest_twisted.ensureDeferred
async def test_a_refused_tunnel_sent_nothing_so_the_submit_is_resent(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    https_emulator: tuple[TlsFront, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    front, _ = https_emulator
    refusing = ForwardProxy(refuse_tunnels=True)
    refusing.start()
    monkeypatch.setenv("HTTPS_PROXY", refusing.url)
    try:
        await crawl_with_a_submit_that_never_arrives(hasdata_emulator, demo_site, tmp_path, front)
    finally:
        refusing.stop()
    assert refusing.targets("CONNECT") == [f"localhost:{front.port}"] * 2  # resent once
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "Could not open CONNECT tunnel" in error and "407" in error
    assert f"through the proxy {refusing.url}" in error


@pytest.mark.parametrize(
    "settings",
    [{}, {"DOWNLOAD_VERIFY_CERTIFICATES": False}],
    ids=["scrapy-default", "verification-off-for-sites"],
)
@pytest_twisted.ensureDeferred
async def test_an_untrusted_certificate_stops_the_calls_before_the_key_leaves(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    https_emulator: tuple[TlsFront, Path],
    caplog: Any,
    settings: dict[str, Any],
) -> None:
    """Scrapy checks no certificate by default; the HasData calls carry the key, so they do."""
    front, _ = https_emulator
    await crawl_with_a_submit_that_never_arrives(
        hasdata_emulator, demo_site, tmp_path, front, **settings
    )
    assert "TLS failed" in caplog.text


def direct_client(api_url: str, **options: Any) -> HasDataClient:
    """A client outside any crawl, as the extension makes it (run its calls in an asyncio task)."""
    return HasDataClient(
        crawler=get_crawler(scrapy.Spider),
        api_url=api_url,
        api_key=API_KEY,
        retry_delay=0.01,
        retry_max_delay=0.01,
        **options,
    )


@pytest_twisted.ensureDeferred
async def test_a_stalled_answer_is_a_timeout_after_hasdata_timeout(
    hasdata_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalling = ForwardProxy(stall=("GET",))
    stalling.start()
    monkeypatch.setenv("HTTP_PROXY", stalling.url.replace("http://", "http://scott:tiger@"))
    events: list[str] = []
    client = direct_client(hasdata_emulator.url, timeout=0.3, retry_times=1, on_event=events.append)

    async def poll() -> None:  # as the extension runs it: an asyncio task
        try:
            await client.status("416349")
        finally:
            await client.close()

    try:
        with pytest.raises(
            HasDataTimeout, match=r"no answer within 0\.3 s \(HASDATA_TIMEOUT\)"
        ) as error:
            await deferred_from_coro(poll())
    finally:
        stalling.stop()
    # The message names the proxy the call went through, without its credentials.
    assert f"through the proxy {stalling.url}" in str(error.value)
    assert "tiger" not in str(error.value)
    assert len(stalling.seen) == 2  # the call and its one retry, each given up on
    assert events.count("retries/timeout") == 1 and "errors/timeout" in events


@pytest_twisted.ensureDeferred
async def test_a_stalled_submit_is_uncertain_and_not_resent(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalling = ForwardProxy(stall=("POST",))
    stalling.start()
    monkeypatch.setenv("HTTP_PROXY", stalling.url)
    try:
        result = await crawl_jobs(
            hasdata_emulator, tmp_path, [small_job(demo_site)], HASDATA_TIMEOUT=0.3
        )
    finally:
        stalling.stop()
    assert result.reason == "hasdata_submit_uncertain"
    assert len(stalling.targets("POST")) == 1  # it may have created a job: sent once only
    assert calls(hasdata_emulator, "POST", "/scrapers/") == []


@pytest_twisted.ensureDeferred
async def test_a_submit_never_rides_a_pooled_connection() -> None:
    """Polls share pooled connections; each submit gets one of its own.

    A pooled connection the server has closed meanwhile fails a POST in a
    way that looks like "maybe sent", and such a submit is not resent.
    """
    server = PortRecorder()
    server.start()
    client = direct_client(server.url, timeout=5, retry_times=0)

    async def calls() -> None:
        try:
            await client.status("1")
            await client.submit("crawler", {"urls": ["https://example.com"]})
            await client.status("1")
            await client.submit("crawler", {"urls": ["https://example.com"]})
            await client.status("1")
        finally:
            await client.close()

    try:
        await deferred_from_coro(calls())
    finally:
        server.stop()
    assert [method for method, _ in server.seen] == ["GET", "POST", "GET", "POST", "GET"]
    polls = {port for method, port in server.seen if method == "GET"}
    posts = [port for method, port in server.seen if method == "POST"]
    assert len(polls) == 1  # the pool is used: the test could see a reused connection
    assert len(set(posts)) == 2 and not polls & set(posts)
