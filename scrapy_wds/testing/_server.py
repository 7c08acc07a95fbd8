"""The common ground of every local server in :mod:`scrapy_wds.testing`.

Each emulator is an aiohttp application served on loopback from a thread of
its own, with its own asyncio loop.  That keeps it out of the way of the
Twisted reactor that a test (or a user's spider test) runs in the main thread,
so the same emulator object works in-process, in a pytest fixture and behind
``python -m scrapy_wds.testing serve``.

Every emulator also gets, for free:

* a call log (``GET /__emulator__/calls``) of every call received, with the
  status it answered, so tests can count polls, submits and pages;
* ``POST /__emulator__/config`` to change its switches at run time (a JSON
  object of switch names to values; answers the switches now in force);
* ``POST /__emulator__/reset`` to forget its state and its call log.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

ADMIN_PREFIX = "/__emulator__/"

_Server = TypeVar("_Server", bound="EmulatorServer")


class DroppedConnection(Exception):
    """Raised by a handler to close the connection without any answer."""


def drop_connection(request: web.Request) -> DroppedConnection:
    """Abort the client's connection; ``raise drop_connection(request)``."""
    if request.transport is not None:
        request.transport.abort()
    return DroppedConnection()


def text_error(status: int, reason: str) -> web.Response:
    """The short plain-text error body both real services answer with."""
    return web.Response(status=status, text=reason + "\n", content_type="text/plain")


class RecordLog:
    """A thread-safe list of records, each stamped with the time it was made.

    Handlers write on the emulator's loop; tests and the admin routes read
    from other threads.  Used for the call log and the webhook deliveries.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, **entry: Any) -> None:
        entry["time"] = time.time()
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EmulatorServer:
    """Base class: subclasses add their routes in :meth:`add_routes`.

    Switches are plain attributes named in :attr:`switch_names`; subclasses
    read them on every call, so :meth:`configure` takes effect at once.
    """

    #: Names of the attributes that :meth:`configure` may change.
    switch_names: tuple[str, ...] = ()

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.call_log = RecordLog()
        self._call_notes: dict[int, dict[str, Any]] = {}  # by id() of a request in progress
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- to be provided by subclasses ------------------------------------

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget jobs, tasks and caches (the call log is cleared apart)."""

    # -- switches --------------------------------------------------------

    def switches(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.switch_names}

    def configure(self, **switches: Any) -> dict[str, Any]:
        unknown = sorted(set(switches) - set(self.switch_names))
        if unknown:
            raise ValueError(
                f"unknown switch(es) {unknown} for {type(self).__name__}; "
                f"known switches: {sorted(self.switch_names)}"
            )
        for name, value in switches.items():
            setattr(self, name, value)
        return self.switches()

    def reset(self) -> None:
        self.reset_state()
        self.call_log.clear()

    def calls(self) -> list[dict[str, Any]]:
        return self.call_log.entries()

    # -- serving ---------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Serve from a background thread; returns :attr:`url` once listening."""
        if self._thread is not None:
            return self.url
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # report to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_site())
            loop.close()

        self._thread = threading.Thread(
            target=run, name=f"{type(self).__name__}:{self.port}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self.url

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def run_in_loop(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the server's loop from another thread."""
        assert self._loop is not None, "server not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]

    def call_on_loop(self, function: Callable[[], object]) -> None:
        """Call ``function`` on the server's loop and wait for it, from any thread.

        State that the loop's own tasks touch (jobs, downloads) must change
        there only.  Before the server starts, once it stopped, or on the
        loop itself there is no other thread to race with: it runs at once.
        """
        loop = self._loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            function()
            return

        async def call() -> None:
            function()

        self.run_in_loop(call())

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start_site(self) -> None:
        app = web.Application(middlewares=[self._log_calls], client_max_size=8 * 2**20)
        app.router.add_get(ADMIN_PREFIX + "calls", self._admin_calls)
        app.router.add_post(ADMIN_PREFIX + "config", self._admin_config)
        app.router.add_get(ADMIN_PREFIX + "config", self._admin_config)
        app.router.add_post(ADMIN_PREFIX + "reset", self._admin_reset)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            sockets = site._server.sockets  # type: ignore[union-attr]
            self.port = sockets[0].getsockname()[1]
        await self.on_started()

    async def on_started(self) -> None:
        """Hook for subclasses that need the loop (client sessions…)."""

    async def on_stopping(self) -> None:
        """Hook for subclasses to close what :meth:`on_started` opened."""

    async def _stop_site(self) -> None:
        await self.on_stopping()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _log_calls(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        try:
            response = await handler(request)
        except DroppedConnection:
            self._log_call(request, None)
            raise web.HTTPInternalServerError() from None  # never reaches the aborted client
        except web.HTTPException as exc:
            self._log_call(request, exc.status)
            raise
        except Exception as exc:  # an emulator bug must still answer plainly
            self._log_call(request, 500)
            return text_error(500, f"emulator error: {type(exc).__name__}: {exc}")
        self._log_call(request, response.status)
        return response

    def note_call(self, request: web.Request, **fields: Any) -> None:
        """Add ``fields`` to the call log entry of ``request`` (what its status does not say)."""
        self._call_notes.setdefault(id(request), {}).update(fields)

    def _log_call(self, request: web.Request, status: int | None) -> None:
        notes = self._call_notes.pop(id(request), {})
        self.call_log.record(
            method=request.method,
            path=request.path,
            query=[[k, v] for k, v in request.query.items()],
            status=status,
            dropped=status is None,
            **notes,
        )

    async def _admin_calls(self, request: web.Request) -> web.Response:
        return web.json_response(self.calls())

    async def _admin_config(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object of switch names to values")
                self.configure(**body)
            except (ValueError, TypeError) as exc:
                return text_error(400, str(exc))
        return web.json_response(self.switches())

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def json_body(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")
