"""The HasData emulator calls a real receiver back, in every delivery mode.

These tests drive the API by hand (submit, poll, page) so they exercise the
receiver alone; full crawls through the extension are in
``test_extension_webhooks.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from scrapy_wds._hasdata._row_keys import row_content_key
from scrapy_wds._hasdata._webhooks import WebhookReceiver
from scrapy_wds.testing import HasDataEmulator

from ._http import request

SECRET = "emulator-webhook-secret"
KEYWORDS = ["lamp", "desk", "chair", "shelf"]
ROWS = 5 * len(KEYWORDS)  # the synthetic scrapers give 5 rows per input value
BATCH = 3
DATA_CALLBACKS = math.ceil(ROWS / BATCH)


class Inbox:
    """What the receiver handed over, plus the jobs this 'crawl' submitted."""

    def __init__(self) -> None:
        self.jobs: set[str] = set()
        self.rows: list[dict[str, Any]] = []
        self.finished: list[str] = []

    def on_rows(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        assert job_id in self.jobs
        self.rows.extend(rows)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


async def _started(inbox: Inbox, max_body: int = 1 << 20) -> WebhookReceiver:
    receiver = WebhookReceiver(
        secret=SECRET,
        max_body=max_body,
        is_known_job=inbox.jobs.__contains__,
        on_rows=inbox.on_rows,
        on_finished=inbox.finished.append,
    )
    receiver.start()
    return receiver


@pytest_twisted.async_yield_fixture
async def receiver(inbox: Inbox) -> AsyncIterator[WebhookReceiver]:
    instance = await _started(inbox)
    yield instance
    stopped = instance.stop()
    if stopped is not None:
        await stopped


def _api(emulator: HasDataEmulator) -> dict[str, str]:
    return {"x-api-key": emulator.api_key}


async def _tick() -> None:
    from twisted.internet import reactor

    await deferLater(reactor, 0.02, lambda: None)  # type: ignore[arg-type]


async def run_job(
    emulator: HasDataEmulator, inbox: Inbox, url: str, secret: str = SECRET
) -> list[dict[str, Any]]:
    """Submit a job calling ``url`` back, wait for it to finish; its paged rows."""
    body = {
        "keywords": KEYWORDS,
        "webhook": {
            "url": url,
            "events": ["scraper.job.started", "scraper.data.scraped", "scraper.job.finished"],
            "headers": {"X-Webhook-Secret": secret},
        },
    }
    submitted = await request(
        b"POST", f"{emulator.url}/scrapers/amazon-search/jobs", body, headers=_api(emulator)
    )
    assert submitted.status == 200, submitted.body
    job_id = str(submitted.json()["id"])
    inbox.jobs.add(job_id)
    for _ in range(500):
        status = await request(
            b"GET", f"{emulator.url}/scrapers/jobs/{job_id}", headers=_api(emulator)
        )
        if status.json()["status"] == "finished":
            break
        await _tick()
    else:
        pytest.fail("the emulator's job never finished")
    page = await request(
        b"GET",
        f"{emulator.url}/scrapers/jobs/{job_id}/results?page=1&limit=100",
        headers=_api(emulator),
    )
    rows = [wrapped["data"] for wrapped in page.json()["data"]]
    assert len(rows) == ROWS
    return rows


async def wait_for_deliveries(
    emulator: HasDataEmulator, attempts: int, status: int | None = None
) -> list[dict[str, Any]]:
    """The emulator's delivery log once it holds ``attempts`` real attempts
    (answered with ``status``, when given)."""
    for _ in range(500):
        log = [entry for entry in emulator.webhook_deliveries() if not entry["dropped"]]
        if sum(status in (None, entry["status"]) for entry in log) >= attempts:
            return log
        await _tick()
    pytest.fail(f"the emulator made fewer than {attempts} webhook attempts")


def _only_ok(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Successful attempts; the rest may only be 404s of a callback that beat
    the submit answer to the client (the job was not known yet: retried)."""
    assert {entry["status"] for entry in log} <= {200, 404}
    return [entry for entry in log if entry["status"] == 200]


