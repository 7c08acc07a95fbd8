"""Fixtures of the WDS downloader-side tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .probe import PathPrefixProxy


@pytest.fixture
def prefix_proxy(wds_emulator: Any) -> Iterator[PathPrefixProxy]:
    with PathPrefixProxy(wds_emulator.url) as proxy:
        yield proxy  # type: ignore[misc]
