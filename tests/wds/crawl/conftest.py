"""Running the example project's spiders as real ``scrapy crawl`` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_PROJECT = ROOT / "example_project"
HERE = Path(__file__).resolve().parent


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Items a crawl's ``ItemLinesPipeline`` wrote (a torn last line, from a kill, is left out)."""
    if not path.exists():
        return []
    items = []
    for line in path.read_text().splitlines():
        try:
            items.append(json.loads(line))
        except ValueError:
            pass
    return items


@dataclass
class CrawlRun:
    process: subprocess.Popen[bytes]
    output: Path
    stats_file: Path
    log_file: Path
    lines_file: Path

    def written(self) -> list[dict[str, Any]]:
        """Every item that went through the pipelines so far, even if the crawl was killed."""
        return read_lines(self.lines_file)

    def wait(self, timeout: float = 120) -> CrawlResult:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a crawl that never ends must not outlive its test
            self.process.wait()
            raise
        log = self.log_file.read_text(errors="replace")
        assert self.stats_file.exists(), f"the crawl wrote no stats; its log:\n{log[-5000:]}"
        items = [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]
        return CrawlResult(
            self.process.returncode, items, json.loads(self.stats_file.read_text()), log
        )


@dataclass
class CrawlResult:
    returncode: int
    items: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str

    def wds_stats(self) -> dict[str, Any]:
        return {k: v for k, v in self.stats.items() if k.startswith("wds/")}


class Crawls:
    """Starts crawls of the example project against the session's emulators."""

    def __init__(self, tmp_path: Path, wds_url: str, demo_url: str) -> None:
        self.tmp_path = tmp_path
        self.wds_url = wds_url
        self.demo_url = demo_url
        self.count = 0

    def start(
        self, spider: str, *settings: str, output: Path | None = None, lines: Path | None = None
    ) -> CrawlRun:
        self.count += 1
        output = output or self.tmp_path / f"{spider}-{self.count}.jsonl"
        lines = lines or self.tmp_path / f"{spider}-{self.count}.lines"
        stats_file = self.tmp_path / f"stats-{self.count}.json"
        log_file = self.tmp_path / f"log-{self.count}.txt"
        env = {
            **os.environ,
            "WDS_API_URL": self.wds_url,
            "DEMO_SITE_URL": self.demo_url,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        env.pop("HASDATA_API_KEY", None)
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            spider,
            "-o",
            f"{output}:jsonl",
            "-s",
            'EXTENSIONS={"stats_to_json.StatsToJson": 0}',
            "-s",
            f"STATS_JSON_FILE={stats_file}",
            "-s",
            "TELNETCONSOLE_ENABLED=False",
            "-s",
            "LOG_LEVEL=INFO",
            "-s",
            f"ITEM_LINES_FILE={lines}",
        ]
        for setting in settings:
            command += ["-s", setting]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=EXAMPLE_PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return CrawlRun(process, output, stats_file, log_file, lines)

    def run(self, spider: str, *settings: str) -> CrawlResult:
        return self.start(spider, *settings).wait()


@pytest.fixture
def crawls(tmp_path: Path, wds_emulator: Any, demo_site: Any) -> Crawls:
    return Crawls(tmp_path, wds_emulator.url, demo_site.url)


@pytest.fixture(scope="session")
def truth(demo_site: Any) -> list[dict[str, str]]:
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        books: list[dict[str, str]] = json.load(answer)
    assert len(books) == 200
    return books