def _keys(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(row_content_key(row) for row in rows)


@pytest.mark.parametrize(
    ("mode", "callbacks", "copies"),
    [
        ("in_order", DATA_CALLBACKS + 2, 1),
        ("shuffled", DATA_CALLBACKS + 2, 1),
        ("duplicated", 2 * (DATA_CALLBACKS + 2), 2),
    ],
)
@pytest.mark.parametrize("legacy", [False, True], ids=["data.scraped", "rows_added"])
@pytest_twisted.ensureDeferred
async def test_every_row_arrives_and_matches_paging_by_content_key(
    hasdata_emulator: HasDataEmulator,
    receiver: WebhookReceiver,
    inbox: Inbox,
    mode: str,
    callbacks: int,
    copies: int,
    legacy: bool,
) -> None:
    hasdata_emulator.configure(webhook_mode=mode, webhook_batch=BATCH, webhook_legacy=legacy)
    paged = await run_job(hasdata_emulator, inbox, receiver.url)
    log = await wait_for_deliveries(hasdata_emulator, callbacks, status=200)

    assert len(_only_ok(log)) == callbacks
    assert _keys(inbox.rows) == Counter(dict.fromkeys(_keys(paged), copies))
    assert inbox.finished == [str(job) for job in inbox.jobs] * copies
    assert receiver.counts["accepted"] == callbacks


@pytest_twisted.ensureDeferred
async def test_dropped_callbacks_leave_rows_only_paging_has(
    hasdata_emulator: HasDataEmulator, receiver: WebhookReceiver, inbox: Inbox
) -> None:
    hasdata_emulator.configure(webhook_mode="dropped", webhook_batch=BATCH)
    paged = await run_job(hasdata_emulator, inbox, receiver.url)
    delivered_data = math.ceil(DATA_CALLBACKS / 2)  # every second data callback is lost
    log = await wait_for_deliveries(hasdata_emulator, 1 + delivered_data, status=200)
    assert len(_only_ok(log)) == 1 + delivered_data

    got, expected = _keys(inbox.rows), _keys(paged)
    assert set(got) < set(expected)
    assert max(got.values()) == 1
    assert inbox.finished == []  # never told: the job is found finished by polling
    # Deduplicating webhook rows and paged rows by content key: each row once.
    merged = {row_content_key(row): row for row in inbox.rows + paged}
    assert len(merged) == ROWS


@pytest_twisted.ensureDeferred
async def test_wrong_secret_is_refused_on_every_retry(
    hasdata_emulator: HasDataEmulator, receiver: WebhookReceiver, inbox: Inbox
) -> None:
    hasdata_emulator.configure(webhook_batch=BATCH)
    await run_job(hasdata_emulator, inbox, receiver.url, secret="not-" + SECRET)
    every_attempt = 4 * (DATA_CALLBACKS + 2)  # the first try and 3 retries each
    log = await wait_for_deliveries(hasdata_emulator, every_attempt)

    assert {entry["status"] for entry in log} == {401}
    assert inbox.rows == [] and inbox.finished == []
    assert receiver.counts["unauthorized"] == every_attempt


@pytest_twisted.ensureDeferred
async def test_oversized_callbacks_are_refused_small_ones_pass(
    hasdata_emulator: HasDataEmulator, inbox: Inbox
) -> None:
    # Room for the started/finished notices, not for a batch of 10 rows.
    small = await _started(inbox, max_body=400)
    try:
        hasdata_emulator.configure(webhook_batch=10)
        await run_job(hasdata_emulator, inbox, small.url)
        data_callbacks = math.ceil(ROWS / 10)
        await wait_for_deliveries(hasdata_emulator, 4 * data_callbacks, status=413)
        log = await wait_for_deliveries(hasdata_emulator, 2, status=200)
    finally:
        stopped = small.stop()
        if stopped is not None:
            await stopped

    statuses = Counter((entry["event"], entry["status"]) for entry in log if entry["status"] != 404)
    assert statuses == {
        ("scraper.job.started", 200): 1,
        ("scraper.data.scraped", 413): 4 * data_callbacks,
        ("scraper.job.finished", 200): 1,
    }
    assert inbox.rows == []
    assert len(inbox.finished) == 1
