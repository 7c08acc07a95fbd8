"""The demo site in a process of its own, so the emulator's process serves API calls only.

The WDS emulator downloads every task's page from the demo site; in one
process the two share one interpreter, and a crawl of thousands of tasks
would measure the emulator waiting on its own downloads.  Run as a script it
serves the site until its stdin closes, and prints the site's URL.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from scrapy_wds.testing import DemoSite


class SiteProcess(NamedTuple):
    url: str
    paths: list[str]

    def page_paths(self) -> list[str]:
        return self.paths


@contextlib.contextmanager
def demo_site_process() -> Iterator[SiteProcess]:
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        yield SiteProcess(url, DemoSite().page_paths())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


if __name__ == "__main__":
    with DemoSite() as site:
        print(site.url, flush=True)
        sys.stdin.read()
