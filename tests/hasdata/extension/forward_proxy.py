"""A forward HTTP proxy, a TLS front and a keep-alive server on loopback, for the HasData transport tests.

:class:`ForwardProxy` forwards absolute-form requests (``GET http://host/path``),
one per connection, and tunnels ``CONNECT`` requests; it records every
request it gets, headers included, and can stall the methods it is told to
(it reads the request and never answers).  :class:`TlsFront` terminates TLS
with a self-signed certificate for ``localhost`` (:func:`self_signed_cert`)
and passes the bytes on to a plain HTTP server: the HasData emulator served
over HTTPS, the way the real API is reached.  :class:`PortRecorder` answers
``{}`` to every request, keeping connections open, and records the client
port each request came from (which connection carried it).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _LoopServer:
    """An asyncio server on 127.0.0.1, on a loop of its own in a thread."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def start(self) -> str:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self._ssl), self._loop
        ).result(10)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class ForwardProxy(_LoopServer):
    def __init__(self, *, stall: tuple[str, ...] = (), refuse_tunnels: bool = False) -> None:
        super().__init__()
        #: Every request received: method, target (a URL, or host:port for CONNECT), headers.
        self.seen: list[dict[str, Any]] = []
        self.stall = stall
        #: Answer every CONNECT with 407 (credentials required) instead of a tunnel.
        self.refuse_tunnels = refuse_tunnels

    def targets(self, method: str | None = None) -> list[str]:
        return [r["target"] for r in self.seen if method in (None, r["method"])]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        self.seen.append({"method": method, "target": target, "headers": headers})
        if method in self.stall:
            await asyncio.Event().wait()  # until stop() cancels it
        if method == "CONNECT" and self.refuse_tunnels:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await _pipe_both((reader, writer), upstream)
            return
        url = urlsplit(target)
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        kept = [
            line
            for line in header_lines
            if line and not line.lower().startswith(("proxy-", "connection:"))
        ]
        path = url.path + (f"?{url.query}" if url.query else "")
        up_writer.write(
            "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]).encode(
                "latin-1"
            )
            + body
        )
        writer.write(await up_reader.read())  # the whole answer: the server closes after it
        await writer.drain()
        up_writer.close()
        writer.close()


class TlsFront(_LoopServer):
    """``https://localhost:PORT`` in front of the plain HTTP server at ``target``."""

    def __init__(self, target: str, cert: Path, key: Path) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        super().__init__(context)
        self._target = urlsplit(target)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection(self._target.hostname, self._target.port)
        await _pipe_both((reader, writer), upstream)


class PortRecorder(_LoopServer):
    def __init__(self) -> None:
        super().__init__()
        #: (method, the client's port) of every request, in order.
        self.seen: list[tuple[str, int]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("peername")[1]
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").lower().split("\r\n")
                length = next((int(h[15:]) for h in lines if h.startswith("content-length:")), 0)
                await reader.readexactly(length)
                self.seen.append((lines[0].split(" ")[0].upper(), port))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def _pipe_both(
    one: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    other: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    await asyncio.gather(pipe(one[0], other[1]), pipe(other[0], one[1]))


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate (and its key) for ``localhost`` and 127.0.0.1, its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
