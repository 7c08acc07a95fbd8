"""Benchmark: CPU one HasData results-page call costs the crawl's thread.

One finished ``amazon-search`` job of 100 rows on the local HasData
emulator; the client reads its page of 100 rows N times, one call after
another, and the CPU time of the calling (reactor) thread is divided by N.
The emulator runs in its own thread, so its work is not counted.

    .venv/bin/python bench/hasdata_call_cpu.py [N] [--client-file PATH]

``--client-file`` loads another version of ``scrapy_wds/_hasdata/_client.py``
to compare, e.g. the one before the calls went through Scrapy's handler::

    git show c312358:scrapy_wds/_hasdata/_client.py > /tmp/old_client.py
    .venv/bin/python bench/hasdata_call_cpu.py 2000 --client-file /tmp/old_client.py

Loopback only; a few seconds.  Run each side several times, alternating:
on a shared machine single runs vary by 20 %.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import time
import urllib.request
from typing import Any

from scrapy.utils.reactor import install_reactor

install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")

import scrapy  # noqa: E402
from scrapy.utils.defer import deferred_from_coro  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402
from twisted.internet import reactor  # noqa: E402

from scrapy_wds.testing import HasDataEmulator  # noqa: E402

KEY = "hasdata-bench-key"
WARM_UP = 50


def finished_job(emulator: HasDataEmulator) -> str:
    """A job of 100 rows (20 keywords, 5 rows each), submitted and waited for."""

    def call(path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            emulator.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"x-api-key": KEY, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    job_id = str(
        call("/scrapers/amazon-search/jobs", {"keywords": [f"k{i}" for i in range(20)]})["id"]
    )
    while call(f"/scrapers/jobs/{job_id}")["status"] != "finished":
        time.sleep(0.05)
    return job_id


def client_class(path: str | None) -> Any:
    if path is None:
        from scrapy_wds._hasdata._client import HasDataClient

        return HasDataClient
    spec = importlib.util.spec_from_file_location("compared_client", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HasDataClient


async def measure(emulator: HasDataEmulator, job_id: str, client_cls: Any, calls: int) -> None:
    options: dict[str, Any] = {
        "api_url": emulator.url,
        "api_key": KEY,
        "timeout": 30,
        "retry_times": 0,
        "retry_delay": 0.1,
        "retry_max_delay": 1,
    }
    if "crawler" in inspect.signature(client_cls).parameters:
        options["crawler"] = get_crawler(scrapy.Spider)
    else:  # the client before Scrapy's handler
        options["reactor"] = reactor
    client = client_cls(**options)
    for _ in range(WARM_UP):
        page = await client.results(job_id, 1, 100)
    assert len(page.rows) == 100
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(calls):
        await client.results(job_id, 1, 100)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    await client.close()
    print(
        f"{calls} results calls of 100 rows: {cpu / calls * 1e6:.0f} us CPU per call "
        f"in the crawl's thread ({wall / calls * 1e3:.2f} ms wall)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("calls", nargs="?", type=int, default=1000)
    parser.add_argument("--client-file", help="another version of _hasdata/_client.py")
    args = parser.parse_args()
    with HasDataEmulator(api_key=KEY) as emulator:
        job_id = finished_job(emulator)
        done = deferred_from_coro(
            measure(emulator, job_id, client_class(args.client_file), args.calls)
        )
        done.addErrback(lambda failure: failure.printTraceback())
        done.addBoth(lambda _: reactor.stop())
        reactor.run()


if __name__ == "__main__":
    main()
