"""``scrapy crawl hasdata_contacts -O out.jsonl`` against the emulators equals the site's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from example_project.pipelines import ContactsNormalizePipeline
from scrapy.exceptions import DropItem

from scrapy_wds.testing import DemoSite, HasDataEmulator

from ._crawl import get_json, scrapy_crawl


def expected_contacts(site: DemoSite) -> dict[str, dict[str, Any]]:
    """The truth, cleaned as the spider's pipeline cleans rows, keyed by page URL."""
    truth = get_json(site.url + "/__truth__/contacts.json")
    expected = {}
    for url, contacts in truth.items():
        try:
            expected[url] = ContactsNormalizePipeline().process_item({"url": url, **contacts})
        except DropItem:
            continue
    assert expected, "the demo site's truth lists no contact page with data"
    return expected


@pytest.mark.parametrize(
    ("webhook_mode", "options"),
    [
        (None, ()),
        ("duplicated", ("-s", "HASDATA_WEBHOOK_ENABLED=1")),
        ("dropped", ("-s", "HASDATA_WEBHOOK_ENABLED=1")),
    ],
    ids=["polling", "webhooks-duplicated", "webhooks-dropped"],
)
def test_contacts_equal_the_truth(
    demo_site: DemoSite,
    hasdata_emulator: HasDataEmulator,
    tmp_path: Path,
    webhook_mode: str | None,
    options: tuple[str, ...],
) -> None:
    if webhook_mode is not None:
        hasdata_emulator.configure(webhook_mode=webhook_mode, webhook_batch=3, job_polls=3)
    env = {
        "HASDATA_API_URL": hasdata_emulator.url,
        "HASDATA_API_KEY": hasdata_emulator.api_key,
        "DEMO_SITE_URL": demo_site.url,
    }
    run = scrapy_crawl("hasdata_contacts", tmp_path, env, *options)

    assert run.returncode == 0, run.log[-3000:]
    assert "] ERROR:" not in run.log
    by_url = {item["url"]: item for item in run.items}
    assert len(by_url) == len(run.items), "a page was delivered twice"
    expected = expected_contacts(demo_site)
    assert by_url.keys() == expected.keys()
    for url, item in by_url.items():
        assert {k: v for k, v in item.items() if k in expected[url]} == expected[url], url
    # One HasData job, paid once.
    submits = [c for c in hasdata_emulator.calls() if c["method"] == "POST"]
    assert len(submits) == 1
    if webhook_mode is not None:
        accepted = [
            e
            for e in hasdata_emulator.webhook_deliveries()
            if e["status"] == 200 and e["event"] == "scraper.data.scraped"
        ]
        assert accepted, "webhooks were on but no data callback was accepted"
    assert hasdata_emulator.api_key not in run.log
