"""``scrapy crawl serp_to_wds``: HasData search rows seed a WDS job; its pages become books."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scrapy_wds.testing import DemoSite, HasDataEmulator, WdsEmulator

from ._crawl import get_json, scrapy_crawl


def search_links(emulator: HasDataEmulator) -> list[str]:
    """Every link in the rows of the emulator's (only) search job."""
    jobs = get_json(f"{emulator.url}/__emulator__/jobs")
    assert [job["scraper"]["slug"] for job in jobs] == ["google-serp"]
    page = get_json(
        f"{emulator.url}/scrapers/jobs/{jobs[0]['id']}/results?page=1&limit=100",
        {"x-api-key": emulator.api_key},
    )
    assert page["meta"]["lastPage"] == 1
    return [wrapped["data"]["link"] for wrapped in page["data"]]


@pytest.mark.parametrize("keywords", ["poetry", "travel,mystery"])
def test_search_hits_become_books_scraped_through_wds(
    demo_site: DemoSite,
    hasdata_emulator: HasDataEmulator,
    wds_emulator: WdsEmulator,
    tmp_path: Path,
    keywords: str,
) -> None:
    hasdata_emulator.configure(serp_site=demo_site.url + "/")
    env = {
        "HASDATA_API_URL": hasdata_emulator.url,
        "HASDATA_API_KEY": hasdata_emulator.api_key,
        "WDS_API_URL": wds_emulator.url,
        "DEMO_SITE_URL": demo_site.url,
    }
    run = scrapy_crawl("serp_to_wds", tmp_path, env, "-a", f"keywords={keywords}")
    assert run.returncode == 0, run.log[-3000:]
    assert "] ERROR:" not in run.log

    truth = {book["url"]: book for book in get_json(demo_site.url + "/__truth__/books.json")}
    book_links = {
        link
        for link in search_links(hasdata_emulator)
        if urlsplit(link).path.startswith("/catalogue/book/")
    }
    # Every book of the categories searched for is among the hits (so the
    # expectation below is not trivially small).
    for keyword in keywords.split(","):
        in_category = {url for url, book in truth.items() if book["category"].lower() == keyword}
        assert in_category and in_category <= book_links

    by_url = {item["url"]: item for item in run.items}
    assert len(by_url) == len(run.items), "a book was scraped twice"
    assert by_url.keys() == book_links
    for url, item in by_url.items():
        assert item == truth[url]
    # The search rows were seeds, not output: they went to the spider's
    # callback, never through the pipelines (not even to be dropped there).
    assert all("keyword" not in item for item in run.items)
    assert "'hasdata/rows':" in run.log
    assert "item_dropped_count" not in run.log
    starts = [
        c for c in wds_emulator.calls() if c["method"] == "POST" and c["path"].endswith("/start")
    ]
    assert starts, "no WDS job was started"
