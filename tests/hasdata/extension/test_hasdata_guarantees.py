"""Never silent, never hanging, never paying twice: each case a crawl against the emulator.

Every test here failed on the code before these guarantees: malformed pages
were read as empty, a short row count went unnoticed, unknown statuses and
never-ending jobs polled for ever, a lost submit answer was resent, bad
setting values died in tracebacks, and jobs declared without a key were
ignored.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hasdata_ext_support import API_KEY, calls, crawl_jobs, emulator_jobs, small_job
from scrapy.settings import Settings

from scrapy_wds._backoff import parse_retry_after
from scrapy_wds._hasdata._client import retry_wait
from scrapy_wds._hasdata._settings import HasDataSettingError, HasDataSettings


def errors(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


def warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


# -- item 4: silent loss ------------------------------------------------------------


@pytest.mark.parametrize("shape", ["data_not_list", "rows_not_objects"])
@pytest_twisted.ensureDeferred
async def test_a_results_page_not_made_of_rows_is_retried_then_fails_the_job_loudly(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any, shape: str
) -> None:
    hasdata_emulator.configure(results_shape=shape)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site, limit=3)], HASDATA_RETRY_TIMES=2
    )
    assert result.items == []
    assert result.stats["hasdata/retries/malformed"] == 2  # retried like a 5xx
    assert len(calls(hasdata_emulator, "GET", "/results")) == 3
    assert result.reason == "hasdata_failed"
    assert any("results" in line and "not" in line for line in errors(caplog))


@pytest_twisted.ensureDeferred
async def test_fewer_rows_than_the_job_counts_is_a_warning_and_a_stat(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    hasdata_emulator.configure(rows_count_extra=4)
    result = await crawl_jobs(hasdata_emulator, tmp_path, [small_job(demo_site, limit=3)])
    assert len(result.items) == 3
    assert result.stats["hasdata/rows/missing"] == 4
    assert any(
        "dataRowsCount" in line and "4 rows are missing" in line for line in warnings(caplog)
    )


@pytest_twisted.ensureDeferred
async def test_a_finished_job_with_no_rows_is_a_warning(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    job = small_job(demo_site)
    job["input"]["includePaths"] = ["^/no-such-path/"]
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job])
    assert result.items == [] and result.stats["hasdata/jobs/empty"] == 1
    assert any("finished with 0 rows" in line for line in warnings(caplog))


# -- item 5: hangs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "switches",
    [{"finished_word": "completed"}, {"job_polls": 1_000_000}],
    ids=["unknown-status", "never-finishes"],
)
@pytest_twisted.ensureDeferred
async def test_a_job_that_never_ends_is_stopped_at_the_job_timeout(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any, switches: dict[str, Any]
) -> None:
    hasdata_emulator.configure(**switches)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site, limit=5)], HASDATA_JOB_TIMEOUT=0.5
    )
    assert result.reason == "hasdata_job_timeout"
    assert len(calls(hasdata_emulator, "DELETE", "/scrapers/jobs/")) == 1
    (job,) = emulator_jobs(hasdata_emulator)
    assert len(result.items) == int(job["dataRowsCount"])  # the rows it made are delivered
    if "finished_word" in switches:
        assert len([w for w in warnings(caplog) if "unknown status 'completed'" in w]) == 1


# -- item 6: cost ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["502", "drop"])
@pytest_twisted.ensureDeferred
async def test_a_submit_that_may_have_created_a_job_is_not_resent(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any, how: str
) -> None:
    hasdata_emulator.configure(submit_then_fail=how)
    job = small_job(demo_site)
    job["input"]["apiToken"] = "do-not-print-me"
    result = await crawl_jobs(hasdata_emulator, tmp_path, [job])
    assert result.reason == "hasdata_submit_uncertain"
    assert len(emulator_jobs(hasdata_emulator)) == 1
    (line,) = [e for e in errors(caplog) if "not submitted again" in e]
    assert "'crawler-" in line and '"includePaths"' in line and "dashboard" in line
    assert "do-not-print-me" not in caplog.text and API_KEY not in caplog.text


@pytest_twisted.ensureDeferred
async def test_resending_uncertain_submits_is_an_opt_in(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(submit_then_fail="502")
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [small_job(demo_site)],
        HASDATA_RETRY_UNCERTAIN_SUBMITS=True,
        HASDATA_RETRY_TIMES=2,
    )
    assert len(emulator_jobs(hasdata_emulator)) == 3  # each resend paid for another job
    assert result.reason == "hasdata_failed"


@pytest_twisted.ensureDeferred
async def test_a_submit_refused_by_a_429_is_resent(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    hasdata_emulator.configure(burst_429=3, retry_after=0.01)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site, limit=4)], HASDATA_RETRY_TIMES=0
    )
    assert len(result.items) == 4 and result.reason == "finished"
    assert result.stats["hasdata/retries/429"] == 3


def test_429_waits_follow_retry_after_within_a_longer_patience() -> None:
    wait = partial(retry_wait, retry_times=2, first=1.0, cap=30.0, rate_limit_max_wait=100.0)
    assert wait("429", 0, 0.0, 7.0) == 7.0
    assert wait("429", 5, 0.0, None) is not None  # past retry_times
    assert wait("429", 9, 95.0, 7.0) == 5.0  # what is left of the patience
    assert wait("429", 9, 100.0, 7.0) is None
    assert wait("503", 2, 0.0, 7.0) is None  # 5xx: retry_times only
    assert parse_retry_after(b"12") == 12.0 and parse_retry_after(b"soon") is None
    assert 0 <= (parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT") or 0) < 1


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (
            {"HASDATA_POLL_FIRST_DELAY": 0, "HASDATA_API_URL": "http://127.0.0.1:1"},
            ["HASDATA_POLL_FIRST_DELAY", "more than 0"],
        ),
        ({"HASDATA_POLL_FIRST_DELAY": 0.5}, ["HASDATA_POLL_FIRST_DELAY", "1 or more"]),
        ({"HASDATA_WEBHOOK_ENABLED": "yes please"}, ["HASDATA_WEBHOOK_ENABLED", "True or False"]),
        ({"HASDATA_API_URL": "api.hasdata.com"}, ["HASDATA_API_URL", "http"]),
        ({"HASDATA_JOB_TIMEOUT": -1}, ["HASDATA_JOB_TIMEOUT"]),
    ],
)
def test_bad_values_are_one_line_naming_the_setting(
    settings: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(HasDataSettingError) as raised:
        HasDataSettings.from_settings(Settings(settings))
    assert all(word in str(raised.value) for word in words) and "\n" not in str(raised.value)


def test_polling_faster_than_hasdata_asks_is_a_warning(caplog: Any) -> None:
    HasDataSettings.from_settings(Settings({"HASDATA_POLL_FIRST_DELAY": 5}))
    assert any("10 s" in line for line in warnings(caplog))


@pytest_twisted.ensureDeferred
async def test_poll_interval_zero_stops_the_crawl_before_any_call(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site)], HASDATA_POLL_FIRST_DELAY=0
    )
    assert result.reason == "hasdata_bad_config" and hasdata_emulator.calls() == []
    assert any("HASDATA_POLL_FIRST_DELAY is 0" in line for line in errors(caplog))
    assert "Traceback" not in caplog.text


# -- item 7: configuration --------------------------------------------------------------


def test_url_key_and_webhook_secret_come_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("HASDATA_API_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("HASDATA_API_KEY", "env-key")
    monkeypatch.setenv("HASDATA_WEBHOOK_SECRET", "env-secret")
    settings = HasDataSettings.from_settings(Settings())
    assert (settings.api_url, settings.api_key, settings.webhook_secret) == (
        "http://127.0.0.1:9",
        "env-key",
        "env-secret",
    )
    chosen = HasDataSettings.from_settings(Settings({"HASDATA_API_URL": "http://127.0.0.1:8"}))
    assert chosen.api_url == "http://127.0.0.1:8"  # a setting wins over the environment


def test_old_setting_names_still_work_with_a_warning(caplog: Any) -> None:
    settings = HasDataSettings.from_settings(
        Settings({"HASDATA_POLL_INTERVAL": 12, "HASDATA_RETRY_DELAY": 2})
    )
    assert settings.poll_first_delay == 12 and settings.retry_first_delay == 2
    assert any(
        "HASDATA_POLL_INTERVAL is deprecated; use HASDATA_POLL_FIRST_DELAY" in w
        for w in warnings(caplog)
    )


@pytest_twisted.ensureDeferred
async def test_jobs_without_a_key_stop_the_crawl_naming_the_setting(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv("HASDATA_API_KEY", raising=False)
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site)], HASDATA_API_KEY=None
    )
    assert result.reason == "hasdata_no_api_key" and hasdata_emulator.calls() == []
    assert any("HASDATA_API_KEY is not set" in line for line in errors(caplog))


@pytest_twisted.ensureDeferred
async def test_a_bad_flag_value_is_one_error_line_without_traceback(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, caplog: Any
) -> None:
    result = await crawl_jobs(
        hasdata_emulator, tmp_path, [small_job(demo_site)], HASDATA_WEBHOOK_ENABLED="yes please"
    )
    assert result.reason == "hasdata_bad_config" and hasdata_emulator.calls() == []
    assert [e for e in errors(caplog) if "HASDATA_WEBHOOK_ENABLED" in e]
    assert "Traceback" not in caplog.text


@pytest_twisted.ensureDeferred
async def test_a_refused_connection_is_resent_and_leaves_no_uncertain_submit(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    import json
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = await crawl_jobs(
        hasdata_emulator,
        tmp_path,
        [small_job(demo_site)],
        HASDATA_API_URL=closed,
        HASDATA_RETRY_TIMES=2,
    )
    assert result.stats["hasdata/retries/connection"] == 2  # resent: it surely created nothing
    assert result.reason == "hasdata_failed"
    (record,) = json.loads((tmp_path / "hasdata-state.json").read_text())["jobs"].values()
    assert record["submit_unconfirmed"] is False  # the next run may submit it
