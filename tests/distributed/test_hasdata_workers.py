"""HasData jobs in a scrapy-redis crawl: one submit and one delivery across workers.

Every ``hasdata_crawler`` worker declares the same job.  The job is claimed
in redis, so one worker submits it and delivers its rows while the others
wait; and when the owner dies (SIGKILL) another worker takes the job over
from its record in redis: it polls the same job id and goes on from the rows
already delivered, without paying for the job again.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from ._workers import ROOT, run_workers, start_worker

#: Where the test-only pipeline that fsyncs every item lives.
DURABLE_PIPELINE_DIR = ROOT / "tests" / "hasdata" / "extension"
PAGE = 20


def hasdata_env(hasdata_emulator: Any, demo_site: Any) -> dict[str, str]:
    return {
        "HASDATA_API_URL": hasdata_emulator.url,
        "HASDATA_API_KEY": hasdata_emulator.api_key,
        "DEMO_SITE_URL": demo_site.url,
    }


def book_urls(demo_site: Any) -> set[str]:
    with urllib.request.urlopen(demo_site.url + "/__truth__/books.json") as answer:
        return {book["url"] for book in json.load(answer)}


def submits(hasdata_emulator: Any) -> list[dict[str, Any]]:
    return [
        c for c in hasdata_emulator.calls() if c["method"] == "POST" and c["path"].endswith("/jobs")
    ]


def job_record(client: redis.Redis) -> dict[str, Any]:
    names = [
        k.decode() if isinstance(k, bytes) else k for k in client.keys("hasdata_crawler:hasdata:*")
    ]
    keys = [k for k in names if not k.endswith((":claim", ":rows"))]
    assert len(keys) == 1, keys
    return dict(json.loads(client.get(keys[0]) or b"{}"))


def test_two_workers_submit_a_declared_hasdata_job_once(
    tmp_path: Path, hasdata_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    # The job runs for a while, so the second worker opens while the first owns it.
    hasdata_emulator.configure(job_polls=3, job_seconds=2)
    settings = {
        "HASDATA_POLL_FIRST_DELAY": "0.05",
        "HASDATA_POLL_MAX_DELAY": "0.1",
        "HASDATA_PAGE_LIMIT": str(PAGE),
    }
    workers = [
        start_worker(
            "hasdata_crawler",
            name,
            tmp_path,
            redis_url,
            hasdata_env(hasdata_emulator, demo_site),
            # As on two machines: each worker has its own state file.
            {**settings, "HASDATA_STATE_FILE": str(tmp_path / f"hasdata-state-{name}.json")},
        )
        for name in "ab"
    ]
    results = run_workers(workers)

    for result in results:
        assert result.stats["finish_reason"] == "finished", result.log[-3000:]
        assert "Traceback" not in result.log, result.log[-5000:]
        assert hasdata_emulator.api_key not in result.log
    assert len(submits(hasdata_emulator)) == 1, "the job was submitted more than once"
    # Exactly the job's rows, once, across both outputs.
    rows = Counter(item["url"] for result in results for item in result.items)
    assert [url for url, count in rows.items() if count > 1] == []
    assert set(rows) == book_urls(demo_site)

    # One worker owned the job; the other knew it and delivered none of it.
    stats = [result.stats for result in results]
    assert sorted(s.get("hasdata/jobs/submitted", 0) for s in stats) == [0, 1]
    assert sorted(s.get("hasdata/jobs/elsewhere", 0) for s in stats) == [0, 1]
    owner, other = sorted(results, key=lambda r: r.stats.get("hasdata/jobs/elsewhere", 0))
    assert other.items == [] and other.stats.get("hasdata/pages", 0) == 0
    assert "another worker owns it" in other.log or "delivered by another worker" in other.log
    assert owner.stats["hasdata/rows"] == len(rows)

    # The record stays in redis, drained, and the claim was let go.
    client = redis.Redis.from_url(redis_url)
    record = job_record(client)
    assert record["drained"] is True
    job_calls = [
        c["path"] for c in hasdata_emulator.calls() if c["path"].startswith("/scrapers/jobs/")
    ]
    assert job_calls and all(path.split("/")[3] == record["job_id"] for path in job_calls)
    assert client.keys("hasdata_crawler:hasdata:*:claim") == []


def test_a_worker_takes_over_the_job_of_a_worker_killed_mid_drain(
    tmp_path: Path, hasdata_emulator: Any, demo_site: Any, redis_url: str
) -> None:
    settings = {
        "HASDATA_POLL_FIRST_DELAY": "0.05",
        "HASDATA_POLL_MAX_DELAY": "0.1",
        "HASDATA_PAGE_LIMIT": str(PAGE),
        "HASDATA_PAGE_CONCURRENCY": "1",
        # A killed owner's claim lapses after a second; the heartbeat renews a live one.
        "HASDATA_CLAIM_TTL": "1",
        "ITEM_PIPELINES": json.dumps({"hasdata_durable_pipeline.DurableLinesPipeline": 100}),
    }
    env = hasdata_env(hasdata_emulator, demo_site)

    def worker(name: str, delay: str) -> Any:
        return start_worker(
            "hasdata_crawler",
            name,
            tmp_path,
            redis_url,
            env,
            {
                **settings,
                "DURABLE_OUTPUT": str(tmp_path / f"durable-{name}.jsonl"),
                "DURABLE_DELAY": delay,
                "HASDATA_STATE_FILE": str(tmp_path / f"hasdata-state-{name}.json"),
            },
            import_paths=(DURABLE_PIPELINE_DIR,),
        )

    def durable(name: str) -> list[str]:
        path = tmp_path / f"durable-{name}.jsonl"
        if not path.exists():
            return []
        # Complete lines only: read while the worker writes, or after its SIGKILL.
        return [json.loads(line)["url"] for line in path.read_text().split("\n")[:-1]]

    first = worker("a", "0.02")  # slow pipeline: about 4 s for the job's 200 rows
    deadline = time.monotonic() + 120
    while len(durable("a")) < 3 * PAGE:
        assert first.process.poll() is None, first.log_file.read_text()[-3000:]
        assert time.monotonic() < deadline, "the first worker never delivered 60 rows"
        time.sleep(0.01)
    first.process.kill()
    first.process.wait()
    before_kill = durable("a")
    assert len(before_kill) < 200

    [second] = run_workers([worker("b", "0")])
    assert second.stats["finish_reason"] == "finished", second.log[-3000:]
    assert "Traceback" not in second.log, second.log[-5000:]

    # Never paid twice: the second worker polled the first one's job.
    assert len(submits(hasdata_emulator)) == 1
    assert second.stats.get("hasdata/jobs/submitted", 0) == 0
    assert second.stats["hasdata/jobs/resumed"] == 1
    # Nothing lost; repeated at most the one page that was in flight at the kill.
    after = durable("b")
    assert set(before_kill) | set(after) == book_urls(demo_site)
    assert Counter(after) == Counter(set(after)), "the second worker delivered a row twice"
    repeated = set(before_kill) & set(after)
    assert len(repeated) <= PAGE, f"{len(repeated)} rows delivered again"
    assert len(after) == 200 - len(set(before_kill)) + len(repeated)
    assert job_record(redis.Redis.from_url(redis_url))["drained"] is True
