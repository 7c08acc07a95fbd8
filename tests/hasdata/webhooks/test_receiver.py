"""The webhook receiver over real HTTP on the test reactor."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.error import ConnectionRefusedError
from twisted.web.client import ResponseFailed

from scrapy_wds._hasdata._webhooks import WebhookReceiver

from ._http import post

SECRET = "s3cret-token-for-tests"
MAX_BODY = 4096
KNOWN = {"416349", "3f2c9a6e-0000-4000-8000-000000000001"}


class Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, list[dict[str, Any]]]] = []
        self.finished: list[str] = []
        self.fail_rows = False

    def is_known_job(self, job_id: str) -> bool:
        assert isinstance(job_id, str)
        return job_id in KNOWN

    def on_rows(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        if self.fail_rows:
            raise RuntimeError("pipeline is full")
        self.rows.append((job_id, rows))

    def on_finished(self, job_id: str) -> None:
        self.finished.append(job_id)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest_twisted.async_yield_fixture
async def receiver(recorder: Recorder) -> AsyncIterator[WebhookReceiver]:
    instance = WebhookReceiver(
        secret=SECRET,
        max_body=MAX_BODY,
        is_known_job=recorder.is_known_job,
        on_rows=recorder.on_rows,
        on_finished=recorder.on_finished,
    )
    instance.start()
    yield instance
    stopped = instance.stop()
    if stopped is not None:
        await stopped


def data_event(job_id: Any = 416349, rows: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "event": "scraper.data.scraped",
        "jobId": job_id,
        "jobStatus": "in_progress",
        "timestamp": "2026-11-24T08:00:00.000Z",
        "data": [{"url": "https://example.com/a", "title": "A"}] if rows is None else rows,
        **extra,
    }


def test_start_gives_a_loopback_callback_url(receiver: WebhookReceiver) -> None:
    url = receiver.url
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/hasdata/webhook")
    assert int(url.split(":")[2].split("/")[0]) > 0
    assert SECRET not in repr(receiver)


@pytest.mark.parametrize("job_id", [416349, "416349", "3f2c9a6e-0000-4000-8000-000000000001"])
@pytest_twisted.ensureDeferred
async def test_rows_of_a_data_event_reach_on_rows(
    receiver: WebhookReceiver, recorder: Recorder, job_id: Any
) -> None:
    rows = [{"url": f"https://example.com/{n}", "n": n} for n in range(3)]
    answer = await post(receiver.url, data_event(job_id, rows), secret=SECRET)
    assert answer.status == 200
    assert recorder.rows == [(str(job_id), rows)]
    assert receiver.counts["accepted"] == 1
    assert receiver.counts["rows"] == 3


@pytest_twisted.ensureDeferred
async def test_older_event_name_with_rows_under_dataRows(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    rows = [{"url": "https://example.com/x", "emails": ["a@b.c"]}]
    body = {"event": "scraper.data.rows_added", "jobId": "416349", "dataRows": rows}
    answer = await post(receiver.url, body, secret=SECRET)
    assert answer.status == 200
    assert recorder.rows == [("416349", rows)]


@pytest_twisted.ensureDeferred
async def test_finished_event_calls_on_finished_and_started_is_acknowledged(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    started = {"event": "scraper.job.started", "jobId": 416349, "jobStatus": "in_progress"}
    finished = {
        "event": "scraper.job.finished",
        "jobId": 416349,
        "jobStatus": "finished",
        "dataRowsCount": "12",
        "creditsSpent": 12,
    }
    assert (await post(receiver.url, started, secret=SECRET)).status == 200
    assert recorder.finished == []
    assert (await post(receiver.url, finished, secret=SECRET)).status == 200
    assert recorder.finished == ["416349"]
    assert recorder.rows == []


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
@pytest_twisted.ensureDeferred
async def test_missing_or_wrong_secret_is_refused(
    receiver: WebhookReceiver, recorder: Recorder, secret: str | None
) -> None:
    answer = await post(receiver.url, data_event(), secret=secret)
    assert answer.status == 401
    assert SECRET.encode() not in answer.body
    assert recorder.rows == []
    assert receiver.counts["unauthorized"] == 1


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest_twisted.ensureDeferred
async def test_body_over_the_cap_is_refused(
    receiver: WebhookReceiver, recorder: Recorder, declare_length: bool
) -> None:
    rows = [{"url": f"https://example.com/{n}", "pad": "x" * 200} for n in range(40)]
    body = json.dumps(data_event(rows=rows)).encode()
    assert len(body) > MAX_BODY
    answer = await post(receiver.url, body, secret=SECRET, declare_length=declare_length)
    assert answer.status == 413
    assert recorder.rows == []
    assert receiver.counts["too_large"] == 1
    # The connection is refused, not the receiver: the next callback still works.
    assert (await post(receiver.url, data_event(), secret=SECRET)).status == 200


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest_twisted.ensureDeferred
async def test_body_exactly_at_the_cap_is_accepted(
    receiver: WebhookReceiver, recorder: Recorder, declare_length: bool
) -> None:
    event = data_event(rows=[{"pad": ""}])
    short = len(json.dumps(event).encode())
    event["data"][0]["pad"] = "x" * (MAX_BODY - short)
    body = json.dumps(event).encode()
    assert len(body) == MAX_BODY
    answer = await post(receiver.url, body, secret=SECRET, declare_length=declare_length)
    assert answer.status == 200
    assert len(recorder.rows) == 1


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest_twisted.ensureDeferred
async def test_endless_body_is_cut_off_without_being_kept(
    receiver: WebhookReceiver, recorder: Recorder, declare_length: bool
) -> None:
    body = b'{"event": "scraper.data.scraped", "jobId": 416349, "data": ["' + b"x" * 2_000_000
    try:
        answer = await post(receiver.url, body, secret=SECRET, declare_length=declare_length)
    except ResponseFailed:
        pass  # hung up on while still sending: also a refusal
    else:
        assert answer.status == 413
    assert recorder.rows == []
    assert receiver.counts["too_large"] == 1
    assert (await post(receiver.url, data_event(), secret=SECRET)).status == 200


@pytest_twisted.ensureDeferred
async def test_unknown_job_is_refused(receiver: WebhookReceiver, recorder: Recorder) -> None:
    answer = await post(receiver.url, data_event(job_id=999), secret=SECRET)
    assert answer.status == 404
    finished = {"event": "scraper.job.finished", "jobId": "nope"}
    assert (await post(receiver.url, finished, secret=SECRET)).status == 404
    assert recorder.rows == [] and recorder.finished == []
    assert receiver.counts["unknown_job"] == 2


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        json.dumps({"jobId": 416349, "data": []}).encode(),
        json.dumps({"event": "scraper.job.exploded", "jobId": 416349}).encode(),
        json.dumps({"event": "scraper.job.finished"}).encode(),
        json.dumps({"event": "scraper.job.finished", "jobId": True}).encode(),
        json.dumps({"event": "scraper.job.finished", "jobId": ["416349"]}).encode(),
        json.dumps(data_event(rows=["not", "objects"])).encode(),
        json.dumps({"event": "scraper.data.scraped", "jobId": 416349}).encode(),
        json.dumps({"event": "scraper.data.scraped", "jobId": 416349, "data": {"a": 1}}).encode(),
    ],
    ids=[
        "broken",
        "not-utf8",
        "array",
        "no-event",
        "unknown-event",
        "no-job",
        "bool-job",
        "list-job",
        "rows-not-objects",
        "no-rows",
        "rows-not-array",
    ],
)
@pytest_twisted.ensureDeferred
async def test_malformed_bodies_are_refused(
    receiver: WebhookReceiver, recorder: Recorder, body: bytes
) -> None:
    answer = await post(receiver.url, body, secret=SECRET)
    assert answer.status == 400
    assert "error" in answer.json()
    assert recorder.rows == [] and recorder.finished == []
    assert receiver.counts["bad_request"] == 1


@pytest.mark.parametrize("method", [b"GET", b"PUT", b"DELETE", b"PATCH", b"HEAD"])
@pytest_twisted.ensureDeferred
async def test_only_post_on_the_webhook_path(receiver: WebhookReceiver, method: bytes) -> None:
    answer = await post(receiver.url, data_event(), secret=SECRET, method=method)
    assert answer.status == 405  # not 501: the path exists, the method is wrong
    assert answer.headers.get("allow") == "POST"


@pytest_twisted.ensureDeferred
async def test_an_unknown_path_is_404(receiver: WebhookReceiver) -> None:
    other = receiver.url.replace("/hasdata/webhook", "/hasdata/other")
    assert (await post(other, data_event(), secret=SECRET)).status == 404


@pytest_twisted.ensureDeferred
async def test_failing_handler_answers_5xx_so_hasdata_retries(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    recorder.fail_rows = True
    answer = await post(receiver.url, data_event(), secret=SECRET)
    assert answer.status == 500
    assert receiver.counts["failed"] == 1
    recorder.fail_rows = False
    assert (await post(receiver.url, data_event(), secret=SECRET)).status == 200


@pytest_twisted.ensureDeferred
async def test_logs_carry_neither_secret_nor_bodies(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "row-content-marker-7731"
    caplog.set_level(logging.DEBUG)
    for secret in (SECRET, "wrong-" + SECRET):
        for body in (data_event(rows=[{"t": marker}]), data_event(job_id=1, rows=[{"t": marker}])):
            await post(receiver.url, body, secret=secret)
    await post(receiver.url, b"{" + marker.encode(), secret=SECRET)
    assert caplog.records, "refusals are logged at debug level"
    assert SECRET not in caplog.text
    assert marker not in caplog.text


@pytest_twisted.ensureDeferred
async def test_stop_closes_the_port(recorder: Recorder) -> None:
    instance = WebhookReceiver(
        secret=SECRET,
        max_body=MAX_BODY,
        is_known_job=recorder.is_known_job,
        on_rows=recorder.on_rows,
        on_finished=recorder.on_finished,
    )
    url = instance.start()
    assert instance.start() == url  # idempotent
    assert (await post(url, data_event(), secret=SECRET)).status == 200
    stopped = instance.stop()
    assert stopped is not None
    await stopped
    assert instance.stop() is None
    with pytest.raises(ConnectionRefusedError):
        await post(url, data_event(), secret=SECRET)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"secret": ""}, "HASDATA_WEBHOOK_SECRET"), ({"max_body": 0}, "HASDATA_WEBHOOK_MAX_BODY")],
)
def test_bad_construction_names_the_setting(kwargs: dict[str, Any], named: str) -> None:
    arguments: dict[str, Any] = {
        "secret": SECRET,
        "max_body": MAX_BODY,
        "is_known_job": lambda job: True,
        "on_rows": lambda job, rows: None,
        "on_finished": lambda job: None,
        **kwargs,
    }
    with pytest.raises(ValueError, match=named):
        WebhookReceiver(**arguments)


@pytest_twisted.ensureDeferred
async def test_data_event_without_rows_is_acknowledged_without_a_call(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    answer = await post(receiver.url, data_event(rows=[]), secret=SECRET)
    assert answer.status == 200
    assert recorder.rows == []
    assert receiver.counts["accepted"] == 1 and receiver.counts["rows"] == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
@pytest_twisted.ensureDeferred
async def test_ipv6_loopback_host_gives_a_bracketed_url(recorder: Recorder) -> None:
    instance = WebhookReceiver(
        secret=SECRET,
        max_body=MAX_BODY,
        is_known_job=recorder.is_known_job,
        on_rows=recorder.on_rows,
        on_finished=recorder.on_finished,
        host="::1",
    )
    url = instance.start()
    try:
        assert url.startswith("http://[::1]:")
        assert (await post(url, data_event(), secret=SECRET)).status == 200
    finally:
        stopped = instance.stop()
        if stopped is not None:
            await stopped
    assert len(recorder.rows) == 1
