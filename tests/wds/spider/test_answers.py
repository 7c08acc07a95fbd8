"""The tolerant reader: every casing, enum encoding, state field and id type; malformed → MalformedAnswer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scrapy_wds import MalformedAnswer, TaskState
from scrapy_wds._wds._answers import (
    TaskRef,
    load_json,
    parse_scrape_results,
    parse_state,
    parse_status,
    parse_strings,
    parse_tasks,
)


def recase(obj: Any, case: str) -> Any:
    """``obj`` with every key re-cased: pascal (as given), camel, lower or upper."""

    def key(k: str) -> str:
        return {
            "pascal": k,
            "camel": k[:1].lower() + k[1:],
            "lower": k.lower(),
            "upper": k.upper(),
        }[case]

    if isinstance(obj, dict):
        return {key(k): recase(v, case) for k, v in obj.items()}
    if isinstance(obj, list):
        return [recase(v, case) for v in obj]
    return obj


CASES = ["pascal", "camel", "lower", "upper"]


@pytest.mark.parametrize("case", CASES)
def test_tasks_in_any_key_case_with_string_or_integer_ids(case: str) -> None:
    body = recase([{"Id": "a1", "Url": "http://s/1"}, {"Id": 42, "Url": "http://s/2"}], case)
    tasks, problems = parse_tasks(load_json(json.dumps(body).encode()))
    assert tasks == [TaskRef("a1", "http://s/1"), TaskRef("42", "http://s/2")]
    assert problems == []


def test_a_bad_task_entry_costs_only_itself() -> None:
    tasks, problems = parse_tasks(
        [{"Id": "a", "Url": "http://s/a"}, {"Id": "b"}, "c", {"Id": True, "Url": "u"}]
    )
    assert tasks == [TaskRef("a", "http://s/a")]
    assert len(problems) == 3
    assert problems[0].startswith("entry 1:") and "Url" in problems[0]


@pytest.mark.parametrize(
    ("value", "state"),
    [
        ("Handled", TaskState.Handled),
        ("handled", TaskState.Handled),
        ("HANDLED", TaskState.Handled),
        (0, TaskState.Handled),
        ("0", TaskState.Handled),
        ("AccessDeniedForRobots", TaskState.AccessDeniedForRobots),
        ("access_denied_for_robots", TaskState.AccessDeniedForRobots),
        (1, TaskState.AccessDeniedForRobots),
        (2, TaskState.AllRequestGatesExhausted),
        ("inProgress", TaskState.InProgress),
        (10, TaskState.Created),
        (12, TaskState.Deleted),
    ],
)
def test_states_by_name_in_any_case_or_by_integer(value: Any, state: TaskState) -> None:
    assert parse_state(value) is state


@pytest.mark.parametrize("value", ["Finished", 5, -1, True, None, 1.5, {"Name": "Handled"}])
def test_unknown_states_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedAnswer, match="unknown task state"):
        parse_state(value)


STATUS = {
    "TaskState": "Handled",
    "Error": "",
    "Result": {
        "Method": "GET",
        "Url": "http://s/book.html",
        "IsSuccess": True,
        "HttpStatusCode": 200,
        "ResponseHeaders": [
            {"Name": "Content-Type", "Values": ["text/html"]},
            {"Name": "Set-Cookie", "Values": ["a=1", "b=2"]},
        ],
    },
    "IntermedResults": [],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("state_field", ["TaskState", "State"])
@pytest.mark.parametrize("state", ["Handled", 0])
def test_status_in_every_reading(case: str, state_field: str, state: Any) -> None:
    body = {
        state_field if k == "TaskState" else k: (state if k == "TaskState" else v)
        for k, v in STATUS.items()
    }
    status = parse_status(recase(body, case))
    assert status.state is TaskState.Handled
    assert status.http_status == 200
    assert status.url == "http://s/book.html"
    assert status.error is None
    assert status.headers == {"Content-Type": ["text/html"], "Set-Cookie": ["a=1", "b=2"]}
    assert status.page_ok


def test_status_numbers_and_booleans_as_strings_and_headers_as_a_mapping() -> None:
    status = parse_status(
        {
            "state": "2",
            "error": "all gates failed",
            "result": {
                "httpStatusCode": "404",
                "isSuccess": "false",
                "responseHeaders": {"X": "1"},
            },
        }
    )
    assert status.state is TaskState.AllRequestGatesExhausted
    assert status.error == "all gates failed"
    assert status.http_status == 404
    assert status.is_success is False
    assert status.headers == {"X": ["1"]}
    assert not status.page_ok


def test_status_without_a_result_is_not_an_ok_page_unless_handled() -> None:
    assert parse_status({"TaskState": "Handled"}).page_ok
    assert not parse_status({"TaskState": "InProgress"}).page_ok
    assert not parse_status({"TaskState": "Handled", "Result": {"HttpStatusCode": 500}}).page_ok


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Error": ""}, r"no TaskState \(or State\)"),
        ([], "must be a JSON object"),
        ({"TaskState": "Handled", "Result": "ok"}, "Result must be a JSON object"),
        (
            {"TaskState": "Handled", "Result": {"HttpStatusCode": "two hundred"}},
            "expected an integer",
        ),
    ],
)
def test_malformed_status(body: Any, expected: str) -> None:
    with pytest.raises(MalformedAnswer, match=expected):
        parse_status(body)


def test_scrape_strings_accept_numbers_as_text() -> None:
    assert parse_strings(["a", 3, 2.5, None]) == ["a", "3", "2.5"]
    with pytest.raises(MalformedAnswer):
        parse_strings({"Values": ["a"]})


@pytest.mark.parametrize("case", CASES)
def test_scrape_results_in_any_key_case(case: str) -> None:
    body = recase(
        [
            {"Name": "title", "Values": ["T"]},
            {"Name": "tags", "Values": []},
            {"Name": "n", "Values": "one"},
        ],
        case,
    )
    assert parse_scrape_results(body) == [("title", ["T"]), ("tags", []), ("n", ["one"])]


@pytest.mark.parametrize(
    "body",
    [{"Name": "title"}, [{"Values": ["x"]}], ["title"], [{"Name": "t", "Values": {"a": 1}}]],
)
def test_malformed_scrape_results(body: Any) -> None:
    with pytest.raises(MalformedAnswer):
        parse_scrape_results(body)


@pytest.mark.parametrize("raw", [b"", b"<html>oops</html>", b"\xff\xfe{", b'{"Id": '])
def test_bodies_that_are_not_json(raw: bytes) -> None:
    with pytest.raises(MalformedAnswer, match="not JSON"):
        load_json(raw)


def test_utf8_bodies_with_non_ascii_text() -> None:
    assert parse_strings(load_json('["£12.34", "Café"]'.encode())) == ["£12.34", "Café"]
