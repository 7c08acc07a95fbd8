"""What every benchmark script shares: a script run in a fresh process, and the machine's load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_script(
    args: list[str], *, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], float]:
    """``python ARGS`` from ``bench/`` in a fresh process: the JSON its last line printed, and the wall seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args], cwd=HERE, env=env, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)[:200]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def run_crawl(
    spider: str,
    settings: dict[str, str],
    *,
    env: dict[str, str] | None = None,
    profile: str | None = None,
) -> tuple[dict[str, Any], float]:
    """One crawl by ``_run_crawl.py`` (one reactor per crawl): its stats and the wall seconds.

    With ``profile``, the crawl runs under cProfile and its stats go to that file.
    """
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    pairs = [f"{k}={v}" for k, v in settings.items()]
    return run_script([*prefix, "_run_crawl.py", spider, *pairs], env=env)


def load_average() -> str:
    """The machine's load (1, 5, 15 min): the figures move with it on a shared machine."""
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())
