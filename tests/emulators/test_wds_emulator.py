"""Contract tests of the WDS emulator's endpoints, over real HTTP.

Pages come from the demo site, plus a small "edge site" below for what the
demo site does not have (redirects, JSON and undecodable bodies, awkward
selectors, a page that waits).  The emulator runs in its own thread, so these
are plain synchronous tests using urllib.  What the emulator makes of each
page is tested in ``test_wds_emulator_pages.py`` and its switches in
``test_wds_emulator_switches.py``; both reuse the helpers defined here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPException
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web

from scrapy_wds.testing import DemoSite, WdsEmulator
from scrapy_wds.testing._server import EmulatorServer

DROPPED = -1  # status of a call whose connection was dropped


class Api:
    """Synchronous calls to a WDS emulator, percent-encoding like a good client."""

    def __init__(self, emulator: WdsEmulator) -> None:
        self.base = emulator.url + "/api/v2"

    def call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, str]:
        url = self.base + path + ("?" + urlencode(query, quote_via=quote) if query else "")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError, HTTPException):
            return DROPPED, ""

    def start(self, job: str, *urls: str, **config: Any) -> list[dict[str, Any]]:
        status, text = self.call(
            "POST", f"/jobs/{quote(job, safe='')}/start", body={"StartUrls": list(urls), **config}
        )
        assert status == 200, text
        return json.loads(text)

    def task(
        self, task_id: str, endpoint: str, method: str = "GET", **kwargs: Any
    ) -> tuple[int, str]:
        return self.call(method, f"/tasks/{quote(task_id, safe='')}/{endpoint}", **kwargs)

    def ready(self, task_id: str, endpoint: str, method: str = "GET", **kwargs: Any) -> Any:
        """The 200 answer of a task call, repeating it while it answers 202."""
        for _ in range(100):
            status, text = self.task(task_id, endpoint, method, **kwargs)
            if status != 202:
                assert status == 200, f"{status}: {text}"
                body = json.loads(text)
                if endpoint == "info" and _still_waiting(body):
                    continue  # pending_info "200": the documented way info says "not yet"
                return body
        raise AssertionError(f"{endpoint} of {task_id} still answers 202 after 100 calls")

    def scrape(self, task_id: str, selector: str, attribute: str | None = None) -> list[str]:
        query = {"selector": selector} | ({"attributeName": attribute} if attribute else {})
        return self.ready(task_id, "scrape", query=query)

    def crawl(
        self, task_id: str, selector: str, attribute: str | None = None
    ) -> list[dict[str, str]]:
        query = {"selector": selector} | ({"attributeName": attribute} if attribute else {})
        return self.ready(task_id, "crawl", query=query)


class EdgeSite(EmulatorServer):
    """Pages the demo site lacks; ``/slow.html`` answers once :attr:`release` is set."""

    PAGE = """<html><head><title>Edge</title></head><body>
      <div id="main"><p class="note">first</p><p>after note</p></div>
      <a href="a&amp;b+c.html">amp plus</a>
      <a href="sub/rel.html#part">relative with fragment</a>
      <a href="/abs.html">absolute path</a>
      <a href="https://elsewhere.invalid/x.html">off-site</a>
      <a href="mailto:someone@example.invalid">mail</a>
      <a href="http://[broken">malformed</a>
      <a href="sub/rel.html">again</a>
      <p data-x="it's [1]">quoted</p>
      <span class="empty" data-href="/from-data.html"></span>
    </body></html>"""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/page.html", self._text(self.PAGE, "text/html"))
        app.router.add_get("/data.json", self._text('{"a": 1}', "application/json"))
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/cookie.html", self._cookie)
        app.router.add_get("/latin.html", self._latin)
        app.router.add_get("/slow.html", self._slow)
        app.router.add_get(
            "/based/page.html",
            self._text('<base href="/root/"><a href="x.html">x</a>', "text/html"),
        )
        app.router.add_get(
            "/based/bad.html",
            self._text('<base href="http://[bad"><a href="x.html">x</a>', "text/html"),
        )

    @staticmethod
    def _text(text: str, content_type: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=text, content_type=content_type)

        return handler

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/page.html")

    async def _cookie(self, request: web.Request) -> web.Response:
        response = web.Response(text="<p>cookie</p>", content_type="text/html")
        response.set_cookie("session", "abc", path="/", httponly=True)
        return response

    async def _latin(self, request: web.Request) -> web.Response:
        return web.Response(
            body="<p>café</p>".encode("latin-1"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    async def _slow(self, request: web.Request) -> web.Response:
        for _ in range(1000):
            if self.release.is_set():
                break
            await asyncio.sleep(0.01)
        return web.Response(text="<h1>slow</h1>", content_type="text/html")


@pytest.fixture(scope="module")
def edge_site() -> Iterator[EdgeSite]:
    site = EdgeSite()
    site.start()
    yield site
    site.stop()


@pytest.fixture
def api(wds_emulator: WdsEmulator) -> Api:
    return Api(wds_emulator)


def first_task(api: Api, url: str, job: str = "job") -> str:
    return api.start(job, url)[0]["Id"]


# -- health and start ----------------------------------------------------------


def test_health_and_ready_answer_text(wds_emulator: WdsEmulator) -> None:
    for path in ("/health", "/ready"):
        with urllib.request.urlopen(wds_emulator.url + path) as response:
            assert response.status == 200
            assert response.read().decode() == "Healthy"


def test_start_gives_one_task_per_start_url_and_restart_keeps_ids(
    api: Api, demo_site: DemoSite
) -> None:
    home, contact = demo_site.url + "/", demo_site.url + "/contact.html"
    tasks = api.start("demo.site", home, contact)
    assert [task["Url"] for task in tasks] == [home, contact]
    assert set(tasks[0]) == {"Id", "Url"} and tasks[0]["Id"] != tasks[1]["Id"]
    again = api.start("demo.site", contact, demo_site.url + "/about/team.html")
    assert again[0] == tasks[1]
    assert api.start("other job", home)[0]["Id"] != tasks[0]["Id"]


def test_job_names_are_decoded_path_segments(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    name = "my job/ä#1?x=%"
    tasks = api.start(name, demo_site.url + "/")
    assert wds_emulator.calls()[0]["path"] == f"/api/v2/jobs/{name}/start"
    assert api.ready(tasks[0]["Id"], "info")["TaskState"] == "Handled"
    body = {"StartUrls": [demo_site.url + "/"]}
    spelled = [
        json.loads(api.call("POST", f"/jobs/{job}/start", body=body)[1])
        for job in ("a~b", "a%7Eb", "a%7eb")
    ]
    assert spelled[0] == spelled[1] == spelled[2] != tasks


def test_start_accepts_camel_case_config_and_ignores_unknown_fields(
    api: Api, demo_site: DemoSite
) -> None:
    status, text = api.call(
        "POST",
        "/jobs/camel/start",
        body={
            "startUrls": [demo_site.url + "/"],
            "type": "intranet",
            "newerField": {"x": 1},
            "restart": {"restartMode": "Continue"},
        },
    )
    assert status == 200 and json.loads(text)[0]["Url"] == demo_site.url + "/"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "JSON"),
        (b"", "JSON"),
        ([], "JobConfig"),
        ({}, "StartUrls"),
        ({"StartUrls": []}, "StartUrls"),
        ({"StartUrls": ["not a url"]}, "StartUrls[0]"),
        ({"StartUrls": ["http://a.test/", "http://[bad"]}, "StartUrls[1]"),
        ({"StartUrls": ["http://a.test/"], "Type": "Extranet"}, "Type"),
        ({"StartUrls": ["http://a.test/"], "Restart": {"RestartMode": "Later"}}, "RestartMode"),
        (
            {"StartUrls": ["http://a.test/"], "DownloadErrorHandling": {"Policy": "Ignore"}},
            "Policy",
        ),
        (
            {"StartUrls": ["http://a.test/"], "Proxy": {"Proxies": [{"Protocol": "ftp"}]}},
            "Protocol",
        ),
        (
            {
                "StartUrls": ["http://a.test/"],
                "CrawlersProtectionBypass": {"CrawlDelays": [{"Host": "a.test", "Delay": "soon"}]},
            },
            "Delay",
        ),
        (
            {
                "StartUrls": ["http://a.test/"],
                "Headers": {"DefaultRequestHeaders": [{"Name": "X"}]},
            },
            "Values",
        ),
        (
            {
                "StartUrls": ["http://a.test/"],
                "Https": {"SuppressHttpsCertificateValidation": "yes"},
            },
            "Https.",
        ),
        ({"StartUrls": ["http://a.test/"], "Headers": ["X-A: b"]}, "Headers must be a JSON object"),
    ],
)
def test_bad_job_config_is_400_naming_the_field(api: Api, body: Any, named: str) -> None:
    status, text = api.call("POST", "/jobs/bad/start", body=body)
    assert status == 400
    assert named in text and len(text) < 300


# -- crawl -----------------------------------------------------------------------


def test_crawl_resolves_relative_links_and_keeps_ids(api: Api, demo_site: DemoSite) -> None:
    home = first_task(api, demo_site.url + "/")
    categories = api.crawl(home, "CSS: ul.categories a")
    assert len(categories) == 8
    assert all(c["Url"].startswith(demo_site.url + "/catalogue/category/") for c in categories)
    books = api.crawl(categories[0]["Id"], "css:article.book h3 a")
    assert len(books) == 10
    assert all(b["Url"].startswith(demo_site.url + "/catalogue/book/") for b in books)
    assert api.crawl(home, "XPATH: //ul[@class='categories']//a") == categories


def test_crawl_stays_on_domain_drops_fragments_and_repeats_known_urls(
    api: Api, edge_site: EdgeSite
) -> None:
    page = first_task(api, edge_site.url + "/page.html", job="edge")
    found = [task["Url"] for task in api.crawl(page, "CSS: a")]
    assert found == [
        edge_site.url + "/a&b+c.html",
        edge_site.url + "/sub/rel.html",
        edge_site.url + "/abs.html",
    ]
    ids = {task["Url"]: task["Id"] for task in api.crawl(page, "XPATH: //a")}
    assert ids == {task["Url"]: task["Id"] for task in api.crawl(page, "CSS: a")}
    assert (
        api.start("edge", edge_site.url + "/sub/rel.html")[0]["Id"]
        == ids[edge_site.url + "/sub/rel.html"]
    )


def test_crawl_honours_base_href_and_attribute_name(api: Api, edge_site: EdgeSite) -> None:
    based = first_task(api, edge_site.url + "/based/page.html")
    assert [t["Url"] for t in api.crawl(based, "CSS: a")] == [edge_site.url + "/root/x.html"]
    badly_based = first_task(api, edge_site.url + "/based/bad.html")
    assert [t["Url"] for t in api.crawl(badly_based, "CSS: a")] == [edge_site.url + "/based/x.html"]
    page = first_task(api, edge_site.url + "/page.html")
    assert [t["Url"] for t in api.crawl(page, "CSS: span", attribute="data-href")] == [
        edge_site.url + "/from-data.html"
    ]


# -- scrape ----------------------------------------------------------------------


def test_scrape_reads_inner_text_and_attributes(api: Api, demo_site: DemoSite) -> None:
    truth = demo_site.truth()[0]
    book = first_task(api, truth["url"])
    assert api.scrape(book, "CSS: div.product h1") == [truth["title"]]
    assert api.scrape(book, "XPATH: //p[@class='price']", attribute="val") == [truth["price"]]
    assert api.scrape(book, "xpath://td[@class='upc']/text()") == [truth["upc"]]
    assert api.scrape(book, "CSS: #description") == [truth["description"]]
    assert api.scrape(book, "CSS: ul.breadcrumb a", attribute="href")[0] == "../../index.html"
    assert api.scrape(book, "CSS: h1", attribute="data-missing") == []
    assert api.scrape(book, "CSS: p.nothing-like-this") == []


def test_selectors_with_awkward_characters_survive_percent_encoding(
    api: Api, edge_site: EdgeSite
) -> None:
    page = first_task(api, edge_site.url + "/page.html")
    assert api.scrape(page, 'CSS: a[href="a&b+c.html"]') == ["amp plus"]
    assert api.scrape(page, "CSS: #main > p.note + p") == ["after note"]
    assert api.scrape(page, 'XPATH: //p[@data-x="it\'s [1]"]') == ["quoted"]
    assert api.scrape(page, "CSS: span.empty") == [""]


def test_scrape_multiple_get_and_post_agree(api: Api, demo_site: DemoSite) -> None:
    book = first_task(api, demo_site.truth()[3]["url"])
    params = [
        {"Name": "title", "Selector": "CSS: div.product h1"},
        {"Name": "home", "Selector": "CSS: ul.breadcrumb a", "AttributeName": "href"},
        {"Name": "rating", "Selector": "XPATH: //p[@class='rating']", "AttributeName": "val"},
    ]
    query = {
        f"scrapeParams[{i}].{key[0].lower() + key[1:]}": value
        for i, param in enumerate(params)
        for key, value in param.items()
    }
    by_get = api.ready(book, "scrape-multiple", query=query)
    by_post = api.ready(book, "scrape-multiple", "POST", body=params)
    assert by_get == by_post
    assert [r["Name"] for r in by_get] == ["title", "home", "rating"]
    assert by_get[0]["Values"] == [demo_site.truth()[3]["title"]]


@pytest.mark.parametrize(
    ("method", "params", "named"),
    [
        ("GET", {"scrapeParams[0].name": "a"}, "scrapeParams[0].selector"),
        (
            "GET",
            {"scrapeParams[0].selector": "CSS: a", "scrapeParams[2].selector": "CSS: b"},
            "[0, 2]",
        ),
        ("GET", {"selector": "CSS: a"}, "scrapeParams[0]"),
        ("POST", {"Name": "not an array"}, "JSON array"),
        ("POST", [{"Name": "x", "Selector": "CSS: a"}, {"Name": "y"}], "scrapeParams[1].selector"),
    ],
)
def test_bad_scrape_multiple_params_are_400(
    api: Api, demo_site: DemoSite, method: str, params: Any, named: str
) -> None:
    task = first_task(api, demo_site.url + "/")
    kwargs = {"query": params} if method == "GET" else {"body": params}
    status, text = api.task(task, "scrape-multiple", method, **kwargs)
    assert status == 400 and named in text


@pytest.mark.parametrize(
    "selector", ["h1", "JQ: h1", "CSS: h1[", "CSS:", "XPATH: //h1[", "XPATH: //a[foo()]"]
)
@pytest.mark.parametrize("endpoint", ["scrape", "crawl"])
def test_bad_selectors_are_400_naming_the_selector(
    api: Api, demo_site: DemoSite, selector: str, endpoint: str
) -> None:
    task = first_task(api, demo_site.url + "/")
    status, text = api.task(task, endpoint, query={"selector": selector})
    assert status == 400 and repr(selector) in text
    status, text = api.task(
        task, "scrape-multiple", "POST", body=[{"Name": "n", "Selector": selector}]
    )
    assert status == 400 and repr(selector) in text


def test_missing_selector_is_400(api: Api, demo_site: DemoSite) -> None:
    task = first_task(api, demo_site.url + "/")
    for endpoint in ("scrape", "crawl"):
        status, text = api.task(task, endpoint)
        assert status == 400 and "selector" in text


def _still_waiting(status: Any) -> bool:
    """Whether an info body says Created/InProgress (by name or number, in any key case)."""
    states = [v for k, v in status.items() if k.lower() in ("taskstate", "state")]
    return bool(states) and states[0] in ("Created", "InProgress", 10, 11)
