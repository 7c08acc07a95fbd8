"""Running the example project's HasData spiders as real ``scrapy crawl`` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLE_PROJECT = Path(__file__).resolve().parents[3] / "example_project"
#: Polling every few hundredths of a second keeps the runs short (nothing
#: asserts on time).
FAST = (
    "HASDATA_POLL_FIRST_DELAY=0.05",
    "HASDATA_POLL_MAX_DELAY=0.1",
    "HASDATA_RETRY_FIRST_DELAY=0.01",
)
RUN_TIMEOUT = 120


@dataclass
class CrawlRun:
    returncode: int
    log: str
    items: list[dict[str, Any]]


def scrapy_crawl(spider: str, tmp_path: Path, env: dict[str, str], *options: str) -> CrawlRun:
    """``scrapy crawl SPIDER -O out.jsonl`` in the example project, with ``env`` added."""
    out = tmp_path / f"{spider}.jsonl"
    settings = [*FAST, f"HASDATA_STATE_FILE={tmp_path / 'hasdata-state.json'}", "LOG_LEVEL=INFO"]
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(out)]
    for setting in settings:
        command += ["-s", setting]
    command += list(options)
    done = subprocess.run(
        command,
        cwd=EXAMPLE_PROJECT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    return CrawlRun(done.returncode, done.stderr, [json.loads(line) for line in lines])


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
        return json.loads(answer.read())
