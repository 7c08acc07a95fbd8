"""The redis job records of several workers (``SharedJobStore``), against a real redis-server."""

from __future__ import annotations

import time

import pytest
import redis
from scrapy.settings import Settings

from scrapy_wds._hasdata._shared_state import ClaimLost, SharedJobStore, uses_scrapy_redis

API = "http://hasdata.invalid"


def store(redis_url: str, ttl: float = 30.0) -> SharedJobStore:
    return SharedJobStore.from_settings(Settings({"REDIS_URL": redis_url}), "spider", ttl)


def test_only_the_first_worker_claims_a_job_and_the_next_one_reads_its_record(
    redis_url: str,
) -> None:
    first, second = store(redis_url), store(redis_url)
    record = first.try_claim("job", "crawler", API)
    assert record is not None and record.job_id is None
    assert second.try_claim("job", "crawler", API) is None

    record.job_id = "416349"
    first.save_job("job")
    for position in range(3):
        first.append_row("job", ["p", position])
    first.append_row("job", ["e", "a"])
    first.close()  # lets the claim go

    taken = second.try_claim("job", "crawler", API)
    assert taken is not None
    assert taken.job_id == "416349"
    assert second.row_entries("job") == [["p", 0], ["p", 1], ["p", 2], ["e", "a"]]


def test_an_expired_claim_passes_on_and_the_old_owner_can_no_longer_write(redis_url: str) -> None:
    stalled, other = store(redis_url, ttl=0.2), store(redis_url)
    record = stalled.try_claim("job", "crawler", API)
    assert record is not None
    record.job_id = "7"
    stalled.save_job("job")
    time.sleep(0.3)  # no heartbeat: the claim lapses

    taken = other.try_claim("job", "crawler", API)
    assert taken is not None and taken.job_id == "7"
    record.status = "finished"
    with pytest.raises(ClaimLost):
        stalled.save_job("job")
    with pytest.raises(ClaimLost):
        stalled.append_row("job", ["p", 9])
    with pytest.raises(ClaimLost):
        stalled.check_claim("job")
    again = store(redis_url)
    other.close()
    reread = again.try_claim("job", "crawler", API)
    assert reread is not None and reread.status is None and again.row_entries("job") == []


def test_the_heartbeat_keeps_a_claim_and_notices_one_lost(redis_url: str) -> None:
    owner = store(redis_url, ttl=0.3)
    assert owner.try_claim("job", "crawler", API) is not None
    for _ in range(4):
        time.sleep(0.1)
        owner.renew()
    assert owner.owns("job")
    assert store(redis_url).try_claim("job", "crawler", API) is None

    redis.Redis.from_url(redis_url).delete("spider:hasdata:job:claim")
    owner.renew()
    assert not owner.owns("job")


def test_a_fresh_crawl_forgets_only_drained_unclaimed_jobs(redis_url: str) -> None:
    worker = store(redis_url)
    for key in ("done", "running", "unfinished"):
        record = worker.try_claim(key, "crawler", API)
        assert record is not None
        record.job_id = key
        record.drained = key == "done"
        worker.save_job(key)
    worker.release("done")
    worker.release("unfinished")

    assert store(redis_url).forget_drained(["done", "running", "unfinished"]) == 1
    assert not worker.drained_elsewhere("done")
    claimed = store(redis_url).try_claim("unfinished", "crawler", API)
    assert claimed is not None and claimed.job_id == "unfinished"


def test_a_record_made_for_another_api_is_started_afresh(redis_url: str) -> None:
    worker = store(redis_url)
    record = worker.try_claim("job", "crawler", API)
    assert record is not None
    record.job_id = "1"
    worker.save_job("job")
    worker.close()
    fresh = store(redis_url).try_claim("job", "crawler", "http://elsewhere.invalid")
    assert fresh is not None and fresh.job_id is None


def test_scrapy_redis_is_recognised_by_its_scheduler_class() -> None:
    assert uses_scrapy_redis(Settings({"SCHEDULER": "scrapy_redis.scheduler.Scheduler"}))
    assert not uses_scrapy_redis(Settings())
    assert not uses_scrapy_redis(Settings({"SCHEDULER": "scrapy.core.scheduler.Scheduler"}))
