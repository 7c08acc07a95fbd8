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


# -- known_pages ---------------------------------------------------------------------


def _category_and_book(api: Api, demo_site: DemoSite) -> tuple[dict[str, str], list[dict[str, str]], str]:
    """A category page (known to the job from the home page's crawl), its books, and the home task."""
    home = first_task(api, demo_site.url + "/")
    category = api.crawl(home, "CSS: ul.categories a")[0]
    books = api.crawl(category["Id"], "CSS: article.book h3 a")
    return category, books, home


def _crawl_log(wds_emulator: WdsEmulator) -> list[int]:
    return [call["known_pages"] for call in wds_emulator.calls() if call["path"].endswith("/crawl")]


def test_known_pages_same_answers_the_existing_task(api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator) -> None:
    wds_emulator.configure(known_pages="same")
    category, books, home = _category_and_book(api, demo_site)
    assert api.crawl(books[0]["Id"], "CSS: li.category a") == [category]
    assert api.start("job", demo_site.url + "/")[0]["Id"] == home
    assert _crawl_log(wds_emulator) == [0, 0, 1]


def test_known_pages_new_answers_a_fresh_task_that_works_each_time(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(known_pages="new")
    category, books, home = _category_and_book(api, demo_site)
    (again,) = api.crawl(books[0]["Id"], "CSS: li.category a")
    (once_more,) = api.crawl(books[0]["Id"], "CSS: li.category a")
    assert again["Url"] == once_more["Url"] == category["Url"]
    assert len({category["Id"], again["Id"], once_more["Id"]}) == 3
    # A fresh task is a task like any other: it downloads the page and answers every call.
    assert api.ready(again["Id"], "info")["TaskState"] == "Handled"
    assert api.scrape(again["Id"], "CSS: h1") == api.scrape(category["Id"], "CSS: h1")
    assert [b["Url"] for b in api.crawl(again["Id"], "CSS: article.book h3 a")] == [b["Url"] for b in books]
    (restarted,) = api.start("job", demo_site.url + "/")
    assert restarted["Url"] == demo_site.url + "/" and restarted["Id"] != home
    assert api.ready(restarted["Id"], "info")["TaskState"] == "Handled"
    assert _crawl_log(wds_emulator) == [0, 0, 1, 1, len(books)]


def test_known_pages_omit_leaves_known_pages_out(api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator) -> None:
    wds_emulator.configure(known_pages="omit")
    category, books, home = _category_and_book(api, demo_site)
    assert api.crawl(books[0]["Id"], "CSS: li.category a") == []
    assert api.start("job", demo_site.url + "/")[0]["Id"] == home  # start answers every start URL
    assert _crawl_log(wds_emulator) == [0, 0, 1]


@pytest.mark.parametrize("known_pages", ["same", "new", "omit"])
def test_crawling_a_task_again_answers_the_pages_it_brought_the_same_way(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator, known_pages: str
) -> None:
    """A retried crawl (its first answer lost on the way) must not lose or re-id its pages."""
    wds_emulator.configure(known_pages=known_pages)
    category, books, home = _category_and_book(api, demo_site)
    assert api.crawl(category["Id"], "CSS: article.book h3 a") == books
    assert api.crawl(home, "CSS: ul.categories a")[0] == category
