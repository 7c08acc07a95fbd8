"""Local stand-ins for WDS, HasData and a demo site, for tests and offline work.

Start all three on loopback with ``python -m scrapy_wds.testing serve``, or use
them from Python (each is a context manager that serves from a thread)::

    with WdsEmulator() as wds, DemoSite() as site:
        ...  # wds.url, site.url, wds.calls()
"""

from scrapy_wds.testing._demo_site import DemoSite
from scrapy_wds.testing._hasdata_emulator import HasDataEmulator
from scrapy_wds.testing._wds_emulator import WdsEmulator

__all__ = ["DemoSite", "HasDataEmulator", "WdsEmulator"]
