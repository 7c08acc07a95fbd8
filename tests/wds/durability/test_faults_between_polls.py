"""Server errors between long waits: the failure count starts again with each "not yet"."""

from __future__ import annotations

from collections import Counter
from typing import Any

from crawl.conftest import Crawls

FAST = (
    "WDS_POLL_FIRST_DELAY=0.02",
    "WDS_POLL_MAX_DELAY=0.05",
    "WDS_RETRY_FIRST_DELAY=0.02",
    "WDS_RETRY_MAX_DELAY=0.05",
)


def test_one_call_in_ten_failing_over_twenty_polls_loses_nothing(
    crawls: Crawls, wds_emulator: Any, truth: list[dict[str, str]]
) -> None:
    wds_emulator.configure(error_rate=0.1, pending_polls=20, seed=11)
    run = crawls.start("books", *FAST)
    result = run.wait(timeout=300)
    items = run.written()
    assert result.returncode == 0 and result.stats["finish_reason"] == "finished", result.log[
        -3000:
    ]
    assert Counter(item["url"] for item in items) == Counter(book["url"] for book in truth)
    calls = wds_emulator.calls()
    statuses = Counter(c["status"] for c in calls)
    pending = sum(1 for c in calls if c.get("pending"))
    assert statuses[503] > 100 and pending >= 20 * len(truth)  # the faults really happened
    # Each 503 was retried, or (the WDS_RETRY_TIMES-th in a row) made its call rest.
    rests = result.stats.get("wds/retries/rests", 0)
    assert result.stats["wds/retries/count"] + rests == statuses[503]
