"""Contract tests of the HasData emulator: endpoints, auth, validation, scrapers.

Plain synchronous tests: the emulator and the demo site serve from threads of
their own, so ``urllib`` calls from the test are real HTTP on loopback.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from aiohttp import web

from scrapy_wds.testing import DemoSite, HasDataEmulator
from scrapy_wds.testing._hasdata_client import Answer, call
from scrapy_wds.testing._server import EmulatorServer

RECORD_KEYS = {
    "id",
    "status",
    "creditsSpent",
    "dataRowsCount",
    "input",
    "createdAt",
    "updatedAt",
    "scraperId",
    "scraper",
    "columns",
}
META_KEYS = {
    "total",
    "perPage",
    "currentPage",
    "lastPage",
    "firstPage",
    "firstPageUrl",
    "lastPageUrl",
    "nextPageUrl",
    "previousPageUrl",
}


def truth(site: DemoSite, name: str) -> Any:
    with urllib.request.urlopen(f"{site.url}/__truth__/{name}") as response:
        return json.loads(response.read())


def submit(emu: HasDataEmulator, slug: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = call(emu.url, "POST", f"/scrapers/{slug}/jobs", body)
    assert answer.status == 200, answer.text
    return answer.json()


def wait_done(emu: HasDataEmulator, job_id: Any, max_polls: int = 500) -> dict[str, Any]:
    for _ in range(max_polls):
        record = call(emu.url, "GET", f"/scrapers/jobs/{job_id}").json()
        if record["status"] in ("finished", "stopped"):
            return record
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never ended")


def wait_produced(emu: HasDataEmulator, job_id: Any, max_checks: int = 500) -> None:
    """Wait (by the admin view, not by status polls) until the scraper is done."""
    for _ in range(max_checks):
        jobs = json.loads(urllib.request.urlopen(f"{emu.url}/__emulator__/jobs").read())
        if any(job["id"] == job_id and job["emulator"]["producerDone"] for job in jobs):
            return
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never finished producing")


def results(emu: HasDataEmulator, job_id: Any, query: str = "") -> Answer:
    return call(emu.url, "GET", f"/scrapers/jobs/{job_id}/results{query}")


def all_rows(emu: HasDataEmulator, job_id: Any) -> list[dict[str, Any]]:
    return [item["data"] for item in results(emu, job_id, "?limit=100000").json()["data"]]


def run_job(emu: HasDataEmulator, slug: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    job_id = submit(emu, slug, body)["id"]
    wait_done(emu, job_id)
    return all_rows(emu, job_id)


# -- the documented client flow -------------------------------------------------


def test_documented_client_flow_reads_every_row_once(hasdata_emulator, demo_site):
    """Submit → read ``id`` → poll → page until currentPage >= lastPage → unwrap."""
    hasdata_emulator.configure(job_polls=3)
    base, headers = hasdata_emulator.url, {"x-api-key": "hasdata-test-key"}

    def get(path: str, data: bytes | None = None, method: str = "GET") -> Any:
        request = urllib.request.Request(
            base + path,
            data=data,
            method=method,
            headers={**headers, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    job = get(
        "/scrapers/crawler/jobs", json.dumps({"urls": [demo_site.url + "/"]}).encode(), "POST"
    )
    job_id = job["id"]
    statuses = []
    while job["status"] not in ("finished", "stopped"):
        time.sleep(0.01)
        job = get(f"/scrapers/jobs/{job_id}")
        statuses.append(job["status"])
    rows, page = [], 1
    while True:
        body = get(f"/scrapers/jobs/{job_id}/results?page={page}&limit=100")
        rows += [item["data"] for item in body["data"]]
        if body["meta"]["currentPage"] >= body["meta"]["lastPage"]:
            break
        page += 1

    assert statuses[:3] == ["in_progress"] * 3 and statuses[-1] == "finished"
    assert len(rows) == job["dataRowsCount"] > 200
    crawled = [row["url"] for row in rows]
    assert len(crawled) == len(set(crawled))
    books = [b["url"] for b in truth(demo_site, "books.json")]
    assert (
        sorted(u for u in crawled if "/catalogue/book/" in u and "out-of-print" not in u) == books
    )
    titles = {row["url"]: row["title"] for row in rows}
    assert all(book["title"] in titles[book["url"]] for book in truth(demo_site, "books.json"))


# -- submit and the job record ------------------------------------------------------


def test_submit_answers_the_full_pending_record(hasdata_emulator, demo_site):
    body = {"urls": [demo_site.url + "/"], "limit": 3}
    record = submit(hasdata_emulator, "crawler", body)
    assert set(record) >= RECORD_KEYS
    assert record["status"] == "pending"
    assert record["input"] == body
    assert record["scraper"]["slug"] == "crawler"
    assert record["scraperId"] == record["scraper"]["id"]
    assert record["columns"][:3] == ["url", "statusCode", "title"]
    assert (record["creditsSpent"], record["dataRowsCount"]) == (0, 0)
    assert isinstance(record["id"], int)
    assert record["createdAt"].endswith("Z") and "data" not in record


def test_finished_record_counts_rows_and_has_links(hasdata_emulator, demo_site):
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 4})["id"]
    record = wait_done(hasdata_emulator, job_id)
    assert record["status"] == "finished"
    assert record["dataRowsCount"] == record["creditsSpent"] == 4
    assert set(record["data"]) == {"csv", "json", "xlsx"}


def test_status_of_unknown_job_is_404(hasdata_emulator):
    for method, path in [
        ("GET", "/scrapers/jobs/999"),
        ("GET", "/scrapers/jobs/999/results"),
        ("DELETE", "/scrapers/jobs/999"),
    ]:
        answer = call(hasdata_emulator.url, method, path)
        assert answer.status == 404 and "999" in answer.text


def test_unknown_slug_is_404(hasdata_emulator):
    answer = call(hasdata_emulator.url, "POST", "/scrapers/no-such-scraper/jobs", {"urls": []})
    assert answer.status == 404 and "no-such-scraper" in answer.text


# -- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/scrapers/crawler/jobs"),
        ("GET", "/scrapers/jobs/416349"),
        ("GET", "/scrapers/jobs/416349/results"),
        ("DELETE", "/scrapers/jobs/416349"),
    ],
)
def test_every_api_call_needs_the_key(hasdata_emulator, key, method, path):
    answer = call(hasdata_emulator.url, method, path, {"urls": ["http://x.test/"]}, key=key)
    assert answer.status == 401 and "x-api-key" in answer.text
    assert hasdata_emulator.calls()[-1]["status"] == 401


def test_api_key_is_a_constructor_argument_and_a_switch(hasdata_emulator, demo_site):
    assert HasDataEmulator(api_key="k1").api_key == "k1"
    hasdata_emulator.configure(api_key="my-own-key")
    body = {"urls": [demo_site.url + "/"]}
    assert call(hasdata_emulator.url, "POST", "/scrapers/crawler/jobs", body).status == 401
    answer = call(hasdata_emulator.url, "POST", "/scrapers/crawler/jobs", body, key="my-own-key")
    assert answer.status == 200


# -- body validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "slug,raw,named",
    [
        ("crawler", b"not json", "JSON object"),
        ("crawler", b"[1, 2]", "JSON object"),
        ("crawler", b'{"urls": ["http://a.test/"], "limit": -1}', "limit"),
        ("crawler", b'{"urls": ["http://a.test/"], "limit": "5"}', "limit"),
        ("crawler", b'{"urls": ["http://a.test/"], "limit": true}', "limit"),
        ("crawler", b'{"limit": 5}', "urls"),
        ("crawler", b'{"urls": []}', "urls"),
        ("crawler", b'{"urls": ["ftp://a.test/"]}', "urls"),
        ("crawler", b'{"urls": ["http://a.test/"], "maxDepth": -2}', "maxDepth"),
        ("crawler", b'{"urls": ["http://a.test/"], "includePaths": ["(unclosed"]}', "includePaths"),
        ("crawler", b'{"urls": ["http://a.test/"], "excludeTags": ["a["]}', "excludeTags"),
        ("contacts", b"{}", "urls"),
        ("google-serp", b"{}", "keywords"),
        (
            "crawler",
            b'{"urls": ["http://a.test/"], "webhook": {"url": "http://example.com/h"}}',
            "webhook.url",
        ),
        (
            "crawler",
            (
                b'{"urls": ["http://a.test/"], "webhook": {"url": "https://h.test/",'
                b' "events": ["nope"]}}'
            ),
            "webhook.events",
        ),
    ],
)
def test_bad_bodies_answer_422_naming_the_field(hasdata_emulator, slug, raw, named):
    answer = call(hasdata_emulator.url, "POST", f"/scrapers/{slug}/jobs", raw_body=raw)
    assert answer.status == 422
    assert named in answer.text and "Traceback" not in answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query,named", [("?page=0", "page"), ("?page=x", "page"), ("?limit=0", "limit")]
)
def test_bad_results_query_answers_422(hasdata_emulator, demo_site, query, named):
    job_id = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})["id"]
    answer = results(hasdata_emulator, job_id, query)
    assert answer.status == 422 and named in answer.text


# -- results paging -----------------------------------------------------------------


def test_results_pages_are_double_wrapped_with_meta(hasdata_emulator, demo_site):
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 23})["id"]
    wait_done(hasdata_emulator, job_id)
    pages = [results(hasdata_emulator, job_id, f"?page={n}&limit=10").json() for n in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [10, 10, 3, 0]
    first, last = pages[0]["meta"], pages[2]["meta"]
    assert set(first) == META_KEYS
    assert (
        first["total"],
        first["perPage"],
        first["currentPage"],
        first["lastPage"],
        first["firstPage"],
    ) == (23, 10, 1, 3, 1)
    assert first["previousPageUrl"] is None and first["nextPageUrl"] == "/?page=2"
    assert first["firstPageUrl"] == "/?page=1" and first["lastPageUrl"] == "/?page=3"
    assert last["nextPageUrl"] is None and last["previousPageUrl"] == "/?page=2"
    item = pages[0]["data"][0]
    assert set(item) == {"id", "jobId", "dataId", "data", "createdAt", "updatedAt"}
    assert item["jobId"] == job_id and item["data"]["url"] == demo_site.url + "/"
    ids = [i["id"] for p in pages for i in p["data"]]
    assert len(set(ids)) == 23
    again = [
        i["id"]
        for n in (1, 2, 3)
        for i in results(hasdata_emulator, job_id, f"?page={n}&limit=10").json()["data"]
    ]
    assert again == ids


def test_page_size_is_capped(hasdata_emulator, demo_site):
    hasdata_emulator.configure(page_size_cap=7)
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 20})["id"]
    wait_done(hasdata_emulator, job_id)
    body = results(hasdata_emulator, job_id, "?page=1&limit=100").json()
    assert body["meta"]["perPage"] == 7 and body["meta"]["lastPage"] == 3
    assert len(body["data"]) == 7
    assert len(results(hasdata_emulator, job_id).json()["data"]) == 7


def test_empty_job_has_one_empty_page(hasdata_emulator, demo_site):
    job_id = submit(
        hasdata_emulator,
        "crawler",
        {"urls": [demo_site.url + "/"], "maxDepth": 0, "includePaths": ["^/nothing-here$"]},
    )["id"]
    assert wait_done(hasdata_emulator, job_id)["dataRowsCount"] == 0
    meta = results(hasdata_emulator, job_id).json()["meta"]
    assert (meta["total"], meta["lastPage"], meta["currentPage"]) == (0, 1, 1)


# -- progress over polls and time ---------------------------------------------------


def test_rows_become_readable_while_in_progress(hasdata_emulator, demo_site):
    hasdata_emulator.configure(job_polls=3)
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 40})["id"]
    wait_produced(hasdata_emulator, job_id)  # all 40 rows made; only the polls gate them
    seen = []
    for _ in range(3):
        status = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}").json()["status"]
        seen.append((status, results(hasdata_emulator, job_id).json()["meta"]["total"]))
    final = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}").json()
    assert [s for s, _ in seen] == ["in_progress"] * 3
    assert [n for _, n in seen] == [10, 20, 30]
    assert final["status"] == "finished" and final["dataRowsCount"] == 40


def test_job_seconds_keeps_a_job_running(hasdata_emulator, demo_site):
    hasdata_emulator.configure(job_seconds=30.0)
    job_id = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})["id"]
    for _ in range(5):
        record = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}").json()
        assert record["status"] == "in_progress"
    hasdata_emulator.configure(job_seconds=0.0)  # new jobs only: this one keeps its 30 s
    assert call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}").json()["status"] == (
        "in_progress"
    )


# -- DELETE -----------------------------------------------------------------------------


def test_delete_stops_the_job_and_keeps_partial_rows(hasdata_emulator, demo_site):
    hasdata_emulator.configure(job_polls=4)
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 50})["id"]
    wait_produced(hasdata_emulator, job_id)
    call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}")  # 1 of 5: a fifth is readable
    stopped = call(hasdata_emulator.url, "DELETE", f"/scrapers/jobs/{job_id}")
    assert stopped.status == 200
    record = stopped.json()
    assert record["status"] == "stopped" and record["dataRowsCount"] == 10
    assert "data" not in record
    for _ in range(3):
        again = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}").json()
        assert again["status"] == "stopped" and again["dataRowsCount"] == 10
    assert len(all_rows(hasdata_emulator, job_id)) == 10


def test_delete_of_a_finished_job_changes_nothing(hasdata_emulator, demo_site):
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 2})["id"]
    wait_done(hasdata_emulator, job_id)
    record = call(hasdata_emulator.url, "DELETE", f"/scrapers/jobs/{job_id}").json()
    assert record["status"] == "finished" and record["dataRowsCount"] == 2


# -- ids and numbers -----------------------------------------------------------------


def test_uuid_ids_and_numbers_as_strings(hasdata_emulator, demo_site):
    hasdata_emulator.configure(id_style="uuid", numbers_as_strings=True)
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 3})["id"]
    assert isinstance(job_id, str) and len(job_id) == 36 and job_id.count("-") == 4
    record = wait_done(hasdata_emulator, job_id)
    assert (record["creditsSpent"], record["dataRowsCount"]) == ("3", "3")
    body = results(hasdata_emulator, job_id, "?limit=2").json()
    assert (body["meta"]["total"], body["meta"]["perPage"], body["meta"]["lastPage"]) == (
        "3",
        "2",
        "2",
    )
    assert all(isinstance(item["id"], str) and item["jobId"] == job_id for item in body["data"])


def test_int_ids_start_again_after_reset(hasdata_emulator, demo_site):
    first = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})["id"]
    hasdata_emulator.reset()
    again = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})["id"]
    assert first == again == 416349


# -- what the scrapers produce -------------------------------------------------------


def test_crawler_limit_depth_and_domain(hasdata_emulator, demo_site):
    rows = run_job(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "maxDepth": 1})
    assert {row["depth"] for row in rows} == {0, 1}
    assert all(row["url"].startswith(demo_site.url) for row in rows)  # off-site links skipped
    assert not any("/admin/" in row["url"] for row in rows)  # robots.txt obeyed
    assert (
        len(run_job(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 7})) == 7
    )


def test_crawler_include_and_exclude_paths(hasdata_emulator, demo_site):
    books = [b["url"] for b in truth(demo_site, "books.json")]
    rows = run_job(
        hasdata_emulator,
        "crawler",
        {
            "urls": [demo_site.url + "/"],
            "includePaths": [r"^/catalogue/book/"],
            "excludePaths": ["out-of-print", r"/category/(?!travel/)"],
        },
    )
    travel = [b["url"] for b in truth(demo_site, "books.json") if b["category"] == "Travel"]
    assert sorted(row["url"] for row in rows) == sorted(travel)
    assert len(travel) == 25 and set(travel) <= set(books)
    case_sensitive = run_job(
        hasdata_emulator,
        "crawler",
        {"urls": [demo_site.url + "/"], "maxDepth": 1, "includePaths": ["^/CATALOGUE/"]},
    )
    assert case_sensitive == []


def test_crawler_reports_failed_pages_and_renders_markdown(hasdata_emulator, demo_site):
    rows = run_job(
        hasdata_emulator,
        "crawler",
        {
            "urls": [demo_site.url + "/catalogue/category/travel/page-1.html"],
            "maxDepth": 1,
            "outputFormat": ["markdown"],
        },
    )
    broken = [row for row in rows if row["statusCode"] == 404]
    assert broken and all(row["error"] == "HTTP 404" for row in broken)
    page = rows[0]
    assert "markdown" in page and "text" not in page and "error" not in page
    assert "[next](" in page["markdown"] and "\n# " in "\n" + page["markdown"]
    [bare] = run_job(
        hasdata_emulator,
        "crawler",
        {
            "urls": [demo_site.url + "/catalogue/category/travel/page-1.html"],
            "maxDepth": 0,
            "outputFormat": ["text", "html"],
            "excludeTags": ["article.book"],
        },
    )
    assert bare["html"].startswith("<") and "<article" in bare["html"]
    titles = [b["title"] for b in truth(demo_site, "books.json") if b["category"] == "Travel"]
    assert not any(title in bare["text"] for title in titles)


def test_contacts_match_the_demo_site_truth(hasdata_emulator, demo_site):
    expected = truth(demo_site, "contacts.json")
    rows = run_job(hasdata_emulator, "contacts", {"urls": list(expected)})
    assert [row["url"] for row in rows] == list(expected)
    for row in rows:
        assert {k: v for k, v in row.items() if k != "url"} == expected[row["url"]]


def test_contacts_failed_page_gives_empty_arrays(hasdata_emulator, demo_site):
    [row] = run_job(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/missing.html"]})
    assert row["error"] == "HTTP 404" and row["emails"] == [] and row["clutch"] == []


def test_unreachable_pages_give_error_rows(hasdata_emulator):
    [row] = run_job(hasdata_emulator, "crawler", {"urls": ["http://127.0.0.1:9/"]})
    assert row["statusCode"] is None and row["error"].startswith("request failed")
    [row] = run_job(hasdata_emulator, "contacts", {"urls": ["http://127.0.0.1:9/"]})
    assert row["error"].startswith("request failed") and row["phoneNumbers"] == []


class MovedSite(EmulatorServer):
    """``/old`` redirects to ``/new/page.html``, whose link is relative to ``/new/``."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/old", self._old)
        app.router.add_get("/new/{name}", self._page)

    async def _old(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new/page.html")

    async def _page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(
            text=f'<title>{name}</title><a href="other.html">next</a>', content_type="text/html"
        )


def test_links_of_a_redirected_page_resolve_against_its_final_url(hasdata_emulator):
    with MovedSite() as site:
        rows = run_job(hasdata_emulator, "crawler", {"urls": [site.url + "/old"], "maxDepth": 1})
    assert [(row["url"], row["title"]) for row in rows] == [
        (site.url + "/old", "page.html"),
        (site.url + "/new/other.html", "other.html"),
    ]


def test_google_serp_searches_the_serp_site(hasdata_emulator, demo_site):
    book = truth(demo_site, "books.json")[0]
    hasdata_emulator.configure(serp_site=demo_site.url + "/")
    rows = run_job(hasdata_emulator, "google-serp", {"keywords": [book["title"]]})
    assert book["url"] in [row["link"] for row in rows]
    assert [row["position"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(book["title"].lower() in (r["title"] + r["snippet"]).lower() for r in rows)


def test_google_serp_without_site_and_synthetic_slugs_are_deterministic(hasdata_emulator):
    serp = run_job(hasdata_emulator, "google-serp", {"keywords": ["a", "b"]})
    assert len(serp) == 20 and serp[0]["link"].startswith("https://example.invalid/")
    body = {"keywords": ["coffee", "tea"], "locations": "Paris", "limit": 12}
    first = run_job(hasdata_emulator, "yelp", body)
    assert first == run_job(hasdata_emulator, "yelp", body)
    assert len(first) == 12 and first[0]["input"] == "coffee"
    assert len(run_job(hasdata_emulator, "amazon-product", {"asins": ["B1"]})) == 5
