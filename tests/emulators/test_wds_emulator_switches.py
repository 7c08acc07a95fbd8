"""The WDS emulator's switches: every reading of the docs and every fault it can play."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from test_wds_emulator import DROPPED, Api, EdgeSite, api, edge_site, first_task  # noqa: F401

from scrapy_wds.testing import DemoSite, WdsEmulator

TASK_CALLS = [
    ("crawl", "GET", {"query": {"selector": "CSS: a"}}),
    ("scrape", "GET", {"query": {"selector": "CSS: h1"}}),
    (
        "scrape-multiple",
        "GET",
        {"query": {"scrapeParams[0].name": "h", "scrapeParams[0].selector": "CSS: h1"}},
    ),
    ("scrape-multiple", "POST", {"body": [{"Name": "h", "Selector": "CSS: h1"}]}),
    ("info", "GET", {}),
]


def statuses(api: Api, task: str, calls: int, endpoint: str = "info") -> list[int]:
    return [api.task(task, endpoint)[0] for _ in range(calls)]


# -- shapes ------------------------------------------------------------------------


def test_camel_case_keys_everywhere(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(key_case="camel")
    _status, text = api.call("POST", "/jobs/j/start", body={"StartUrls": [demo_site.url + "/"]})
    (task,) = json.loads(text)
    assert set(task) == {"id", "url"}
    assert set(api.crawl(task["id"], "CSS: ul.categories a")[0]) == {"id", "url"}
    multiple = api.ready(
        task["id"], "scrape-multiple", "POST", body=[{"Name": "h", "Selector": "CSS: h1"}]
    )
    assert set(multiple[0]) == {"name", "values"}
    info = api.ready(task["id"], "info")
    assert set(info) == {"taskState", "error", "result", "intermedResults"}
    assert {
        "method",
        "url",
        "isSuccess",
        "httpStatusCode",
        "requestHeaders",
        "responseCookies",
        "requestDateUtc",
        "downloadTimeSec",
        "viaProxy",
        "waitTimeSec",
        "crawlDelaySec",
    } <= set(info["result"])
    assert set(info["result"]["requestHeaders"][0]) == {"name", "values"}


@pytest.mark.parametrize(
    ("key_case", "enum_style", "state_field", "key", "states"),
    [
        (
            "pascal",
            "name",
            "TaskState",
            "TaskState",
            ("Handled", "AccessDeniedForRobots", {"Created", "InProgress"}),
        ),
        ("pascal", "int", "State", "State", (0, 1, {10, 11})),
        (
            "camel",
            "name",
            "State",
            "state",
            ("Handled", "AccessDeniedForRobots", {"Created", "InProgress"}),
        ),
        ("camel", "int", "TaskState", "taskState", (0, 1, {10, 11})),
    ],
)
def test_state_field_and_enum_style(
    api: Api,
    demo_site: DemoSite,
    wds_emulator: WdsEmulator,
    key_case: str,
    enum_style: str,
    state_field: str,
    key: str,
    states: tuple[Any, Any, set[Any]],
) -> None:
    handled, denied, waiting = states
    wds_emulator.configure(
        key_case=key_case,
        enum_style=enum_style,
        state_field=state_field,
        pending_polls=1,
        pending_info="202",
    )
    urls = [demo_site.url + "/", demo_site.url + "/admin/"]
    status, text = api.call("POST", "/jobs/j/start", body={"StartUrls": urls})
    home, admin = (task["Id" if key_case == "pascal" else "id"] for task in json.loads(text))
    status, text = api.task(home, "info")
    assert status == 202 and json.loads(text)[key] in waiting
    assert api.ready(home, "info")[key] == handled
    assert api.ready(admin, "info")[key] == denied


# -- 202 answers ---------------------------------------------------------------------


def test_pending_polls_count_202s_per_task_across_endpoints(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(pending_polls=3, pending_info="202")
    home, contact = (
        t["Id"] for t in api.start("j", demo_site.url + "/", demo_site.url + "/contact.html")
    )
    assert api.task(home, "info")[0] == 202
    assert api.task(home, "scrape", query={"selector": "CSS: h1"})[0] == 202
    assert api.task(contact, "info")[0] == 202  # the other task counts on its own
    assert api.task(home, "crawl", query={"selector": "CSS: a"})[0] == 202
    assert api.task(home, "scrape", query={"selector": "CSS: h1"})[0] == 200
    assert statuses(api, contact, 3) == [202, 202, 200]
    answered = [c["status"] for c in wds_emulator.calls() if home in c["path"]]
    assert answered == [202, 202, 202, 200]


def test_pending_seconds_answers_202_until_the_time_is_up(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(pending_seconds=600, pending_info="202")
    task = first_task(api, demo_site.url + "/")
    assert statuses(api, task, 3) == [202, 202, 202]
    wds_emulator.configure(pending_seconds=0.05)  # the task is older than that by now, or soon
    for _ in range(100):
        if api.task(task, "info")[0] == 200:
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the task never became ready")


def test_a_page_still_downloading_answers_202(
    api: Api, edge_site: EdgeSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(download_wait=0, pending_info="202")
    edge_site.release.clear()
    try:
        task = first_task(api, edge_site.url + "/slow.html")
        status, text = api.task(task, "info")
        assert status == 202 and json.loads(text)["TaskState"] in ("Created", "InProgress")
        assert api.task(task, "scrape", query={"selector": "CSS: h1"})[0] == 202
    finally:
        edge_site.release.set()
    assert api.scrape(task, "CSS: h1") == ["slow"]


# -- faults ------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "method", "kwargs"), TASK_CALLS)
def test_error_rate_one_answers_503_on_task_calls(
    api: Api,
    demo_site: DemoSite,
    wds_emulator: WdsEmulator,
    endpoint: str,
    method: str,
    kwargs: dict[str, Any],
) -> None:
    task = first_task(api, demo_site.url + "/")
    wds_emulator.configure(error_rate=1.0)
    status, text = api.task(task, endpoint, method, **kwargs)
    assert status == 503 and text.strip()
    assert api.call("POST", "/jobs/j/start", body={"StartUrls": [demo_site.url + "/"]})[0] == 200


@pytest.mark.parametrize(("endpoint", "method", "kwargs"), TASK_CALLS)
def test_drop_rate_one_drops_the_connection(
    api: Api,
    demo_site: DemoSite,
    wds_emulator: WdsEmulator,
    endpoint: str,
    method: str,
    kwargs: dict[str, Any],
) -> None:
    task = first_task(api, demo_site.url + "/")
    wds_emulator.configure(drop_rate=1.0)
    assert api.task(task, endpoint, method, **kwargs)[0] == DROPPED
    assert wds_emulator.calls()[-1]["dropped"] is True


def test_fault_draws_repeat_with_the_seed(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    wds_emulator.configure(error_rate=0.5, seed=7)
    task = first_task(api, demo_site.url + "/")
    first = statuses(api, task, 20)
    assert set(first) == {200, 503}
    wds_emulator.reset()
    task = first_task(api, demo_site.url + "/")
    assert statuses(api, task, 20) == first
    wds_emulator.configure(seed=8)
    assert statuses(api, task, 20) != first


@pytest.mark.parametrize("status", [400, 403, 404, 422])
@pytest.mark.parametrize(("endpoint", "method", "kwargs"), TASK_CALLS)
def test_fail_tasks_answers_the_status_for_matching_urls(
    api: Api,
    demo_site: DemoSite,
    wds_emulator: WdsEmulator,
    status: int,
    endpoint: str,
    method: str,
    kwargs: dict[str, Any],
) -> None:
    wds_emulator.configure(fail_tasks={r"/contact\.html$": status})
    contact, home = (
        t["Id"] for t in api.start("j", demo_site.url + "/contact.html", demo_site.url + "/")
    )
    answered, text = api.task(contact, endpoint, method, **kwargs)
    assert answered == status and "(injected)" in text
    assert api.task(home, endpoint, method, **kwargs)[0] == 200


def test_error_delay_still_answers_errors(api: Api, wds_emulator: WdsEmulator) -> None:
    wds_emulator.configure(error_delay=0.01)
    assert api.task("missing", "info")[0] == 404


# -- switch handling -------------------------------------------------------------------


def test_switches_have_the_documented_defaults(wds_emulator: WdsEmulator) -> None:
    assert wds_emulator.switches() == {
        "key_case": "pascal",
        "enum_style": "name",
        "state_field": "TaskState",
        "pending_info": "200",
        "known_pages": "same",
        "malformed": "truncated",
        "malformed_rate": 0.0,
        "malformed_tasks": [],
        "pending_polls": 0,
        "pending_seconds": 0.0,
        "error_rate": 0.0,
        "drop_rate": 0.0,
        "fail_tasks": {},
        "seed": 0,
        "error_delay": 0.0,
        "download_wait": 5.0,
    }


@pytest.mark.parametrize(
    "switches",
    [
        {"key_case": "snake"},
        {"enum_style": "roman"},
        {"state_field": "Status"},
        {"pending_info": 200},
        {"known_pages": "forget"},
        {"malformed": "json"},
        {"malformed_rate": 1.5},
        {"malformed_tasks": "book"},
        {"malformed_tasks": ["("]},
        {"error_rate": 2},
        {"pending_polls": -1},
        {"seed": "x"},
        {"fail_tasks": {"(": 404}},
        {"fail_tasks": {"x": 200}},
        {"nonsense": 1},
    ],
)
def test_bad_switch_values_are_refused(wds_emulator: WdsEmulator, switches: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(switches))):
        wds_emulator.configure(**switches)
    request = urllib.request.Request(
        wds_emulator.url + "/__emulator__/config", data=json.dumps(switches).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400
    assert wds_emulator.switches()["key_case"] == "pascal"


def test_config_endpoint_changes_switches_at_run_time(
    api: Api, demo_site: DemoSite, wds_emulator: WdsEmulator
) -> None:
    request = urllib.request.Request(
        wds_emulator.url + "/__emulator__/config",
        data=json.dumps({"key_case": "camel"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["key_case"] == "camel"
    _status, text = api.call("POST", "/jobs/j/start", body={"StartUrls": [demo_site.url + "/"]})
    assert "id" in json.loads(text)[0]
