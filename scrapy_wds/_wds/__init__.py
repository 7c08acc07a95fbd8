"""WDS (Web Data Source) in Scrapy: the downloader side and the add-on hook."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from scrapy_wds._wds._ledger_pipeline import PIPELINE_ORDER, WdsLedgerPipeline
from scrapy_wds._wds._middleware import WdsDownloaderMiddleware
from scrapy_wds._wds._settings import DEFAULTS

MIDDLEWARE_PATH = "scrapy_wds._wds._middleware.WdsDownloaderMiddleware"
#: After HttpCompression (590) decodes answers, before RetryMiddleware (550).
MIDDLEWARE_PRIORITY = 560
#: The add-on's CONCURRENT_ITEMS (Scrapy's is 100); a project's own value wins.
WDS_CONCURRENT_ITEMS = 8


def configure_addon(settings: BaseSettings) -> None:
    """Fill the gaps WDS needs in ``settings``; nothing at all without ``WDS_API_URL``."""
    if not settings.get("WDS_API_URL"):
        return
    for name, value in DEFAULTS.items():
        # "addon" priority sits below the project's own: a user's value wins.
        settings.set(name, value, priority="addon")
    _give_the_api_its_own_slot(settings)
    # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response, however
    # little it yields; a WDS answer yields one item or a few requests, and at
    # Scrapy's 100 those tasks cost about a fifth of a WDS crawl's CPU.
    settings.set("CONCURRENT_ITEMS", WDS_CONCURRENT_ITEMS, priority="addon")
    # Like the HasData half: Scrapy's own gap filler, which also recognises the
    # component when the user listed it by import path (with any order, or None).
    settings.setdefault_in_component_priority_dict(
        "DOWNLOADER_MIDDLEWARES", WdsDownloaderMiddleware, MIDDLEWARE_PRIORITY
    )
    # Last of the item pipelines: an item stored settles its WDS answer at once.
    settings.setdefault_in_component_priority_dict(
        "ITEM_PIPELINES", WdsLedgerPipeline, PIPELINE_ORDER
    )


def _give_the_api_its_own_slot(settings: BaseSettings) -> None:
    """No DOWNLOAD_DELAY and the crawl's whole concurrency for calls to the API.

    Every WDS call goes to one host, so a project's per-domain politeness
    (Scrapy's project template sets ``DOWNLOAD_DELAY = 1`` and one request
    per domain) would pace the whole crawl at one call a second.  Politeness
    towards the crawled site is WDS's job (``JobConfig.crawl_delays``).  A
    ``DOWNLOAD_SLOTS`` entry the user wrote for the API host is left alone.
    """
    try:
        host = urlsplit(str(settings.get("WDS_API_URL"))).hostname
        concurrency = int(settings.get("CONCURRENT_REQUESTS"))
    except (TypeError, ValueError):
        return  # a bad value: reported, naming the setting, when the spider opens
    slots = settings.get("DOWNLOAD_SLOTS") or {}
    if not isinstance(slots, (dict, BaseSettings)):
        return
    slots = dict(slots)
    if not host or host in slots or concurrency < 1:
        return
    slots[host] = {"delay": 0, "concurrency": concurrency}
    priority = max(settings.getpriority("DOWNLOAD_SLOTS") or 0, SETTINGS_PRIORITIES["addon"])
    settings.set("DOWNLOAD_SLOTS", slots, priority=priority)
