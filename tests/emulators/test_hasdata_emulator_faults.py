"""HasData emulator: injected faults, credits and the finished job's download links."""

from __future__ import annotations

import csv
import http.client
import io
import json
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest

from scrapy_wds.testing import HasDataEmulator
from scrapy_wds.testing._hasdata_client import call

JOB = "/scrapers/jobs/416349"


def submit(emu: HasDataEmulator, slug: str, body: dict[str, Any]) -> Any:
    return call(emu.url, "POST", f"/scrapers/{slug}/jobs", body)


def finished(emu: HasDataEmulator, job_id: Any) -> dict[str, Any]:
    for _ in range(500):
        record = call(emu.url, "GET", f"/scrapers/jobs/{job_id}").json()
        if record["status"] == "finished":
            return record
    raise AssertionError(f"job {job_id} never finished")


def download(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as response:  # no x-api-key: links are presigned
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- faults --------------------------------------------------------------------------


def test_burst_429_counts_down_then_answers_normally(hasdata_emulator):
    hasdata_emulator.configure(burst_429=2)
    answers = [call(hasdata_emulator.url, "GET", JOB) for _ in range(3)]
    assert [a.status for a in answers] == [429, 429, 404]
    assert "retry" in answers[0].text
    assert hasdata_emulator.switches()["burst_429"] == 0


def test_burst_429_comes_before_the_key_check(hasdata_emulator):
    hasdata_emulator.configure(burst_429=1)
    assert call(hasdata_emulator.url, "GET", JOB, key="bad").status == 429
    assert call(hasdata_emulator.url, "GET", JOB, key="bad").status == 401


def test_error_rate_answers_5xx_with_a_text_reason(hasdata_emulator):
    hasdata_emulator.configure(error_rate=1.0)
    answers = [call(hasdata_emulator.url, "GET", JOB) for _ in range(10)]
    assert all(500 <= a.status < 600 and a.text.strip() for a in answers)
    assert "Traceback" not in answers[0].text


def test_drop_rate_drops_the_connection(hasdata_emulator):
    hasdata_emulator.configure(drop_rate=1.0)
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        call(hasdata_emulator.url, "GET", JOB)
    assert hasdata_emulator.calls()[-1]["dropped"] is True


def test_malformed_rate_answers_200_with_broken_json(hasdata_emulator, demo_site):
    hasdata_emulator.configure(malformed_rate=1.0)
    answer = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})
    assert answer.status == 200
    with pytest.raises(ValueError):
        answer.json()
    hasdata_emulator.configure(malformed_rate=0.0)
    # the job behind the broken answer exists: a client must not blindly resubmit
    assert call(hasdata_emulator.url, "GET", JOB).json()["id"] == 416349


def test_fault_draws_repeat_after_reset(hasdata_emulator):
    hasdata_emulator.configure(error_rate=0.5, seed=7)
    hasdata_emulator.reset()
    first = [call(hasdata_emulator.url, "GET", JOB).status for _ in range(20)]
    hasdata_emulator.reset()
    again = [call(hasdata_emulator.url, "GET", JOB).status for _ in range(20)]
    assert first == again
    assert 404 in first and any(s >= 500 for s in first)


def test_the_seed_chooses_the_draws(hasdata_emulator):
    def statuses(seed: int) -> list[int]:
        hasdata_emulator.configure(error_rate=0.5, seed=seed)
        hasdata_emulator.reset()
        return [call(hasdata_emulator.url, "GET", JOB).status for _ in range(30)]

    assert statuses(1) != statuses(2)


def test_switches_can_be_set_over_http(hasdata_emulator):
    request = urllib.request.Request(
        hasdata_emulator.url + "/__emulator__/config",
        method="POST",
        data=json.dumps({"credits": 0, "burst_429": 1}).encode(),
    )
    with urllib.request.urlopen(request) as response:
        switches = json.loads(response.read())
    assert switches["credits"] == 0 and switches["burst_429"] == 1
    assert switches["api_key"] == "hasdata-test-key" and switches["webhook_mode"] == "in_order"
    assert call(hasdata_emulator.url, "POST", "/scrapers/yelp/jobs", {}).status == 429
    assert call(hasdata_emulator.url, "POST", "/scrapers/yelp/jobs", {}).status == 403


