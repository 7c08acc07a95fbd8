"""Test-only extension: a scrapy-redis worker stays open while any worker is still busy.

With a shared scheduler, a worker whose own share is done sees an empty redis
queue and closes, although polls parked in *another* worker's WDS waiting
room will soon come back through that queue. (The worker that does not win
the "start job" request, which the shared dupefilter lets through once, would
even close before the job has answered.) So every worker stamps a shared
redis key with the time of each answer it gets, and on ``spider_idle`` stays
open until no worker has had an answer for ``WORKER_LINGER_SECONDS``.
"""

from __future__ import annotations

import time

import redis
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured


class WorkerLinger:
    def __init__(self, crawler: Crawler, client: redis.Redis, key: str, linger: float) -> None:
        self.client = client
        self.key = key
        self.linger = linger
        crawler.signals.connect(self.stamp, signal=signals.spider_opened)
        crawler.signals.connect(self.stamp, signal=signals.response_received)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerLinger:
        linger = crawler.settings.getfloat("WORKER_LINGER_SECONDS")
        if linger <= 0:
            raise NotConfigured("WORKER_LINGER_SECONDS is not set")
        client = redis.Redis.from_url(crawler.settings["REDIS_URL"])
        return cls(crawler, client, f"{crawler.settings['BOT_NAME']}:last-answer", linger)

    def stamp(self, **_: object) -> None:
        self.client.set(self.key, repr(time.time()))

    def spider_idle(self, spider: Spider) -> None:
        last = float(self.client.get(self.key) or 0)
        if time.time() - last < self.linger:
            raise DontCloseSpider
