"""Settings for the whole suite.

The project's own tests use the emulator fixtures, opted in like any user's
suite. The tests the oldest supported versions run (``tox -e min``, marker
``min``) are chosen here by path, so test files need not know about it: the
unit and component tests, the in-process and real ``scrapy crawl`` runs of
each service that depend most on Scrapy's engine (closing, start(), resume),
and the checks of the Scrapy internals the package touches.

No test sees a proxy from the machine it runs on: WDS calls go through
Scrapy's downloader and HasData calls through its HTTP handler, both honour
``http_proxy`` / ``https_proxy`` / ``no_proxy`` (either case), so a CI
machine's proxy would route loopback calls through it or fail them.  Tests
that want a proxy set their own; ``scrapy crawl`` subprocesses inherit the
cleaned environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["scrapy_wds.testing.pytest_plugin"]

TESTS = Path(__file__).resolve().parent
#: Paths under tests/ (a directory ends with /) whose tests are marked ``min``.
MIN_PATHS = (
    "wds/spider/",
    "wds/downloader/",
    "wds/crawl/test_in_process.py",
    "wds/crawl/test_faults.py",  # real `scrapy crawl` runs; a set-up mistake closes at start()
    "hasdata/extension/",  # in-process runs, and real crawls stopped by SIGINT/SIGKILL and resumed
    "hasdata/webhooks/test_row_keys.py",
    "hasdata/webhooks/test_receiver.py",
    "packaging/test_compat.py",
    "packaging/test_no_private_scrapy.py",
    "test_pytest_plugin.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix()
        if where.startswith(MIN_PATHS):
            item.add_marker(pytest.mark.min)


def pytest_configure(config: pytest.Config) -> None:
    # At start-up, not in a fixture: session fixtures (the emulators' readiness
    # checks with urllib) run before any function-scoped one.
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            del os.environ[name]
