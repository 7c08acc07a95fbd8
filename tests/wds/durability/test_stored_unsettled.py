"""What a kill can cost, measured without killing: items stored while their answer is still owed.

A resumed crawl asks again every answer the ledger still owes, so an item
already stored whose answer was not yet settled is stored twice.  The ledger's
last item pipeline settles an item's answer in the same synchronous pipeline
call that stored it, so at any moment at most one item is in that state (the
one between the two pipelines), however many answers are in flight and
whether the listing pages skip ``info`` or not.  Settled only by the
``item_scraped`` signal, a reactor turn or more later, this drill measured up
to 4 at once with ``CONCURRENT_REQUESTS=4`` (one kill in four then gave two
books twice).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crawl.conftest import Crawls

from tests.wds.durability.stored_probe import MAX_STAT, PROBE_ORDER
from tests.wds.durability.test_kill_resume import SETTINGS, SPIDERS

HERE = Path(__file__).parent


@pytest.mark.parametrize("spider", SPIDERS)
def test_at_most_one_item_is_stored_and_not_yet_settled_at_any_moment(
    spider: str, crawls: Crawls, wds_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    wds_emulator.configure(pending_polls=2)
    monkeypatch.setenv("PYTHONPATH", str(HERE))  # the crawl imports the probe from here
    pipelines = {
        "example_project.pipelines.ItemLinesPipeline": 900,
        "stored_probe.StoredUnsettledProbe": PROBE_ORDER,
    }
    result = crawls.start(spider, *SETTINGS, f"ITEM_PIPELINES={json.dumps(pipelines)}").wait()
    assert result.stats["finish_reason"] == "finished", result.log[-3000:]
    counts = {k: v for k, v in sorted(result.stats.items()) if k.startswith("probe/")}
    print(f"{spider}: {counts}")
    assert result.stats["item_scraped_count"] == 200
    assert result.stats[MAX_STAT] == 1, counts
