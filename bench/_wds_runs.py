"""What the WDS benchmarks share: one crawl in a fresh process against an emulator, and its call log."""

from __future__ import annotations

import os
from typing import Any

from _fresh_process import HERE
from _fresh_process import run_crawl as crawl_in_fresh_process

from scrapy_wds.testing import WdsEmulator

EXAMPLE_PROJECT = HERE.parent / "example_project"


def run_crawl(
    spider: str, emulator: WdsEmulator, settings: dict[str, str], *, fresh: bool = True
) -> dict[str, Any]:
    """Crawl with ``spider`` (``module:Class``) in a fresh process; its stats and the API calls it made.

    The emulator's call log is cleared first, so ``calls`` holds this crawl's
    calls only; with ``fresh``, its jobs and tasks are forgotten too.
    """
    settings = {"WDS_API_URL": emulator.url, **settings}
    clear(emulator, fresh)
    stats, wall = crawl_in_fresh_process(spider, settings, env=script_env())
    return {"wall": wall, "stats": stats, "calls": api_calls(emulator)}


def script_env() -> dict[str, str]:
    """The environment of a script run by a WDS benchmark: it imports bench/ and the example project."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(EXAMPLE_PROJECT)])}


def clear(emulator: WdsEmulator, fresh: bool) -> None:
    """Clear the emulator's call log; with ``fresh``, forget its jobs and tasks as well."""
    if fresh:
        emulator.reset()
    else:
        emulator.call_log.clear()  # the jobs' pages stay downloaded


def api_calls(emulator: WdsEmulator) -> list[dict[str, Any]]:
    return [c for c in emulator.calls() if c["path"].startswith("/api/v2/")]


def task_of(call: dict[str, Any]) -> str | None:
    """The task id of a task call (``/api/v2/tasks/{id}/…``), ``None`` for a job start."""
    parts = call["path"].split("/")
    return parts[4] if len(parts) > 4 and parts[3] == "tasks" else None


def active_seconds(calls: list[dict[str, Any]]) -> float:
    """From the first API call to the last one, by the emulator's clock."""
    times = [c["time"] for c in calls]
    return max(times) - min(times)
