"""HasData emulator webhooks: every delivery mode against a real local receiver."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from scrapy_wds.testing import DemoSite, HasDataEmulator
from scrapy_wds.testing._hasdata_client import call
from scrapy_wds.testing._server import EmulatorServer, json_body, text_error

STARTED, DATA, FINISHED = "scraper.job.started", "scraper.data.scraped", "scraper.job.finished"
SECRET = {"X-Hook-Secret": "s3cret"}


class Receiver(EmulatorServer):
    """Records every callback POSTed to ``/hook``; fails the first ``fail_first``."""

    switch_names = ("fail_first",)

    def __init__(self) -> None:
        super().__init__()
        self.fail_first = 0
        self.posts: list[dict[str, Any]] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._hook)

    def reset_state(self) -> None:
        self.posts = []
        self.fail_first = 0

    async def _hook(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return text_error(500, "receiver down")
        self.posts.append({"headers": dict(request.headers), "json": await request.json()})
        return json_body({"ok": True})

    def events(self) -> list[str]:
        return [post["json"]["event"] for post in self.posts]


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Iterator[Receiver]:
    _receiver_server.reset()
    yield _receiver_server
    _receiver_server.reset()


def wait_for(condition: Callable[[], bool], checks: int = 500) -> None:
    for _ in range(checks):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition never met")


def contact_urls(site: DemoSite) -> list[str]:
    return [site.url + "/contact.html", site.url + "/about/team.html"] + [
        f"{site.url}/catalogue/category/{cat}/contact.html"
        for cat in ("travel", "mystery", "poetry", "philosophy")
    ]  # 6 pages → batches of 4 are 4 + 2


def run_hooked_job(
    emu: HasDataEmulator, site: DemoSite, receiver: Receiver, **webhook: Any
) -> tuple[Any, list[dict[str, Any]]]:
    hook = {"url": receiver.url + "/hook", "headers": SECRET, **webhook}
    answer = call(
        emu.url, "POST", "/scrapers/contacts/jobs", {"urls": contact_urls(site), "webhook": hook}
    )
    assert answer.status == 200, answer.text
    job_id = answer.json()["id"]
    wait_for(
        lambda: call(emu.url, "GET", f"/scrapers/jobs/{job_id}").json()["status"] == "finished"
    )
    paged = call(emu.url, "GET", f"/scrapers/jobs/{job_id}/results").json()["data"]
    return job_id, [item["data"] for item in paged]


def hook_rows(posts: list[dict[str, Any]], key: str = "data") -> list[dict[str, Any]]:
    return [row for post in posts if key in post["json"] for row in post["json"][key]]


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


def test_in_order_delivers_every_callback_once_with_the_headers(
    hasdata_emulator, demo_site, receiver
):
    hasdata_emulator.configure(webhook_batch=4)
    job_id, rows = run_hooked_job(hasdata_emulator, demo_site, receiver)
    wait_for(lambda: len(receiver.posts) == 4)
    assert receiver.events() == [STARTED, DATA, DATA, FINISHED]
    assert all(p["headers"]["X-Hook-Secret"] == "s3cret" for p in receiver.posts)
    payloads = [p["json"] for p in receiver.posts]
    assert all(p["jobId"] == job_id and p["timestamp"].endswith("Z") for p in payloads)
    assert [p["jobStatus"] for p in payloads] == ["in_progress"] * 3 + ["finished"]
    assert [len(p["data"]) for p in payloads[1:3]] == [4, 2]
    assert [p["dataRowsCount"] for p in payloads[1:]] == [4, 6, 6]
    assert [p["creditsSpent"] for p in payloads[1:]] == [4, 6, 6]
    assert "data" not in payloads[3]
    assert hook_rows(receiver.posts) == rows  # bare rows, no wrapper


def test_duplicated_sends_every_callback_twice(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(webhook_batch=4, webhook_mode="duplicated")
    run_hooked_job(hasdata_emulator, demo_site, receiver)
    wait_for(lambda: len(receiver.posts) == 8)
    assert receiver.events() == [STARTED, STARTED, DATA, DATA, DATA, DATA, FINISHED, FINISHED]
    payloads = [p["json"] for p in receiver.posts]
    assert payloads[0::2] == payloads[1::2]


def test_shuffled_sends_everything_once_out_of_order(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(webhook_batch=1, webhook_mode="shuffled")
    _, rows = run_hooked_job(hasdata_emulator, demo_site, receiver)
    wait_for(lambda: len(receiver.posts) == 8)
    assert Counter(receiver.events()) == {STARTED: 1, DATA: 6, FINISHED: 1}
    assert canonical(hook_rows(receiver.posts)) == canonical(rows)
    assert receiver.events() != [STARTED] + [DATA] * 6 + [FINISHED]
    assert hook_rows(receiver.posts) != rows


def test_dropped_never_sends_every_second_batch_nor_finished(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(webhook_batch=2, webhook_mode="dropped")
    job_id, rows = run_hooked_job(hasdata_emulator, demo_site, receiver)
    wait_for(lambda: sum(1 for d in hasdata_emulator.webhook_deliveries() if d["dropped"]) == 2)
    time.sleep(0.1)  # nothing else is on its way; give a stray callback the chance to show
    assert receiver.events() == [STARTED, DATA, DATA]
    assert hook_rows(receiver.posts) == rows[0:2] + rows[4:6]
    dropped = [d for d in hasdata_emulator.webhook_deliveries() if d["dropped"]]
    assert [d["event"] for d in dropped] == [DATA, FINISHED]
    assert all(d["jobId"] == job_id for d in dropped)


def test_legacy_form_sends_rows_added_with_data_rows(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(webhook_batch=10, webhook_legacy=True)
    _, rows = run_hooked_job(hasdata_emulator, demo_site, receiver)
    wait_for(lambda: len(receiver.posts) == 3)
    assert receiver.events() == [STARTED, "scraper.data.rows_added", FINISHED]
    assert hook_rows(receiver.posts, "dataRows") == rows
    assert "data" not in receiver.posts[1]["json"]


def test_only_the_requested_events_are_sent(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(webhook_batch=4)
    run_hooked_job(hasdata_emulator, demo_site, receiver, events=[FINISHED])
    wait_for(lambda: len(receiver.posts) == 1)
    time.sleep(0.1)
    assert receiver.events() == [FINISHED]


def test_a_failing_receiver_gets_three_retries(hasdata_emulator, demo_site, receiver):
    receiver.configure(fail_first=2)
    run_hooked_job(hasdata_emulator, demo_site, receiver, events=[STARTED])
    wait_for(lambda: len(hasdata_emulator.webhook_deliveries()) == 3)
    assert len(receiver.posts) == 1
    attempts = [(d["attempt"], d["status"]) for d in hasdata_emulator.webhook_deliveries()]
    assert attempts == [(1, 500), (2, 500), (3, 200)]


def test_a_receiver_that_never_answers_2xx_gets_four_attempts(
    hasdata_emulator, demo_site, receiver
):
    receiver.configure(fail_first=100)
    run_hooked_job(hasdata_emulator, demo_site, receiver, events=[FINISHED])
    wait_for(lambda: len(hasdata_emulator.webhook_deliveries()) == 4)
    time.sleep(0.3)
    log = hasdata_emulator.webhook_deliveries()
    assert [(d["attempt"], d["status"]) for d in log] == [(n, 500) for n in (1, 2, 3, 4)]
    assert receiver.posts == []


def test_deliveries_are_listed_by_the_admin_endpoint(hasdata_emulator, demo_site, receiver):
    run_hooked_job(hasdata_emulator, demo_site, receiver, events=[STARTED])
    wait_for(lambda: len(hasdata_emulator.webhook_deliveries()) == 1)
    with urllib.request.urlopen(hasdata_emulator.url + "/__emulator__/webhooks") as response:
        log = json.loads(response.read())
    assert [(d["event"], d["status"], d["url"]) for d in log] == [
        (STARTED, 200, receiver.url + "/hook")
    ]


def test_stopped_job_sends_its_rows_then_finished_with_stopped(
    hasdata_emulator, demo_site, receiver
):
    hasdata_emulator.configure(job_polls=100, webhook_batch=50)
    hook = {"url": receiver.url + "/hook"}
    job_id = call(
        hasdata_emulator.url,
        "POST",
        "/scrapers/contacts/jobs",
        {"urls": contact_urls(demo_site), "webhook": hook},
    ).json()["id"]
    record = call(hasdata_emulator.url, "DELETE", f"/scrapers/jobs/{job_id}").json()
    wait_for(lambda: FINISHED in receiver.events())
    finished = receiver.posts[-1]["json"]
    assert finished["jobStatus"] == "stopped"
    assert len(hook_rows(receiver.posts)) == record["dataRowsCount"]


def test_a_timed_job_calls_back_without_being_polled(hasdata_emulator, demo_site, receiver):
    hasdata_emulator.configure(job_seconds=0.3, webhook_batch=2)
    hook = {"url": receiver.url + "/hook"}
    call(
        hasdata_emulator.url,
        "POST",
        "/scrapers/contacts/jobs",
        {"urls": contact_urls(demo_site), "webhook": hook},
    )
    wait_for(lambda: FINISHED in receiver.events())
    assert receiver.events() == [STARTED, DATA, DATA, DATA, FINISHED]
    [job] = json.loads(urllib.request.urlopen(hasdata_emulator.url + "/__emulator__/jobs").read())
    assert job["status"] == "finished" and job["emulator"]["pollsSeen"] == 0
    assert not any(c["path"].startswith("/scrapers/jobs/") for c in hasdata_emulator.calls())
