"""A few mistakes through a real ``scrapy crawl`` of the example project: what a user sees.

The in-process suite checks every mistake; these check that the command line
(log setup, feed exporter, reactor, exit) adds no traceback of its own and
ends at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("CONCURRENT_REQUESTS=0", "CONCURRENT_REQUESTS must be a whole number ≥ 1, got '0'"),
        ("WDS_POLL_FIRST_DELAY=0", "WDS_POLL_FIRST_DELAY must be a number of seconds > 0"),
        # Scrapy's feed exporter reads every spider attribute when it opens.
        ("WDS_SCRAPE_MULTIPLE_METHOD=put", "WDS_SCRAPE_MULTIPLE_METHOD is 'put'"),
    ],
)
def test_scrapy_crawl_gives_one_line_and_ends(
    setting: str, named: str, wds_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    env = {**os.environ, "WDS_API_URL": wds_emulator.url, "DEMO_SITE_URL": demo_site.url}
    env.pop("HASDATA_API_KEY", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "books",
            "-o",
            f"{tmp_path}/out.jsonl",
            "-s",
            setting,
            "-s",
            "TELNETCONSOLE_ENABLED=False",
        ],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = result.stdout + result.stderr
    errors = [line for line in log.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, log[-3000:]
    assert named in errors[0]
    assert "Traceback" not in log
    assert "Spider closed (wds_bad_config)" in log
    assert wds_emulator.calls() == []