def test_a_switch_value_out_of_its_choices_is_refused(hasdata_emulator):
    with pytest.raises(ValueError, match="webhook_mode"):
        hasdata_emulator.configure(webhook_mode="sometimes")
    with pytest.raises(ValueError, match="id_style"):
        HasDataEmulator(id_style="hex")
    request = urllib.request.Request(
        hasdata_emulator.url + "/__emulator__/config",
        method="POST",
        data=json.dumps({"id_style": "hex"}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400 and b"id_style" in refused.value.read()
    assert hasdata_emulator.id_style == "int"


def test_admin_endpoints_and_downloads_are_never_faulted(hasdata_emulator, demo_site):
    job_id = submit(
        hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]}
    ).json()["id"]
    links = finished(hasdata_emulator, job_id)["data"]
    hasdata_emulator.configure(error_rate=1.0, burst_429=0)
    for path in ("calls", "config", "jobs", "webhooks"):
        with urllib.request.urlopen(f"{hasdata_emulator.url}/__emulator__/{path}") as response:
            assert response.status == 200
    assert download(links["json"])[0] == 200


# -- credits ---------------------------------------------------------------------------


def test_no_credits_means_403_on_submit(hasdata_emulator, demo_site):
    hasdata_emulator.configure(credits=0)
    answer = submit(hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]})
    assert answer.status == 403 and "credits" in answer.text


def test_a_job_spends_one_credit_per_row_and_stops_when_they_run_out(hasdata_emulator, demo_site):
    hasdata_emulator.configure(credits=5)
    job_id = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"]}).json()["id"]
    record = finished(hasdata_emulator, job_id)
    assert record["dataRowsCount"] == record["creditsSpent"] == 5
    assert hasdata_emulator.credits == 0
    rows = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}/results").json()["data"]
    assert len(rows) == 5
    again = submit(hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"]})
    assert again.status == 403


def test_credits_left_are_spent_exactly(hasdata_emulator, demo_site):
    hasdata_emulator.configure(credits=10)
    job_id = submit(
        hasdata_emulator, "crawler", {"urls": [demo_site.url + "/"], "limit": 4}
    ).json()["id"]
    assert finished(hasdata_emulator, job_id)["creditsSpent"] == 4
    assert hasdata_emulator.switches()["credits"] == 6


# -- download links ---------------------------------------------------------------------


@pytest.fixture
def finished_contacts_job(hasdata_emulator, demo_site) -> dict[str, Any]:
    urls = [demo_site.url + "/contact.html", demo_site.url + "/about/team.html"]
    job_id = submit(hasdata_emulator, "contacts", {"urls": urls}).json()["id"]
    record = finished(hasdata_emulator, job_id)
    paged = call(hasdata_emulator.url, "GET", f"/scrapers/jobs/{job_id}/results").json()["data"]
    record["rows"] = [item["data"] for item in paged]
    return record


def test_json_link_is_a_bare_array_of_the_rows(finished_contacts_job):
    status, body = download(finished_contacts_job["data"]["json"])
    assert status == 200 and json.loads(body) == finished_contacts_job["rows"]


def test_csv_link_is_real_csv(finished_contacts_job):
    status, body = download(finished_contacts_job["data"]["csv"])
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert status == 200 and len(rows) == 2
    expected = finished_contacts_job["rows"]
    assert [r["url"] for r in rows] == [r["url"] for r in expected]
    assert json.loads(rows[0]["emails"]) == expected[0]["emails"]


def test_xlsx_link_is_a_workbook_with_the_cells(finished_contacts_job):
    status, body = download(finished_contacts_job["data"]["xlsx"])
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert "xl/workbook.xml" in book.namelist()
    assert all(row["url"] in sheet for row in finished_contacts_job["rows"])


def test_links_work_a_limited_number_of_times(hasdata_emulator, demo_site):
    hasdata_emulator.configure(link_uses=1)
    job_id = submit(
        hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]}
    ).json()["id"]
    links = finished(hasdata_emulator, job_id)["data"]
    assert download(links["json"])[0] == 200
    status, body = download(links["json"])
    assert status == 410 and b"/results" in body
    assert download(links["csv"])[0] == 200  # each link counts its own uses


def test_links_expire(hasdata_emulator, demo_site):
    hasdata_emulator.configure(link_ttl=0.0)
    job_id = submit(
        hasdata_emulator, "contacts", {"urls": [demo_site.url + "/contact.html"]}
    ).json()["id"]
    links = finished(hasdata_emulator, job_id)["data"]
    assert {download(url)[0] for url in links.values()} == {410}


def test_unknown_download_is_404(hasdata_emulator):
    assert download(f"{hasdata_emulator.url}/downloads/nope/job-1.json")[0] == 404
