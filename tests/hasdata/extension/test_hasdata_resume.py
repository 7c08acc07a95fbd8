"""Killed, interrupted and restarted crawls: one submit ever, no row lost, few repeated.

Real ``scrapy crawl hasdata_crawler`` runs in the example project, stopped
with SIGKILL (no chance to save anything) or SIGINT (graceful), then started
again with the same state.  Items are counted by a pipeline that fsyncs each
one (see ``hasdata_durable_pipeline``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hasdata_ext_support import API_KEY, calls, emulator_jobs

HERE = Path(__file__).parent
PROJECT = HERE.parents[2] / "example_project"
PAGE = 5  # rows per results page in these tests
FAULTS: dict[str, Any] = {"burst_429": 3, "malformed_rate": 0.1, "seed": 5}


def start_crawl(emulator: Any, site: Any, tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        HASDATA_API_URL=emulator.url,
        HASDATA_API_KEY=API_KEY,
        DEMO_SITE_URL=site.url,
        PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    )
    settings = {
        "HASDATA_POLL_FIRST_DELAY": 0.05,
        "HASDATA_POLL_MAX_DELAY": 0.1,
        "HASDATA_PAGE_LIMIT": PAGE,
        "HASDATA_PAGE_CONCURRENCY": 2,
        "HASDATA_RETRY_TIMES": 10,
        "HASDATA_RETRY_FIRST_DELAY": 0.01,
        "HASDATA_RETRY_MAX_DELAY": 0.05,
        "DURABLE_OUTPUT": tmp_path / "delivered.jsonl",
        "ITEM_PIPELINES": json.dumps({"hasdata_durable_pipeline.DurableLinesPipeline": 100}),
        "LOG_FILE": tmp_path / "crawl.log",
        "TELNETCONSOLE_ENABLED": False,
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "hasdata_crawler"]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    return subprocess.Popen([*args, *extra], cwd=PROJECT, env=env)


def delivered(tmp_path: Path) -> list[str]:
    path = tmp_path / "delivered.jsonl"
    if not path.exists():
        return []
    # Complete lines only: read while the crawl writes (or after a SIGKILL),
    # a long row's line can be cut where a write ended; that row is not stored.
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line)["url"] for line in complete]


def wait_for(condition: Any, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(3000):
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the crawl ended (rc {process.returncode}) before {what}")
        time.sleep(0.01)
    process.kill()
    raise AssertionError(f"never saw {what}")


def finish(process: subprocess.Popen[bytes]) -> None:
    assert process.wait(timeout=120) == 0


def status_polls(emulator: Any) -> int:
    return len(
        [c for c in calls(emulator, "GET", "/scrapers/jobs/") if "/results" not in c["path"]]
    )


def test_sigkill_while_the_job_runs(hasdata_emulator: Any, demo_site: Any, tmp_path: Path) -> None:
    hasdata_emulator.configure(job_polls=12)
    state = f"HASDATA_STATE_FILE={tmp_path / 'state.json'}"
    first = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state)
    wait_for(lambda: status_polls(hasdata_emulator) >= 3, first, "three status polls")
    first.kill()
    first.wait()
    assert len(calls(hasdata_emulator, "POST", "/jobs")) == 1
    assert "hasdata-test-key" not in (tmp_path / "state.json").read_text()

    second = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state)
    finish(second)
    assert (
        len(calls(hasdata_emulator, "POST", "/jobs")) == 1
    )  # the paid job was picked up, not bought again
    (job,) = emulator_jobs(hasdata_emulator)
    urls = delivered(tmp_path)
    assert len(urls) == len(set(urls)) == int(job["dataRowsCount"]) == 200


def test_sigkill_while_rows_stream(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, book_truth: list[dict[str, Any]]
) -> None:
    hasdata_emulator.configure(**FAULTS)
    state = f"HASDATA_STATE_FILE={tmp_path / 'state.json'}"
    slow = "DURABLE_DELAY=0.01"
    first = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state, "-s", slow)
    wait_for(lambda: len(delivered(tmp_path)) >= 42, first, "42 rows delivered")
    first.kill()
    first.wait()
    before = len(delivered(tmp_path))
    assert before < 200
    pages_read_first = len(calls(hasdata_emulator, "GET", "/results"))

    second = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state)
    finish(second)
    assert len(emulator_jobs(hasdata_emulator)) == 1  # 429s resent, one job paid
    urls = delivered(tmp_path)
    assert set(urls) == {book["url"] for book in book_truth}  # none lost
    repeated = sum(n - 1 for n in Counter(urls).values())
    assert repeated <= 1  # at most the one row that was in the pipelines
    # The second run read only the pages the first had not recorded as done.
    second_reads = calls(hasdata_emulator, "GET", "/results")[pages_read_first:]
    pages_read_second = {dict(c["query"])["page"] for c in second_reads}  # retries aside
    assert len(pages_read_second) <= 200 // PAGE - before // PAGE + 1


def repeats(urls: list[str]) -> int:
    return sum(n - 1 for n in Counter(urls).values())


@pytest.mark.parametrize("link_uses", [0, 1], ids=["fresh-link", "link-used-up"])
@pytest.mark.parametrize("stop", ["SIGINT", "SIGKILL"])
def test_stopped_during_json_file_delivery_then_resumed(
    hasdata_emulator: Any,
    demo_site: Any,
    tmp_path: Path,
    book_truth: list[dict[str, Any]],
    link_uses: int,
    stop: str,
) -> None:
    """The resumed run refreshes the file link, or pages when it is used up: rows are
    known by their position in the job, which the file and the pages share."""
    # Faults on: a 429 burst (the submit is resent: a 429 created nothing) and
    # answers cut in half (the submit's id is salvaged, the rest retried).
    hasdata_emulator.configure(link_uses=link_uses, **FAULTS)
    state = f"HASDATA_STATE_FILE={tmp_path / 'state.json'}"
    file = "HASDATA_USE_JSON_FILE=True"
    first = start_crawl(
        hasdata_emulator, demo_site, tmp_path, "-s", state, "-s", file, "-s", "DURABLE_DELAY=0.01"
    )
    wait_for(lambda: len(delivered(tmp_path)) >= 42, first, "42 rows delivered")
    if stop == "SIGINT":  # Ctrl-C: a graceful stop
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=60) == 0
    else:
        first.kill()
        first.wait()
    assert len(delivered(tmp_path)) < 200
    assert "json_file/used" in (tmp_path / "crawl.log").read_text() or stop == "SIGKILL"

    second = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state, "-s", file)
    finish(second)
    assert len(emulator_jobs(hasdata_emulator)) == 1  # 429s resent, one job paid
    urls = delivered(tmp_path)
    assert set(urls) == {book["url"] for book in book_truth}  # none lost
    assert repeats(urls) <= (0 if stop == "SIGINT" else 1)
    log = (tmp_path / "crawl.log").read_text()
    if link_uses == 1:  # the link worked once: the second run paged the rest
        assert "'hasdata/json_file/fallbacks': 1" in log


@pytest.mark.parametrize("how", ["502", "drop"])
def test_a_submit_that_created_a_job_and_then_failed_is_never_resent(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, how: str
) -> None:
    hasdata_emulator.configure(submit_then_fail=how)
    state = f"HASDATA_STATE_FILE={tmp_path / 'state.json'}"
    for _ in range(2):  # the run, then a run started again
        finish(start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", state))
        assert len(emulator_jobs(hasdata_emulator)) == 1  # created once, paid once
        log = (tmp_path / "crawl.log").read_text()
        assert "'finish_reason': 'hasdata_submit_uncertain'" in log
        assert "check your hasdata dashboard" in log.lower() and API_KEY not in log
        (tmp_path / "crawl.log").unlink()
    assert len(emulator_jobs(hasdata_emulator)) == 1  # 429s resent, one job paid
    assert delivered(tmp_path) == []


def test_sigint_and_resume_with_jobdir(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path
) -> None:
    jobdir = f"JOBDIR={tmp_path / 'jobdir'}"
    slow = "DURABLE_DELAY=0.01"
    first = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", jobdir, "-s", slow)
    wait_for(lambda: len(delivered(tmp_path)) >= 42, first, "42 rows delivered")
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 0
    assert len(delivered(tmp_path)) < 200
    assert (tmp_path / "jobdir" / "hasdata-state.json").exists()

    second = start_crawl(hasdata_emulator, demo_site, tmp_path, "-s", jobdir)
    finish(second)
    assert len(calls(hasdata_emulator, "POST", "/jobs")) == 1
    urls = delivered(tmp_path)
    assert len(urls) == len(set(urls)) == 200  # every row exactly once


def test_plain_run_writes_a_feed(
    hasdata_emulator: Any, demo_site: Any, tmp_path: Path, book_truth: list[dict[str, Any]]
) -> None:
    hasdata_emulator.configure(page_size_cap=30, job_polls=2)
    out = tmp_path / "out.jsonl"
    run = start_crawl(
        hasdata_emulator,
        demo_site,
        tmp_path,
        "-O",
        str(out),
        "-s",
        f"HASDATA_STATE_FILE={tmp_path / 'state.json'}",
    )
    finish(run)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_url = {row["url"]: row for row in rows}
    assert len(rows) == len(by_url) == int(emulator_jobs(hasdata_emulator)[0]["dataRowsCount"])
    assert set(by_url) == {book["url"] for book in book_truth}
    for book in book_truth:  # the page <title> starts with the book's title
        assert by_url[book["url"]]["title"].startswith(book["title"])
    assert all(row["status"] == 200 for row in rows)
    # A finished crawl leaves nothing to resume: the next run starts a new job.
    assert json.loads((tmp_path / "state.json").read_text())["jobs"] == {}
    log = (tmp_path / "crawl.log").read_text()
    assert "'finish_reason': 'finished'" in log and "'hasdata/rows': 200" in log
