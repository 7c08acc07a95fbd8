"""What the WDS emulator makes of each page: downloads, robots.txt, 404s, bodies, info."""

from __future__ import annotations

import pytest
from test_wds_emulator import Api, EdgeSite, api, edge_site, first_task  # noqa: F401

from scrapy_wds.testing import DemoSite, WdsEmulator


def test_info_describes_the_download(api: Api, edge_site: EdgeSite) -> None:
    status = api.ready(first_task(api, edge_site.url + "/redirect"), "info")
    assert status["TaskState"] == "Handled" and status["Error"] is None
    result = status["Result"]
    assert result["Url"] == edge_site.url + "/page.html"
    assert (
        result["Method"],
        result["IsSuccess"],
        result["HttpStatusCode"],
        result["ReasonPhrase"],
    ) == ("GET", True, 200, "OK")
    assert {"Name": "Content-Type", "Values": ["text/html; charset=utf-8"]} in result[
        "ResponseHeaders"
    ]
    assert result["RequestDateUtc"].endswith("Z") and result["ViaProxy"] is False
    assert isinstance(result["DownloadTimeSec"], float) and isinstance(result["CrawlDelaySec"], int)
    assert [hop["HttpStatusCode"] for hop in status["IntermedResults"]] == [302]
    cookies = api.ready(first_task(api, edge_site.url + "/cookie.html"), "info")["Result"][
        "ResponseCookies"
    ]
    assert (
        cookies[0]["Name"] == "session"
        and cookies[0]["Value"] == "abc"
        and cookies[0]["HttpOnly"] is True
    )


def test_each_page_is_downloaded_once_and_robots_once_per_host(
    api: Api, edge_site: EdgeSite
) -> None:
    edge_site.reset()
    page, other = (
        t["Id"]
        for t in api.start("once", edge_site.url + "/page.html", edge_site.url + "/cookie.html")
    )
    for _ in range(3):
        api.scrape(page, "CSS: a")
        api.ready(page, "info")
    api.scrape(other, "CSS: p")
    hits = [c["path"] for c in edge_site.calls()]
    assert sorted(hits) == ["/cookie.html", "/page.html", "/robots.txt"]


def test_restart_from_scratch_downloads_again_and_continue_does_not(
    api: Api, edge_site: EdgeSite
) -> None:
    edge_site.reset()
    task = api.start("restart", edge_site.url + "/page.html")[0]["Id"]
    api.scrape(task, "CSS: a")
    assert (
        api.start("restart", edge_site.url + "/page.html", Restart={"RestartMode": "Continue"})[0][
            "Id"
        ]
        == task
    )
    api.scrape(task, "CSS: a")
    assert (
        api.start("restart", edge_site.url + "/page.html", Restart={"RestartMode": "FromScratch"})[
            0
        ]["Id"]
        == task
    )
    api.scrape(task, "CSS: a")
    assert [c["path"] for c in edge_site.calls()].count("/page.html") == 2


@pytest.mark.parametrize(("hops", "state"), [(0, "AllRequestGatesExhausted"), (1, "Handled")])
def test_max_redirect_hops_limits_redirects(
    api: Api, edge_site: EdgeSite, hops: int, state: str
) -> None:
    task = api.start(
        "hops", edge_site.url + "/redirect", CrawlersProtectionBypass={"MaxRedirectHops": hops}
    )[0]["Id"]
    info = api.ready(task, "info")
    assert info["TaskState"] == state
    if state != "Handled":
        assert "MaxRedirectHops" in info["Error"]
        status, text = api.task(task, "scrape", query={"selector": "CSS: a"})
        assert status == 403 and "MaxRedirectHops" in text


def test_configured_crawl_delay_is_reported(api: Api, edge_site: EdgeSite) -> None:
    delays = {"CrawlDelays": [{"Host": "127.0.0.1", "Delay": "2"}]}
    task = api.start("delay", edge_site.url + "/page.html", CrawlersProtectionBypass=delays)[0][
        "Id"
    ]
    assert api.ready(task, "info")["Result"]["CrawlDelaySec"] == 2


