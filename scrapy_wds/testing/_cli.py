"""``python -m scrapy_wds.testing serve``: the two emulators and the demo site, on loopback.

It prints one ``NAME=VALUE`` line per setting a Scrapy project needs to use
them (``WDS_API_URL``, ``HASDATA_API_URL``, ``HASDATA_API_KEY``,
``DEMO_SITE_URL``), so a shell can ``source`` its output, then serves until
SIGINT or SIGTERM.

Every emulator switch becomes a command-line flag, generated from the class's
``switch_names`` and the defaults a new instance has (``--wds-pending-polls 3``,
``--hasdata-numbers-as-strings``…), so a new switch needs no change here.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from scrapy_wds.testing._server import EmulatorServer

PROG = "python -m scrapy_wds.testing"


def _wds_class() -> type[EmulatorServer]:
    from scrapy_wds.testing._wds_emulator import WdsEmulator

    return WdsEmulator


def _hasdata_class() -> type[EmulatorServer]:
    from scrapy_wds.testing._hasdata_emulator import HasDataEmulator

    return HasDataEmulator


def _demo_class() -> type[EmulatorServer]:
    from scrapy_wds.testing._demo_site import DemoSite

    return DemoSite


@dataclass(frozen=True)
class Service:
    """One server the command starts, and how its flags and output lines are named."""

    prefix: str  # flag prefix: --<prefix>-port, --<prefix>-<switch>
    url_name: str  # printed as <url_name>=<url>
    load: Callable[[], type[EmulatorServer]]
    key_name: str | None = None  # printed as <key_name>=<the server's api_key>

    def dest(self, name: str) -> str:
        return f"{self.prefix}__{name}"


SERVICES = (
    Service("wds", "WDS_API_URL", _wds_class),
    Service("hasdata", "HASDATA_API_URL", _hasdata_class, key_name="HASDATA_API_KEY"),
    Service("demo", "DEMO_SITE_URL", _demo_class),
)


def switch_defaults(cls: type[EmulatorServer]) -> dict[str, Any]:
    """Each switch's default, as a freshly constructed server has it.

    Read from an instance rather than the constructor's signature because a
    constructor may take ``None`` for "the usual" (an empty dict, say); the
    instance shows the value in force and so the flag's type.  Constructing a
    server binds no port; only :meth:`EmulatorServer.start` does.
    """
    return cls().switches()


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None


def _float_value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _int_value(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _add_switch(group: Any, service: Service, name: str, default: Any) -> None:
    flag = f"--{service.prefix}-{name.replace('_', '-')}"
    shown = json.dumps(default) if not isinstance(default, str) else default
    about = f"switch {name}"
    if name == "api_key" and service.key_name:
        about = f"the only API key accepted, printed as {service.key_name}"
    # SUPPRESS: only switches given on the command line reach the constructor.
    common = {
        "dest": service.dest(name),
        "default": argparse.SUPPRESS,
        "help": f"{about} (default: {shown})",
    }
    if isinstance(default, bool):
        group.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        return
    kind: Callable[[str], Any]
    if isinstance(default, int):
        kind, metavar = _int_value, "INT"
    elif isinstance(default, float):
        kind, metavar = _float_value, "SECONDS" if name.endswith("seconds") else "FLOAT"
    elif isinstance(default, str):
        kind, metavar = str, "TEXT"
    else:  # dict, list, None…: JSON says what the type cannot
        kind, metavar = _json_value, "JSON"
    group.add_argument(flag, type=kind, metavar=metavar, **common)


def build_parser(services: Sequence[Service] = SERVICES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="start the WDS emulator, the HasData emulator and the demo site",
        description=(
            "Start the servers on loopback, print NAME=VALUE lines (source-able by a "
            "shell), then serve until SIGINT/SIGTERM. Switch flags set the emulators' "
            "behaviour (see docs/emulator-wds.md and docs/emulator-hasdata.md); they "
            "can also be changed later with POST /__emulator__/config."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    for service in services:
        cls = service.load()
        group = serve.add_argument_group(f"{cls.__name__} ({service.url_name})")
        group.add_argument(
            f"--{service.prefix}-port",
            dest=service.dest("port"),
            type=_int_value,
            default=0,
            metavar="PORT",
            help="port to listen on (default: 0, any free port)",
        )
        for name, default in switch_defaults(cls).items():
            _add_switch(group, service, name, default)
    return parser


def _constructor_kwargs(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    marker = service.dest("")
    return {
        dest[len(marker) :]: value
        for dest, value in vars(args).items()
        if dest.startswith(marker) and dest != service.dest("port")
    }


class BadSwitch(Exception):
    """A switch value the emulator itself rejected."""


def start_servers(args: argparse.Namespace, services: Sequence[Service]) -> list[EmulatorServer]:
    """Start every service; on failure stop those already running and re-raise."""
    started: list[EmulatorServer] = []
    try:
        for service in services:
            cls = service.load()
            port = getattr(args, service.dest("port"))
            switches = _constructor_kwargs(args, service)
            try:
                server = cls(host=args.host, port=port, **switches)  # type: ignore[call-arg]
            except (TypeError, ValueError) as exc:  # the emulator's own check of a value
                flags = ", ".join(
                    f"--{service.prefix}-{name.replace('_', '-')}" for name in switches
                )
                raise BadSwitch(f"{cls.__name__} refused {flags}: {exc}") from None
            server.start()
            started.append(server)
    except BaseException:
        for server in started:
            server.stop()
        raise
    return started


def search_the_demo_site(args: argparse.Namespace, servers: dict[str, EmulatorServer]) -> None:
    """Let the HasData emulator's ``google-serp`` find pages of the demo site.

    Without a site to search its results would be synthetic; pointing it at
    the demo site makes the serve command a self-contained world.  An explicit
    ``--hasdata-serp-site`` wins.
    """
    hasdata, demo = servers.get("hasdata"), servers.get("demo")
    if hasdata is None or demo is None or "serp_site" not in hasdata.switch_names:
        return
    if not hasattr(args, "hasdata__serp_site"):
        hasdata.configure(serp_site=demo.url + "/")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets, while the block runs.

    Installed before any line is printed, so a caller that signals as soon as
    it has read them still gets a clean exit; the previous handlers come back
    afterwards (``serve`` may run inside another program, a test for one).
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(args: argparse.Namespace, services: Sequence[Service] = SERVICES) -> int:
    with _stop_on_signals() as stop:
        try:
            started = start_servers(args, services)
        except OSError as exc:
            print(f"{PROG} serve: cannot listen on {args.host}: {exc}", file=sys.stderr)
            return 2
        except BadSwitch as exc:
            print(f"{PROG} serve: {exc}", file=sys.stderr)
            return 2
        try:
            search_the_demo_site(args, {s.prefix: server for s, server in zip(services, started)})
            for service, server in zip(services, started):
                print(f"{service.url_name}={server.url}")
                if service.key_name:
                    # Only the HasData emulator has a key; the servers share no type for it.
                    print(f"{service.key_name}={getattr(server, 'api_key')}")  # noqa: B009
            sys.stdout.flush()
            print("serving; stop with Ctrl-C (SIGINT) or SIGTERM", file=sys.stderr, flush=True)
            # A timed wait, so the signal handler gets its turn on every platform.
            while not stop.wait(0.5):
                pass
        finally:
            for server in reversed(started):
                server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse rejects others
