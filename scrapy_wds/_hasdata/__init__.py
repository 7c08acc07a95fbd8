"""HasData Scraper Jobs in Scrapy: submit jobs, stream their rows into item pipelines.

Data flows one way: extension → runner → client and ledger.

* :mod:`._settings` — every ``HASDATA_*`` setting, one table;
* :mod:`._job` — what a job declaration looks like (:class:`HasDataJob`) and
  how it is checked;
* :mod:`._extension` — the Scrapy extension: declares the jobs, starts a
  runner per job, keeps the spider open, chooses the close reason;
* :mod:`._runner` — one job's life: submit, poll, drain, reconcile;
* :mod:`._client` — the calls of the HasData API, with retries, on
  :mod:`._transport` (Scrapy's HTTP/1.1 download handler and proxy choice);
* :mod:`._rows` — result pages and files → rows → items;
* :mod:`._ledger` — which rows were delivered (row positions, content keys);
* :mod:`._delivery` — new rows → the item pipelines or the job's callback;
* :mod:`._state` / :mod:`._shared_state` — job records and ledgers in a file,
  or in redis shared by scrapy-redis workers (:mod:`._workers`);
* :mod:`._spending` — the crawl's credit cap;
* :mod:`._webhook_bridge` / :mod:`._webhooks` — the optional webhook receiver.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from scrapy_wds._hasdata._job import HasDataJob
from scrapy_wds._hasdata._settings import DEFAULTS

EXTENSION_ORDER = 500


def configure_addon(settings: BaseSettings) -> None:
    """Enable the HasData extension and fill the gaps of ``SETTINGS``; fill gaps only.

    The extension is enabled even without a key: jobs declared without one
    then stop the crawl with a line naming ``HASDATA_API_KEY`` instead of
    being ignored.  With neither key nor jobs it does nothing.  A user who
    already lists the extension (with any order, or ``None`` to disable it)
    keeps their choice.
    """
    from scrapy_wds._hasdata._extension import HasDataExtension

    for name, value in DEFAULTS.items():
        # "addon" priority sits below the project's own: a user's value wins.
        settings.set(name, value, priority="addon")
    settings.setdefault_in_component_priority_dict("EXTENSIONS", HasDataExtension, EXTENSION_ORDER)


__all__ = ["HasDataJob", "configure_addon"]
