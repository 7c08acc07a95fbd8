"""Local stand-ins for WDS, HasData and a demo site, for tests and offline work.

Start all three on loopback with ``python -m scrapy_wds.testing serve``, or use
them from Python (each is a context manager that serves from a thread)::

    with WdsEmulator() as wds, DemoSite() as site:
        ...  # wds.url, site.url, wds.calls()

The servers need the ``emulators`` extra (``pip install scrapy-wds[emulators]``).
They are imported on first use, not with this package, so that importing the
pytest plugin (:mod:`scrapy_wds.testing.pytest_plugin`) costs nothing until a
test asks for a server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy_wds.testing._demo_site import DemoSite
    from scrapy_wds.testing._hasdata_emulator import HasDataEmulator
    from scrapy_wds.testing._wds_emulator import WdsEmulator

__all__ = ["DemoSite", "HasDataEmulator", "WdsEmulator"]

_HOMES = {
    "DemoSite": "scrapy_wds.testing._demo_site",
    "HasDataEmulator": "scrapy_wds.testing._hasdata_emulator",
    "WdsEmulator": "scrapy_wds.testing._wds_emulator",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = import_module(home)
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        raise ModuleNotFoundError(
            f"scrapy_wds.testing.{name} needs aiohttp, which the 'emulators' extra "
            "installs: pip install 'scrapy-wds[emulators]'",
            name=exc.name,
        ) from exc
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
