"""A WDS spider whose job has one start URL per task, read from the file named by BENCH_START_URLS.

Each start task's follow-up (its info call) waits out the emulator's 202s and
then reaches ``parse``, which counts it: the tasks completed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy

from scrapy_wds import JobConfig, WdsSpiderMixin


class ManyTasksSpider(WdsSpiderMixin, scrapy.Spider):
    name = "many_tasks"

    def wds_job_config(self) -> JobConfig:
        urls = Path(self.settings["BENCH_START_URLS"]).read_text().split()
        return JobConfig(start_urls=urls, type="Intranet")

    def parse(self, response: Any) -> None:
        self.crawler.stats.inc_value("bench/tasks_completed")
