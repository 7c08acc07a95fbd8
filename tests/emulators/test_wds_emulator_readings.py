"""The WDS emulator's readings of what the docs leave open: how a waiting info
answers, what crawl does with pages the job already has, and malformed 200s."""

from __future__ import annotations

import json

import pytest
from test_wds_emulator import Api, api, first_task  # noqa: F401

from scrapy_wds.testing import DemoSite, WdsEmulator

# -- pending_info ------------------------------------------------------------------


@pytest.mark.parametrize(("pending_info", "status"), [("200", 200), ("202", 202)])
def test_pending_info_chooses_the_status_of_a_waiting_info(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator, pending_info: str, status: int
) -> None:
    wds_emulator.configure(pending_info=pending_info, pending_polls=2)
    task = first_task(api, demo_site.url + "/")
    answers = [api.task(task, "info") for _ in range(3)]
    assert [answered for answered, _ in answers] == [status, status, 200]
    states = [json.loads(text)["TaskState"] for _, text in answers]
    assert states[0] in ("Created", "InProgress") and states[1] in ("Created", "InProgress")
    assert states[2] == "Handled"
    assert [call.get("pending", False) for call in wds_emulator.calls() if call["path"].endswith("/info")] == [
        True, True, False,
    ]


def test_pending_info_200_leaves_crawl_and_scrape_at_202(api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator) -> None:
    wds_emulator.configure(pending_info="200", pending_polls=3)
    task = first_task(api, demo_site.url + "/")
    assert api.task(task, "crawl", query={"selector": "CSS: a"})[0] == 202
    assert api.task(task, "scrape", query={"selector": "CSS: h1"})[0] == 202
    status, text = api.task(task, "info")  # the third pending answer, counted across endpoints
    assert status == 200 and json.loads(text)["TaskState"] in ("Created", "InProgress")
    assert json.loads(text)["Result"] is None
    assert json.loads(api.task(task, "info")[1])["TaskState"] == "Handled"