def test_job_headers_are_sent_with_page_requests(api: Api, edge_site: EdgeSite) -> None:
    headers = {"DefaultRequestHeaders": [{"Name": "User-Agent", "Values": ["my-bot/2"]}]}
    task = api.start("headers", edge_site.url + "/page.html", Headers=headers)[0]["Id"]
    sent = api.ready(task, "info")["Result"]["RequestHeaders"]
    assert {"Name": "User-Agent", "Values": ["my-bot/2"]} in sent


def test_a_404_page_is_a_handled_task_whose_body_can_be_scraped(
    api: Api, demo_site: DemoSite
) -> None:
    task = first_task(api, demo_site.url + "/catalogue/book/out-of-print-1.html")
    status = api.ready(task, "info")
    assert status["TaskState"] == "Handled"
    assert (status["Result"]["HttpStatusCode"], status["Result"]["IsSuccess"]) == (404, False)
    assert api.scrape(task, "CSS: h1") == ["Not found"]


def test_robots_disallowed_page_is_403_with_its_state_in_info(
    api: Api, demo_site: DemoSite
) -> None:
    home = first_task(api, demo_site.url + "/")
    admin = [t for t in api.crawl(home, "CSS: a") if "/admin/" in t["Url"]]
    assert len(admin) == 1
    for endpoint, query in (("scrape", {"selector": "CSS: h1"}), ("crawl", {"selector": "CSS: a"})):
        status, text = api.task(admin[0]["Id"], endpoint, query=query)
        assert status == 403 and "robots.txt" in text
    info = api.ready(admin[0]["Id"], "info")
    assert info["TaskState"] == "AccessDeniedForRobots" and "robots.txt" in info["Error"]


def test_unreachable_page_is_403_all_request_gates_exhausted(api: Api) -> None:
    task = first_task(api, "http://127.0.0.1:9/nothing-listens-here.html")
    status, text = api.task(task, "scrape", query={"selector": "CSS: h1"})
    assert status == 403 and "127.0.0.1:9" in text
    info = api.ready(task, "info")
    assert info["TaskState"] == "AllRequestGatesExhausted" and info["Result"] is None


@pytest.mark.parametrize(
    ("path", "reason"), [("/data.json", "application/json"), ("/latin.html", "decoded")]
)
def test_bodies_selectors_cannot_run_on_are_422(
    api: Api, edge_site: EdgeSite, path: str, reason: str
) -> None:
    task = first_task(api, edge_site.url + path)
    for endpoint, method, kwargs in (
        ("scrape", "GET", {"query": {"selector": "CSS: p"}}),
        ("crawl", "GET", {"query": {"selector": "CSS: a"}}),
        ("scrape-multiple", "POST", {"body": [{"Name": "p", "Selector": "CSS: p"}]}),
    ):
        status, text = api.task(task, endpoint, method, **kwargs)
        assert status == 422 and reason in text
    assert api.ready(task, "info")["TaskState"] == "Handled"


@pytest.mark.parametrize("endpoint", ["crawl", "scrape", "scrape-multiple", "info"])
def test_unknown_task_is_404(api: Api, endpoint: str) -> None:
    status, text = api.task(
        "no such/task", endpoint, query={"selector": "CSS: a", "scrapeParams[0].selector": "CSS: a"}
    )
    assert status == 404 and "no such/task" in text


def test_the_call_log_records_every_call_with_its_status(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    task = first_task(api, demo_site.url + "/")
    api.scrape(task, "CSS: h1")
    api.task("missing", "info")
    calls = [(c["method"], c["path"], c["status"]) for c in wds_emulator.calls()]
    assert calls == [
        ("POST", "/api/v2/jobs/job/start", 200),
        ("GET", f"/api/v2/tasks/{task}/scrape", 200),
        ("GET", "/api/v2/tasks/missing/info", 404),
    ]
    assert wds_emulator.calls()[1]["query"] == [["selector", "CSS: h1"]]
