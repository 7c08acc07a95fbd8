"""HasData Scraper Jobs in Scrapy: submit jobs, stream their rows into item pipelines.

The pieces, in the order data flows through them:

* :mod:`._job` — what a job declaration looks like (:class:`HasDataJob`) and
  how it is checked;
* :mod:`._client` — the HTTP calls to the HasData API, with retries;
* :mod:`._state` — the file that remembers job ids and delivery progress;
* :mod:`._shared_state` — the same records in redis, claimed by one scrapy-redis worker at a time;
* :mod:`._workers` — claiming, watching and heartbeating those records for the extension;
* :mod:`._rows` — result pages and files → rows → items;
* :mod:`._row_ledger` — which rows were delivered (ids, content keys);
* :mod:`._delivery` — new rows → the item pipelines or the job's callback;
* :mod:`._webhook_bridge` — webhook rows and "finished" events → the job's runner;
* :mod:`._extension` — the Scrapy extension that runs it all.
"""

from __future__ import annotations

import os

from scrapy.settings import BaseSettings

from scrapy_wds._hasdata._job import HasDataJob

EXTENSION_ORDER = 500


def configure_addon(settings: BaseSettings) -> None:
    """Enable the HasData extension when a key is configured; fill gaps only.

    The key may be a setting or the ``HASDATA_API_KEY`` environment variable.
    A user who already lists the extension (with any order, or ``None`` to
    disable it) keeps their choice.
    """
    if not (settings.get("HASDATA_API_KEY") or os.environ.get("HASDATA_API_KEY")):
        return
    from scrapy_wds._hasdata._extension import HasDataExtension

    settings.setdefault_in_component_priority_dict("EXTENSIONS", HasDataExtension, EXTENSION_ORDER)


__all__ = ["HasDataJob", "configure_addon"]
