"""``kill -9`` drills: a JOBDIR crawl killed three times and resumed gives every book, at most one twice per kill.

Each crawl is a real ``scrapy crawl books`` subprocess; items are counted
from ``ItemLinesPipeline``'s file (written and flushed per item), because a
feed export buffers and under-counts after a kill.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from crawl.conftest import Crawls, read_lines

#: Slow enough that each kill lands where it is aimed.
SETTINGS = (
    "WDS_POLL_FIRST_DELAY=0.2",
    "WDS_POLL_MAX_DELAY=0.4",
    "CONCURRENT_REQUESTS=4",
)
KILL_AT = (0.15, 0.50, 0.85)


def kill_when(run: Any, lines: Path, count: int) -> int:
    """SIGKILL the crawl once ``count`` items are written; returns how many were then."""
    deadline = time.monotonic() + 120
    while len(read_lines(lines)) < count:
        assert run.process.poll() is None, "the crawl ended before it could be killed"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.02)
    os.kill(run.process.pid, signal.SIGKILL)
    run.process.wait(timeout=30)
    return len(read_lines(lines))


def duplicates_per_kill(items: list[dict[str, Any]], at_kill: list[int]) -> list[int]:
    """For each kill, how many books the crawl resumed after it wrote that were written before it."""
    counts = []
    for kill, count in enumerate(at_kill):
        before = {item["url"] for item in items[:count]}
        end = at_kill[kill + 1] if kill + 1 < len(at_kill) else len(items)
        counts.append(sum(item["url"] in before for item in items[count:end]))
    return counts


#: ``books`` asks some tasks ``info`` first; ``books_rules`` (a WdsCrawlSpider)
#: skips info everywhere: its calls are issued with the page that found them.
SPIDERS = ("books", "books_rules")


@pytest.mark.parametrize("spider", SPIDERS)
def test_killed_three_times_and_resumed_every_book_at_most_one_twice_per_kill(
    spider: str, crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]], tmp_path: Path
) -> None:
    wds_emulator.configure(pending_polls=2)
    jobdir = f"JOBDIR={tmp_path / 'job'}"
    lines = tmp_path / "books.lines"
    at_kill = []
    for fraction in KILL_AT:
        run = crawls.start(spider, jobdir, *SETTINGS, lines=lines)
        at_kill.append(kill_when(run, lines, int(fraction * len(truth))))
    last = crawls.start(spider, jobdir, *SETTINGS, lines=lines).wait()
    assert last.returncode == 0 and last.stats["finish_reason"] == "finished", last.log[-3000:]
    assert last.stats.get("wds/ledger/resumed", 0) > 0

    items = read_lines(lines)
    twice_per_kill = duplicates_per_kill(items, at_kill)
    print(
        f"{spider}: items at each kill {at_kill}; total written {len(items)}; "
        f"written again after each kill {twice_per_kill}"
    )
    assert {item["url"] for item in items} == {book["url"] for book in truth}
    assert all(n <= 1 for n in twice_per_kill), twice_per_kill
    assert sorted({item["url"]: item for item in items}.values(), key=lambda i: i["url"]) == truth
    # The job was started once: resumed crawls found its answer in the ledger.
    assert len([c for c in wds_emulator.calls() if c["path"].endswith("/start")]) == 1
