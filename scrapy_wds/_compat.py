"""The only place that touches Scrapy internals, each in one small function.

Scrapy (2.14–2.19) has no public way to ask "has the engine begun closing?",
to wake the engine's loop now rather than at its 5 s heartbeat, or to make a
batch of items count as one item in progress so that a close waits for it,
nor to give its HTTP/1.1 download handler settings and signals other than
the crawl's.
Each function below reads or writes exactly one private attribute, with no
``getattr`` guard: when Scrapy renames one, the call raises instead of
silently misbehaving, and ``tests/packaging/test_compat.py`` (run on the
oldest and the newest supported Scrapy) fails first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from scrapy.settings import BaseSettings, Settings
from scrapy.signalmanager import SignalManager

if TYPE_CHECKING:
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
    from scrapy.core.engine import ExecutionEngine
    from scrapy.core.scraper import Scraper
    from scrapy.crawler import Crawler


def engine_is_closing(engine: ExecutionEngine) -> bool:
    """Whether the engine has stopped or begun closing its spider.

    A closing engine may already have closed its scheduler, so a request
    handed to ``engine.crawl()`` then could be kept in memory only.
    """
    slot = engine._slot
    return not engine.running or slot is None or slot.closing is not None


def wake_engine(engine: ExecutionEngine) -> None:
    """Run the engine's loop soon (it would otherwise wait for its heartbeat).

    The loop is where the engine asks ``spider_idle`` again, so an extension
    that just finished its last piece of work calls this to let the crawl end
    promptly.
    """
    slot = engine._slot
    if slot is not None:
        slot.nextcall.schedule()


@contextmanager
def one_item_in_progress(scraper: Scraper) -> Iterator[None]:
    """Count the ``with`` block as one item in the item pipelines.

    ``scraper.start_itemproc_async()`` counts each item it runs, so a close
    waits for that item; wrapping a batch in this makes a close wait for the
    whole batch.  On the way out the pending close (if any) is re-checked,
    which the scraper itself does only after a response, never an item.
    """
    slot = scraper.slot
    assert slot is not None, "the scraper has no slot: the spider is not open"
    slot.itemproc_size += 1
    try:
        yield
    finally:
        slot.itemproc_size -= 1
        if slot.closing is not None:
            scraper._check_if_closing()


def remove_torn_request_queues(settings: BaseSettings) -> list[Path]:
    """Remove JOBDIR request-queue files a killed crawl left too short to open.

    Scrapy's default disk queue (queuelib's ``LifoDiskQueue``, one file per
    download slot and priority under ``JOBDIR/requests.queue``) writes a
    4-byte size header into a new file through a buffer; a ``kill -9`` before
    that buffer is flushed leaves an empty file, and the resumed crawl fails
    on its first push to that queue (``struct.error``).  Such a file holds
    nothing readable, and the WDS ledger re-sends what the crawl owed, so it
    is removed.  Other disk queue classes are left alone.
    """
    from queuelib.queue import LifoDiskQueue
    from scrapy.utils.misc import load_object

    jobdir = settings.get("JOBDIR")
    queue_class = load_object(settings.get("SCHEDULER_DISK_QUEUE"))
    if not jobdir or not (isinstance(queue_class, type) and issubclass(queue_class, LifoDiskQueue)):
        return []
    root = Path(jobdir) / "requests.queue"
    torn = [
        path
        for path in (root.rglob("*") if root.is_dir() else [])
        if path.is_file()
        and path.suffix != ".json"
        and path.stat().st_size < LifoDiskQueue.SIZE_SIZE
    ]
    for path in torn:
        path.unlink()
    return torn


class _HandlerCrawler:
    """What Scrapy's HTTP/1.1 download handler reads from its crawler, and no more.

    The handler (2.18–2.19) reads the crawler's ``settings``, its ``spider``
    (for deprecated size attributes) and its ``signals``: it sends
    ``headers_received`` and ``bytes_received`` with each request.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spider = None
        self.signals = SignalManager(self)


def own_http11_handler(crawler: Crawler, **overrides: Any) -> HTTP11DownloadHandler:
    """Scrapy's HTTP/1.1 download handler for requests that are not the crawl's own.

    The handler gets the crawl's settings with ``overrides`` on top, no
    spider, and signals of its own: the crawl's ``headers_received`` and
    ``bytes_received`` handlers never see these requests (nor their headers),
    and cannot stop them.  Scrapy documents the handler's constructor with a
    crawler only; when the handler starts reading something else from it,
    this stand-in lacks it and ``tests/hasdata/extension/test_hasdata_transport.py``
    (run on the oldest and the newest supported Scrapy) fails: it checks the
    signals stay private and the overrides (certificate checks) apply.
    """
    # Imported here: a crawl imports it anyway, ``import scrapy_wds`` need not.
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

    settings = Settings(crawler.settings)  # a new layer; the crawl's settings stay as they are
    settings.setdict(overrides, priority="cmdline")  # the highest: they win whoever set them
    return HTTP11DownloadHandler.from_crawler(cast("Crawler", _HandlerCrawler(settings)))
