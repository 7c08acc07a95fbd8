"""The HasData tests see no proxy from the machine they run on.

The HasData calls honour ``http_proxy`` / ``https_proxy`` / ``no_proxy``
(either case), so a CI machine's proxy would send the calls to the
emulator through it, or fail them; the tests that want a proxy set their own.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
