"""Runs one benchmark crawl in this process and prints its stats as one JSON line.

Usage: python _run_crawl.py SPIDER_MODULE:CLASS KEY=VALUE...  (the settings;
KEY=@PATH reads the value from a file, for values too long for a command line)
Run by the benchmark scripts in a fresh process, so each crawl gets its own
reactor; peak memory of the process is added as ``bench/max_rss_kib``, and
the CPU time it used (user + system) as ``bench/cpu_s``, and the part of it
spent from the spider's opening to its closing as ``bench/crawl_cpu_s``.
With BENCH_TRACEMALLOC=1, Python allocations are traced too (slower) and
the crawl's peak and final traced sizes are added as ``bench/traced_*_kib``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.utils.misc import load_object


def peak_rss_kib() -> int:
    """This process's peak RSS.  ``VmHWM`` where Linux has it: ``ru_maxrss``
    carries over from the parent through fork and exec, so a crawl started by
    a benchmark holding big emulator jobs would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> None:
    spider_path, *pairs = argv
    settings = dict(pair.split("=", 1) for pair in pairs)
    for key, value in settings.items():
        if value.startswith("@"):
            settings[key] = Path(value[1:]).read_text()
    trace = settings.pop("BENCH_TRACEMALLOC", "") == "1"
    for key in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "ADDONS"):
        if key in settings:
            settings[key] = json.loads(settings[key])
    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "ADDONS": {"scrapy_wds.Addon": 300},
            **settings,
        }
    )
    crawler = process.create_crawler(load_object(spider_path.replace(":", ".")))
    # CPU time from the spider's opening to its closing, start-up excluded.
    cpu_marks: list[float] = []
    for signal in (signals.spider_opened, signals.spider_closed):
        crawler.signals.connect(lambda: cpu_marks.append(time.process_time()), signal, weak=False)
    process.crawl(crawler)
    if trace:
        tracemalloc.start()
    process.start()
    assert crawler.stats is not None
    stats = dict(crawler.stats.get_stats())
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        stats["bench/traced_peak_kib"] = peak // 1024
        stats["bench/traced_end_kib"] = current // 1024
    stats["bench/max_rss_kib"] = peak_rss_kib()
    stats["bench/cpu_s"] = round(time.process_time(), 2)
    if len(cpu_marks) == 2:
        stats["bench/crawl_cpu_s"] = round(cpu_marks[1] - cpu_marks[0], 3)
    print(json.dumps(stats, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
