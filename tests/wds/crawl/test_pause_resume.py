"""A ``books`` crawl paused with SIGINT mid-way (JOBDIR) and resumed ends with every book exactly once."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from .conftest import Crawls
from .test_books import site_shape

# Slow enough polls that the crawl is still busy when it is interrupted.
SETTINGS = ("WDS_POLL_FIRST_DELAY=0.2", "WDS_POLL_MAX_DELAY=0.4", "CONCURRENT_REQUESTS=4")


def scraped_pages(emulator: Any) -> int:
    return sum(
        1 for c in emulator.calls() if c["path"].endswith("/scrape-multiple") and c["status"] == 200
    )


def test_paused_and_resumed_crawl_gives_every_book_once(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]], tmp_path: Path
) -> None:
    wds_emulator.configure(pending_polls=2)
    jobdir = f"JOBDIR={tmp_path / 'job'}"
    first = crawls.start("books", jobdir, *SETTINGS)
    deadline = time.monotonic() + 60
    while scraped_pages(wds_emulator) < 20 and first.process.poll() is None:
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.05)
    first.process.send_signal(signal.SIGINT)
    paused = first.wait()
    assert paused.stats["finish_reason"] == "shutdown", paused.log[-3000:]
    assert 0 < len(paused.items) < len(truth), "the pause did not land mid-way"

    resumed = crawls.run("books", jobdir, *SETTINGS)
    assert resumed.returncode == 0 and resumed.stats["finish_reason"] == "finished", resumed.log[
        -3000:
    ]

    items = paused.items + resumed.items
    urls = [item["url"] for item in items]
    assert len(urls) == len(set(urls)), "a book was scraped twice across the pause"
    assert sorted(items, key=lambda item: item["url"]) == truth
    # The job was started once: the resumed crawl's start request was a duplicate.
    starts = [c for c in wds_emulator.calls() if c["path"].endswith("/start")]
    assert len(starts) == 1
    assert paused.stats["wds/items"] + resumed.stats["wds/items"] == site_shape(truth)["books"]
