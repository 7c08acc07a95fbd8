"""Pure parts: job declarations, settings, the state file, rows and items, the add-on."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.settings import Settings

from scrapy_wds import HasDataJob, HasDataJobError
from scrapy_wds._hasdata import configure_addon
from scrapy_wds._hasdata._extension import HasDataExtension
from scrapy_wds._hasdata._job import collect_jobs, validate_job
from scrapy_wds._hasdata._rows import (
    as_int,
    job_id_of,
    parse_page,
    pick,
    row_to_item,
    rows_from_file,
)
from scrapy_wds._hasdata._settings import HasDataSettingError, HasDataSettings
from scrapy_wds._hasdata._state import HasDataStateError, StateFile


class NoJobsSpider(scrapy.Spider):
    name = "no_jobs"


@pytest.mark.parametrize(
    "job, words",
    [
        ({"scraper": "", "input": {}}, ["HASDATA_JOBS[0]", "'scraper'", "slug"]),
        ({"scraper": "../x", "input": {}}, ["'scraper'", "'../x'"]),
        ({"scraper": "crawler", "input": ["a"]}, ["'input'", "JSON object"]),
        ({"scraper": "crawler", "input": {"limit": -1}}, ["'input.limit'", "non-negative"]),
        ({"scraper": "crawler", "input": {"limit": "5"}}, ["'input.limit'"]),
        (
            {"scraper": "crawler", "input": {}, "item_class": "nowhere.Item"},
            ["'item_class'", "cannot be imported", "import path"],
        ),
        (
            {"scraper": "crawler", "input": {}, "item_class": "json.dumps"},
            ["'item_class'", "not an item class"],
        ),
        ({"scraper": "crawler", "input": {}, "field_map": {"a": 1}}, ["'field_map'"]),
        ({"scraper": "crawler", "input": {}, "colour": "red"}, ["unknown field", "colour"]),
        ({"input": {}}, ["'scraper' is missing"]),
        ({"scraper": "crawler", "input": {"webhook": {}}}, ["HASDATA_WEBHOOK_ENABLED"]),
    ],
)
def test_bad_job_declarations_name_job_and_field(job: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(HasDataJobError) as raised:
        collect_jobs([job], NoJobsSpider())
    for word in words:
        assert word in str(raised.value)


def test_job_named_in_errors() -> None:
    with pytest.raises(HasDataJobError, match=r"\(job 'my-serp'\): field 'input.limit'"):
        validate_job(
            "HASDATA_JOBS[3]",
            {"scraper": "google-serp", "name": "my-serp", "input": {"limit": 1.5}},
        )


def test_duplicate_jobs_are_refused() -> None:
    job = {"scraper": "crawler", "input": {"urls": ["http://a"]}}
    with pytest.raises(HasDataJobError, match="same identity"):
        collect_jobs([job, dict(job)], NoJobsSpider())


def test_spider_jobs_from_method_and_attribute() -> None:
    class MethodSpider(scrapy.Spider):
        name = "m"

        def hasdata_jobs(self) -> list[Any]:
            return [HasDataJob("contacts", {"urls": ["http://a"]})]

    class AttributeSpider(scrapy.Spider):
        name = "a"
        hasdata_jobs = [{"scraper": "crawler", "input": {"urls": ["http://b"]}}]

    assert [j.scraper for j in collect_jobs([], MethodSpider())] == ["contacts"]
    assert [j.scraper for j in collect_jobs(None, AttributeSpider())] == ["crawler"]


def test_job_key_is_stable_and_input_sensitive() -> None:
    a = HasDataJob("crawler", {"urls": ["http://a"], "limit": 3})
    same = HasDataJob("crawler", {"limit": 3, "urls": ["http://a"]})
    other = HasDataJob("crawler", {"urls": ["http://b"], "limit": 3})
    assert a.key == same.key != other.key
    assert a.key.startswith("crawler-")
    assert HasDataJob("crawler", {}, name="nightly").key == "nightly"


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("HASDATA_PAGE_LIMIT", 500, ["HASDATA_PAGE_LIMIT", "100"]),
        ("HASDATA_POLL_FIRST_DELAY", "soon", ["HASDATA_POLL_FIRST_DELAY", "number"]),
        ("HASDATA_PAGE_CONCURRENCY", 0, ["HASDATA_PAGE_CONCURRENCY", "1 or more"]),
        ("HASDATA_MAX_CREDITS", -5, ["HASDATA_MAX_CREDITS"]),
    ],
)
def test_bad_settings_are_named(name: str, value: Any, words: list[str]) -> None:
    with pytest.raises(HasDataSettingError) as raised:
        HasDataSettings.from_settings(Settings({name: value}))
    for word in words:
        assert word in str(raised.value)


def test_settings_repr_hides_key() -> None:
    settings = HasDataSettings.from_settings(Settings({"HASDATA_API_KEY": "abcdef-secret"}))
    assert "abcdef" not in repr(settings)
    assert settings.poll_first_delay == 10.0  # HasData's own advice by default


def test_addon_enables_extension_and_fills_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HASDATA_API_KEY", raising=False)
    without = Settings()
    configure_addon(without)
    # Without a key too: declared jobs then stop the crawl naming HASDATA_API_KEY.
    assert without.getdict("EXTENSIONS")[HasDataExtension] == 500
    assert without.getfloat("HASDATA_POLL_FIRST_DELAY") == 10.0
    assert without.get("HASDATA_API_URL") is None  # left to the environment fallback
    with_key = Settings({"HASDATA_API_KEY": "k"})
    configure_addon(with_key)
    assert with_key.getdict("EXTENSIONS")[HasDataExtension] == 500
    kept = Settings(
        {
            "HASDATA_API_KEY": "k",
            "EXTENSIONS": {"scrapy_wds._hasdata._extension.HasDataExtension": None},
        }
    )
    configure_addon(kept)
    assert kept.getdict("EXTENSIONS") == {"scrapy_wds._hasdata._extension.HasDataExtension": None}
    monkeypatch.setenv("HASDATA_API_KEY", "from-env")
    from_env = Settings()
    configure_addon(from_env)
    assert HasDataExtension in from_env.getdict("EXTENSIONS")


def test_state_file_round_trip_and_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    state = StateFile(path)
    record = state.record("crawler-1", "crawler", "https://api")
    record.job_id, record.rows_total = "416349", 12
    state.save()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left
    again = StateFile(path)
    assert again.jobs["crawler-1"].job_id == "416349"
    assert again.jobs["crawler-1"].rows_total == 12


def test_delivered_rows_survive_a_cut_short_write_and_are_compacted(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.record("job-a", "crawler", "https://api")
    state.save()
    for position in range(300):
        state.append_row("job-a", ["p", position])
    state.append_row("job-a", ["e", "k3"])
    state.append_row("job-a", ["m", 300, "k3"])
    with open(state.keys_path, "a") as handle:
        handle.write('["job-a","p",30')  # a crash mid-line
    assert "k3" not in path.read_text()  # rows live beside the state, appended
    again = StateFile(path)
    assert again.row_entries("job-a") == [["r", 0, 301], ["e", "k3"], ["m", -1, "k3"]]
    assert len(again.keys_path.read_text().splitlines()) == 3  # compacted on open
    state.clear()
    assert not state.keys_path.exists() and StateFile(path).jobs == {}


def test_damaged_state_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(HasDataStateError, match="delete it to submit every job again"):
        StateFile(path)


def test_page_unwrapping_tolerates_strings_and_bare_rows() -> None:
    page = parse_page(
        {
            "meta": {"currentPage": "2", "lastPage": "3", "total": "250", "perPage": "100"},
            "data": [{"id": 7, "jobId": 1, "data": {"url": "u1"}}, {"url": "u2"}],
        },
        2,
    )
    assert (page.current_page, page.last_page, page.total, page.per_page) == (2, 3, 250, 100)
    assert page.rows == [{"url": "u1"}, {"url": "u2"}]


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"rows": []}},
        {"data": None},
        {"data": ["junk"]},
        {"data": [{"id": 1, "data": "x"}]},
    ],
    ids=["data-object", "data-null", "row-string", "wrapped-not-object"],
)
def test_a_page_not_shaped_like_rows_is_malformed_not_empty(body: dict[str, Any]) -> None:
    from scrapy_wds._hasdata._rows import MalformedAnswer

    with pytest.raises(MalformedAnswer):
        parse_page(body, 1)


def test_json_file_layouts_are_detected() -> None:
    bare = [{"url": "a", "data": {"x": 1}}, {"url": "b"}]
    wrapped = [{"id": "r1", "jobId": 5, "data": {"url": "a"}}]
    assert rows_from_file(bare) == bare
    assert rows_from_file(wrapped) == [{"url": "a"}]
    assert rows_from_file({"meta": {}, "data": wrapped}) == [{"url": "a"}]
    with pytest.raises(ValueError):
        rows_from_file("nope")


def test_numbers_and_ids() -> None:
    assert as_int("17") == 17 and as_int(17.0) == 17 and as_int(None) is None
    assert as_int(True) is None and as_int("x") is None
    assert job_id_of({"id": 416349}) == "416349"
    assert job_id_of({"jobId": "b1c2"}) == "b1c2"


@dataclass
class Contact:
    url: str
    city: str | None = None


def test_rows_to_items() -> None:
    row = {"url": "u", "address": {"city": "Oslo"}, "links": ["l0"], "extra": 1}
    assert pick(row, "address.city") == "Oslo" and pick(row, "links.0") == "l0"
    assert pick(row, "address.zip") is None
    assert row_to_item(row, None, None) == row
    assert row_to_item(row, Contact, {"url": "url", "city": "address.city"}) == Contact("u", "Oslo")
    assert row_to_item(row, Contact, None) == Contact("u")  # unknown fields left out
    assert json.dumps(row_to_item(row, dict, {"u": "url"})) == '{"u": "u"}'


def test_unknown_status_is_logged_once_and_means_not_done(caplog: Any) -> None:
    from hasdata_runner_support import runner_for

    runner = runner_for(None, None, record=None)
    for _ in range(3):
        runner._note_status(
            {"status": "queued_for_review", "dataRowsCount": "4", "creditsSpent": "2.5"}
        )
    assert not runner.terminal
    assert runner.record.rows_total == 4 and runner.record.credits_spent == 2.5
    warnings = [r for r in caplog.records if "queued_for_review" in r.getMessage()]
    assert len(warnings) == 1
    assert runner._stats.get_value("hasdata/status_unknown") == 3
    runner._note_status({"status": "finished"})
    assert runner.terminal


def test_state_of_another_api_is_not_reused(tmp_path: Path, caplog: Any) -> None:
    state = StateFile(tmp_path / "state.json")
    state.record("job-a", "crawler", "http://127.0.0.1:1111").job_id = "416349"
    state.save()
    again = StateFile(tmp_path / "state.json")
    assert again.record("job-a", "crawler", "http://127.0.0.1:1111").job_id == "416349"
    assert again.record("job-a", "crawler", "https://api.hasdata.com").job_id is None
    assert "starting it afresh" in caplog.text


def test_jobs_as_json_from_the_command_line() -> None:
    jobs = collect_jobs(
        '[{"scraper": "contacts", "input": {"urls": ["http://a"]}}]', NoJobsSpider()
    )
    assert [job.scraper for job in jobs] == ["contacts"]
    with pytest.raises(HasDataJobError, match="not JSON"):
        collect_jobs("[{scraper: contacts}]", NoJobsSpider())


def test_a_crawl_without_scrapy_redis_does_not_import_it() -> None:
    # Deciding where the state lives is on the crawl's clock: scrapy-redis
    # (and redis) are imported only by a crawl whose scheduler is built on them.
    code = (
        "import sys\n"
        "from scrapy.settings import Settings\n"
        "from scrapy_wds._hasdata._shared_state import uses_scrapy_redis\n"
        "assert not uses_scrapy_redis(Settings({'SCHEDULER': 'scrapy.core.scheduler.Scheduler'}))\n"
        "assert 'scrapy_redis' not in sys.modules, 'imported'\n"
        "import scrapy_redis.scheduler\n"
        "class Mine(scrapy_redis.scheduler.Scheduler): pass\n"
        "assert uses_scrapy_redis(Settings({'SCHEDULER': Mine}))\n"
        "assert uses_scrapy_redis(Settings({'SCHEDULER': 'scrapy_redis.scheduler.Scheduler'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
