"""A real ``scrapy runspider`` process: Scrapy's own logging at DEBUG, items out, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .probe import SECRET, start_job

SPIDER = """
import json
from urllib.parse import quote

import scrapy


class CliProbe(scrapy.Spider):
    name = "cli_probe"

    async def start(self):
        for task in json.loads(self.tasks):
            yield scrapy.Request(
                self.api.rstrip("/") + "/api/v2/tasks/" + quote(task["id"], safe="") + "/info",
                callback=self.parse_info,
                errback=self.on_error,
                meta={"wds": {"action": "info", "job": "cli", "task": task}},
            )

    def parse_info(self, response):
        yield {"task": response.meta["wds"]["task"]["id"], "status": response.status}

    def on_error(self, failure):
        yield {
            "task": failure.request.meta["wds"]["task"]["id"],
            "error": type(failure.value).__name__,
            "status": failure.value.status,
        }
"""


def test_runspider_logs_no_secret(wds_emulator: Any, demo_site: Any, tmp_path: Path) -> None:
    paths = demo_site.page_paths()[:3]
    tasks = start_job(wds_emulator.url, "cli", [demo_site.url + p for p in paths])
    wds_emulator.configure(pending_polls=1, fail_tasks={paths[0] + "$": 404})
    (tmp_path / "probe.py").write_text(SPIDER)
    headers = {"X-Tenant-Id": "acme", "Authorization": SECRET, "X-Session-Token": "tok-7781-abc"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            "probe.py",
            "-a",
            "tasks=" + json.dumps(tasks),
            "-a",
            "api=" + wds_emulator.url,
            "-s",
            'ADDONS={"scrapy_wds.Addon": 300}',
            "-s",
            "WDS_API_URL=" + wds_emulator.url,
            "-s",
            "WDS_API_HEADERS=" + json.dumps(headers),
            "-s",
            "WDS_POLL_FIRST_DELAY=0.05",
            "-s",
            "LOG_LEVEL=DEBUG",
            "-s",
            "TELNETCONSOLE_ENABLED=False",
            "-O",
            "items.json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = result.stderr + result.stdout
    assert result.returncode == 0, log[-3000:]
    items = json.loads((tmp_path / "items.json").read_text())
    by_task = {item["task"]: item for item in items}
    assert by_task[tasks[0]["id"]] == {
        "task": tasks[0]["id"],
        "error": "WdsTaskNotFound",
        "status": 404,
    }
    assert [by_task[t["id"]]["status"] for t in tasks[1:]] == [200, 200]
    # Scrapy's DEBUG lines are there (so this check means something) and mask nothing we need.
    assert "Crawled (200)" in log and "not downloaded yet (HTTP 200, state " in log
    assert log.count(" ERROR: WDS info on task") == 1
    assert (
        "X-Tenant-Id: acme" in log and "Authorization: ***" in log and "X-Session-Token: ***" in log
    )
    assert "'wds/polls': 2" in log
    for secret in (SECRET, SECRET.split()[1], "tok-7781-abc"):
        assert secret not in log
