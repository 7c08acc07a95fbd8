"""The WDS emulator's readings of what the docs leave open: how a waiting info
answers, what crawl does with pages the job already has, and malformed 200s.

Every test here sets one of those switches, so each fails without it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

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
    assert [
        call.get("pending", False)
        for call in wds_emulator.calls()
        if call["path"].endswith("/info")
    ] == [
        True,
        True,
        False,
    ]


def test_pending_info_200_leaves_crawl_and_scrape_at_202(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(pending_info="200", pending_polls=3)
    task = first_task(api, demo_site.url + "/")
    assert api.task(task, "crawl", query={"selector": "CSS: a"})[0] == 202
    assert api.task(task, "scrape", query={"selector": "CSS: h1"})[0] == 202
    status, text = api.task(task, "info")  # the third pending answer, counted across endpoints
    assert status == 200 and json.loads(text)["TaskState"] in ("Created", "InProgress")
    assert json.loads(text)["Result"] is None
    assert json.loads(api.task(task, "info")[1])["TaskState"] == "Handled"


# -- known_pages ---------------------------------------------------------------------


def _category_and_book(
    api: Api, demo_site: DemoSite
) -> tuple[dict[str, str], list[dict[str, str]], str]:
    """A category page (known to the job from the home page's crawl), its books, and the home task."""
    home = first_task(api, demo_site.url + "/")
    category = api.crawl(home, "CSS: ul.categories a")[0]
    books = api.crawl(category["Id"], "CSS: article.book h3 a")
    return category, books, home


def _crawl_log(wds_emulator: WdsEmulator) -> list[int]:
    return [call["known_pages"] for call in wds_emulator.calls() if call["path"].endswith("/crawl")]


def test_known_pages_same_answers_the_existing_task(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
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
    assert [b["Url"] for b in api.crawl(again["Id"], "CSS: article.book h3 a")] == [
        b["Url"] for b in books
    ]
    (restarted,) = api.start("job", demo_site.url + "/")
    assert restarted["Url"] == demo_site.url + "/" and restarted["Id"] != home
    assert api.ready(restarted["Id"], "info")["TaskState"] == "Handled"
    assert _crawl_log(wds_emulator) == [0, 0, 1, 1, len(books)]


def test_known_pages_omit_leaves_known_pages_out(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(known_pages="omit")
    _category, books, home = _category_and_book(api, demo_site)
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


# -- malformed 200s --------------------------------------------------------------------


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("endpoint", "kwargs"),
    [
        ("crawl", {"query": {"selector": "CSS: ul.categories a"}}),
        ("scrape", {"query": {"selector": "CSS: h1"}}),
        ("info", {}),
    ],
)
def test_malformed_truncated_cuts_the_json_short(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator, endpoint: str, kwargs: dict[str, Any]
) -> None:
    task = first_task(api, demo_site.url + "/")
    good = api.ready(task, endpoint, **kwargs)
    wds_emulator.configure(malformed="truncated", malformed_rate=1.0)
    status, text = api.task(task, endpoint, **kwargs)
    assert status == 200 and text and not _is_json(text)
    assert json.dumps(good).startswith(text) and len(text) < len(json.dumps(good))
    assert wds_emulator.calls()[-1]["malformed"] == "truncated"


def test_malformed_html_sends_a_proxy_page(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    task = first_task(api, demo_site.url + "/")
    api.ready(task, "info")
    wds_emulator.configure(malformed="html", malformed_rate=1.0)
    url = f"{api.base}/tasks/{task}/scrape?selector=CSS%3A%20h1"
    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.read().decode().lstrip().startswith("<!DOCTYPE html>")


def test_malformed_object_swaps_arrays_and_objects(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    task = first_task(api, demo_site.url + "/")
    categories = api.crawl(task, "CSS: ul.categories a")
    info = api.ready(task, "info")
    wds_emulator.configure(malformed="object", malformed_rate=1.0, key_case="camel")
    status, text = api.task(task, "crawl", query={"selector": "CSS: ul.categories a"})
    assert status == 200 and json.loads(text) == {
        "items": [{"id": c["Id"], "url": c["Url"]} for c in categories],
        "count": len(categories),
    }
    status, text = api.task(task, "info")
    assert (
        status == 200
        and isinstance(json.loads(text), list)
        and json.loads(text)[0]["taskState"] == info["TaskState"]
    )


def test_malformed_tasks_spoil_every_200_of_matching_pages_only(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(
        malformed="html", malformed_tasks=[r"/contact\.html$"], pending_info="200", pending_polls=1
    )
    contact, home = (
        t["Id"] for t in api.start("j", demo_site.url + "/contact.html", demo_site.url + "/")
    )
    assert [api.task(contact, "info")[0] for _ in range(2)] == [200, 200]  # the waiting info too
    assert [api.task(contact, "info")[1].startswith("<!DOCTYPE html>") for _ in range(2)] == [
        True,
        True,
    ]
    assert api.task(contact, "crawl", query={"selector": "CSS: a"})[0] == 200
    assert api.scrape(home, "CSS: h1") and api.ready(home, "info")["TaskState"] == "Handled"
    spoiled = [call for call in wds_emulator.calls() if "malformed" in call]
    assert spoiled and all(contact in call["path"] for call in spoiled)


def test_malformed_rate_draws_repeat_with_the_seed_and_leave_503s_alone(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    task = first_task(api, demo_site.url + "/")
    api.ready(task, "info")

    def answers() -> list[tuple[int, bool]]:
        return [
            (status, _is_json(text)) for status, text in (api.task(task, "info") for _ in range(30))
        ]

    wds_emulator.configure(error_rate=0.3, seed=5)
    plain = answers()
    wds_emulator.configure(malformed="mixed", malformed_rate=0.5, seed=5)
    spoiled = answers()
    assert [status for status, _ in spoiled] == [status for status, _ in plain]  # same 503s
    assert {False, True} <= {ok for status, ok in spoiled if status == 200}
    forms = {call["malformed"] for call in wds_emulator.calls() if "malformed" in call}
    assert forms == {"truncated", "html", "object"}
    wds_emulator.configure(seed=5)
    assert answers() == spoiled
