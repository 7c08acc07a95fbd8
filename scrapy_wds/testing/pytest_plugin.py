"""Pytest fixtures that start the local emulators once per test session.

Opt in from your project's ``conftest.py`` (the plugin is not registered
automatically, so an unrelated pytest run never loads it)::

    pytest_plugins = ["scrapy_wds.testing.pytest_plugin"]

or per run with ``pytest -p scrapy_wds.testing.pytest_plugin``. Then::

    def test_my_spider(wds_emulator, demo_site):
        ...  # wds_emulator.url, demo_site.url, wds_emulator.calls()

Loading the plugin imports only pytest: the servers (and aiohttp, from the
``emulators`` extra) are imported when a test first asks for a fixture.

The servers live for the whole session; the ``wds_emulator`` and
``hasdata_emulator`` fixtures hand each test the shared server with its
default switches restored and its state and call log cleared, so tests do not
see each other's calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from scrapy_wds.testing import DemoSite, HasDataEmulator, WdsEmulator
    from scrapy_wds.testing._server import EmulatorServer

_Server = TypeVar("_Server", bound="EmulatorServer")


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    from scrapy_wds.testing import DemoSite

    with DemoSite() as site:
        yield site


@pytest.fixture(scope="session")
def _wds_emulator_server() -> Iterator[WdsEmulator]:
    from scrapy_wds.testing import WdsEmulator

    with WdsEmulator() as server:
        yield server


@pytest.fixture(scope="session")
def _hasdata_emulator_server() -> Iterator[HasDataEmulator]:
    from scrapy_wds.testing import HasDataEmulator

    with HasDataEmulator() as server:
        yield server


@pytest.fixture
def wds_emulator(_wds_emulator_server: WdsEmulator) -> Iterator[WdsEmulator]:
    """The WDS emulator, reset, with default switches (change them with ``.configure``)."""
    yield from _fresh(_wds_emulator_server)


@pytest.fixture
def hasdata_emulator(_hasdata_emulator_server: HasDataEmulator) -> Iterator[HasDataEmulator]:
    """The HasData emulator, reset, with default switches (change them with ``.configure``)."""
    yield from _fresh(_hasdata_emulator_server)


def _fresh(server: _Server) -> Iterator[_Server]:
    """Hand a test the shared ``server`` cleared, and put its switches back afterwards."""
    defaults = server.switches()
    server.reset()
    yield server
    server.configure(**defaults)
    server.reset()
