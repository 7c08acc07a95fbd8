"""The sequential recipe HasData's own docs show, as a baseline: submit, poll, page one by one.

Usage: python _hasdata_recipe.py API_URL API_KEY JOBS_FILE OUT_FILE POLL_SECONDS
Runs the job in ``JOBS_FILE`` (one job, as in HASDATA_JOBS) with ``requests``:
one session, status polls every POLL_SECONDS until the job ends, then
``/results`` pages of 100 rows one after another, each row unwrapped and
handed on: written to OUT_FILE as a JSON line, or (OUT_FILE ``-``) only
counted, as the package's rows reach item pipelines that keep nothing.  Prints one JSON line: rows, seconds (submit to
last row), peak RSS of the process.
"""

from __future__ import annotations

import json
import sys
import time

import requests
from _run_crawl import peak_rss_kib


def main(api_url: str, key: str, jobs_file: str, out: str, poll: float) -> None:
    with open(jobs_file, encoding="utf-8") as handle:
        (job,) = json.load(handle)
    session = requests.Session()
    session.headers["x-api-key"] = key
    started = time.monotonic()
    job_id = session.post(f"{api_url}/scrapers/{job['scraper']}/jobs", json=job["input"]).json()[
        "id"
    ]
    while session.get(f"{api_url}/scrapers/jobs/{job_id}").json()["status"] not in (
        "finished",
        "stopped",
    ):
        time.sleep(poll)
    rows = 0
    page = 1
    with open(out if out != "-" else "/dev/null", "w", encoding="utf-8") as handle:
        write = handle.write if out != "-" else None
        while True:
            body = session.get(
                f"{api_url}/scrapers/jobs/{job_id}/results", params={"page": page, "limit": 100}
            ).json()
            for entry in body["data"]:
                row = entry["data"]
                if write is not None:
                    write(json.dumps(row) + "\n")
                rows += 1
            if page >= int(body["meta"]["lastPage"]):
                break
            page += 1
    seconds = time.monotonic() - started
    cpu = time.process_time()
    peak = peak_rss_kib()
    print(json.dumps({"rows": rows, "seconds": seconds, "cpu_s": cpu, "max_rss_kib": peak}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
