"""``python -m scrapy_wds.testing serve``: lines a shell can source, flags from switches, clean exit."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from scrapy_wds.testing import DemoSite, HasDataEmulator, WdsEmulator
from scrapy_wds.testing._cli import Service, build_parser, main
from scrapy_wds.testing._server import EmulatorServer

PRINTED = ("WDS_API_URL", "HASDATA_API_URL", "HASDATA_API_KEY", "DEMO_SITE_URL")


# -- the command as a user runs it -------------------------------------------


class Served:
    """A running ``serve`` subprocess and the NAME=VALUE lines it printed."""

    def __init__(self, *flags: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scrapy_wds.testing", "serve", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        stdout, stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and stderr is not None

        def read_lines() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=read_lines, daemon=True).start()
        self.lines: list[str] = []
        while len(self.lines) < len(PRINTED):
            try:
                line = lines.get(
                    timeout=60
                )  # a safety net against a hung start, not a timing assertion
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"serve printed only {self.lines}: {stderr.read()}") from None
            self.lines.append(line.rstrip("\n"))
        self.env = dict(line.split("=", 1) for line in self.lines)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        self.process.send_signal(signum)
        _, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stderr


@pytest.fixture
def served() -> Iterator[Served]:
    run = Served(
        "--wds-pending-polls",
        "3",
        "--hasdata-numbers-as-strings",
        "--hasdata-credits",
        "7",
        "--wds-fail-tasks",
        '{"/admin/": 403}',
        "--wds-pending-info",
        "200",
        "--wds-known-pages",
        "new",
        "--wds-malformed",
        "html",
        "--wds-malformed-rate",
        "0.25",
        "--wds-malformed-tasks",
        '["/book/"]',
    )
    yield run
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()


def call(url: str, *, data: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_serve_prints_sourceable_lines_serves_all_three_and_exits_cleanly() -> None:
    run = Served()
    assert [line.split("=", 1)[0] for line in run.lines] == list(PRINTED)
    env = run.env
    for name in ("WDS_API_URL", "HASDATA_API_URL", "DEMO_SITE_URL"):
        assert env[name].startswith("http://127.0.0.1:")
    assert len({env["WDS_API_URL"], env["HASDATA_API_URL"], env["DEMO_SITE_URL"]}) == 3

    status, books = call(env["DEMO_SITE_URL"] + "/__truth__/books.json")
    assert status == 200 and len(json.loads(books)) == 200

    # WDS: a job on the demo site answers its start task.
    status, body = call(
        env["WDS_API_URL"] + "/api/v2/jobs/demo/start",
        data={"StartUrls": [env["DEMO_SITE_URL"] + "/"]},
    )
    assert status == 200
    assert [task["Url"] for task in json.loads(body)] == [env["DEMO_SITE_URL"] + "/"]

    # HasData: the printed key is the one it accepts, any other is refused.
    job = {"urls": [env["DEMO_SITE_URL"] + "/contact.html"]}
    status, _ = call(
        env["HASDATA_API_URL"] + "/scrapers/contacts/jobs", data=job, headers={"x-api-key": "wrong"}
    )
    assert status == 401
    status, body = call(
        env["HASDATA_API_URL"] + "/scrapers/contacts/jobs",
        data=job,
        headers={"x-api-key": env["HASDATA_API_KEY"]},
    )
    assert status == 200 and "id" in json.loads(body)

    returncode, stderr = run.stop(signal.SIGINT)
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


def test_switch_flags_reach_the_emulators(served: Served) -> None:
    status, body = call(served.env["WDS_API_URL"] + "/__emulator__/config")
    assert status == 200
    wds = json.loads(body)
    assert wds["pending_polls"] == 3
    assert wds["fail_tasks"] == {"/admin/": 403}
    assert (wds["pending_info"], wds["known_pages"]) == ("200", "new")
    assert (wds["malformed"], wds["malformed_rate"], wds["malformed_tasks"]) == (
        "html",
        0.25,
        ["/book/"],
    )
    assert wds["key_case"] == WdsEmulator().key_case  # untouched switches keep their defaults
    status, body = call(served.env["HASDATA_API_URL"] + "/__emulator__/config")
    hasdata = json.loads(body)
    assert hasdata["numbers_as_strings"] is True
    assert hasdata["credits"] == 7
    # With no --hasdata-serp-site, google-serp searches the demo site.
    assert hasdata["serp_site"] == served.env["DEMO_SITE_URL"] + "/"
    returncode, stderr = served.stop(signal.SIGTERM)
    assert returncode == 0, stderr


def test_api_key_flag_sets_the_accepted_and_printed_key() -> None:
    run = Served("--hasdata-api-key", "my-own-key")
    try:
        assert run.env["HASDATA_API_KEY"] == "my-own-key"
        status, _ = call(
            run.env["HASDATA_API_URL"] + "/scrapers/jobs/1",
            headers={"x-api-key": "hasdata-test-key"},
        )
        assert status == 401
    finally:
        assert run.stop()[0] == 0


def test_busy_port_is_a_clear_error_and_nothing_keeps_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--demo-port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing to source when a server could not start
    assert "cannot listen on 127.0.0.1" in err


def test_a_value_the_emulator_rejects_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--wds-key-case", "snake"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "WdsEmulator refused --wds-key-case" in err and "'snake'" in err
    assert main(["serve", "--wds-pending-info", "201"]) == 2
    assert (
        "WdsEmulator refused --wds-pending-info: pending_info must be one of"
        in capsys.readouterr().err
    )


# -- flags generated from switches ---------------------------------------------


class SwitchBoard(EmulatorServer):
    """One switch of every kind of default the generator must handle."""

    switch_names = ("verbose", "retries", "delay_seconds", "style", "routes", "limit")

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        retries: int = 2,
        delay_seconds: float = 0.5,
        style: str = "pascal",
        routes: dict[str, int] | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port)
        self.verbose, self.retries, self.delay_seconds = verbose, retries, delay_seconds
        self.style, self.routes, self.limit = style, routes if routes is not None else {}, limit

    def add_routes(self, app: web.Application) -> None:
        pass


BOARD = [Service("board", "BOARD_URL", lambda: SwitchBoard)]


def test_flags_take_the_type_of_each_default() -> None:
    args = build_parser(BOARD).parse_args(
        [
            "serve",
            "--board-verbose",
            "--board-retries",
            "5",
            "--board-delay-seconds",
            "1",
            "--board-style",
            "camel",
            "--board-routes",
            '{"/a": 404}',
            "--board-limit",
            "null",
        ]
    )
    given = {k.split("__", 1)[1]: v for k, v in vars(args).items() if k.startswith("board__")}
    assert given == {
        "port": 0,
        "verbose": True,
        "retries": 5,
        "delay_seconds": 1.0,
        "style": "camel",
        "routes": {"/a": 404},
        "limit": None,
    }
    assert (
        vars(build_parser(BOARD).parse_args(["serve", "--no-board-verbose"]))["board__verbose"]
        is False
    )
    # Switches not given stay out, so the constructor's own defaults apply.
    assert set(vars(build_parser(BOARD).parse_args(["serve"]))) == {
        "command",
        "host",
        "board__port",
    }


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--board-retries", "two", "not a whole number"),
        ("--board-delay-seconds", "soon", "not a number"),
        ("--board-routes", "{/a: 404}", "not valid JSON"),
    ],
)
def test_bad_flag_values_name_the_flag(
    flag: str, value: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser(BOARD).parse_args(["serve", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and complaint in err


def test_help_lists_a_flag_for_every_switch_of_every_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for prefix, cls in (("wds", WdsEmulator), ("hasdata", HasDataEmulator), ("demo", DemoSite)):
        assert f"--{prefix}-port" in text
        for name in cls.switch_names:
            assert f"--{prefix}-{name.replace('_', '-')}" in text
    assert "--hasdata-api-key" in text
