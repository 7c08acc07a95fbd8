"""Spiders and response builders shared by the spider-side tests."""

from __future__ import annotations

import json
from typing import Any

import scrapy
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from scrapy_wds import JobConfig, WdsSpiderMixin, WdsTask

API_URL = "http://wds.test/base/path"


class Book(scrapy.Item):
    url = scrapy.Field()
    title = scrapy.Field()
    price = scrapy.Field()


class DemoSpider(WdsSpiderMixin, scrapy.Spider):
    name = "demo"
    wds_job = JobConfig(start_urls=["http://site.test/"])

    def parse(self, response: Any, **kwargs: Any) -> Any:
        yield {"parsed": self.wds_task(response).url, **kwargs}

    def parse_detail(self, response: Any, **kwargs: Any) -> Any:
        task = self.wds_task(response)
        yield {"detail": task.url, "state": task.state.name if task.state else None, **kwargs}

    def got_values(self, response: Any) -> Any:
        yield {"values": self.wds_values(response)}

    def on_failure(self, failure: Any) -> Any:
        yield {"failed": type(failure.value).__name__}


def make_spider(spider_class: type[scrapy.Spider] = DemoSpider, **settings: Any) -> Any:
    crawler = get_crawler(spider_class, {"WDS_API_URL": API_URL, **settings})
    spider = spider_class.from_crawler(crawler)
    crawler.spider = spider
    return spider


def answer(request: Request, body: Any, *, raw: bytes | None = None) -> TextResponse:
    """A 200 answer to ``request`` with ``body`` as JSON (or ``raw`` bytes)."""
    data = raw if raw is not None else json.dumps(body).encode()
    return TextResponse(url=request.url, body=data, encoding="utf-8", request=request)


def follow_up(
    spider: Any,
    task_id: str = "t1",
    url: str = "http://site.test/page.html",
    callback: str = "parse",
    status: Any = None,
) -> TextResponse:
    """The info answer a follow-up callback receives for one task."""
    request = spider._wds_api.info(
        WdsTask("demo", task_id, url),
        wds={"callback": callback, "follow_up": True},
        callback=spider._wds_on_answer,
        errback=spider._wds_on_error,
    )
    body = (
        status
        if status is not None
        else {
            "TaskState": "Handled",
            "Result": {"Url": url, "HttpStatusCode": 200, "IsSuccess": True},
        }
    )
    return answer(request, body)
