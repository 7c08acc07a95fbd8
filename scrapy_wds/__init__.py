"""scrapy-wds: WDS (Web Data Source) and HasData Scraper Jobs in Scrapy.

Add ``"scrapy_wds.Addon": 300`` to ``ADDONS`` and set ``WDS_API_URL`` and/or
``HASDATA_API_KEY``.
"""

from scrapy_wds._addon import Addon

__all__ = ["Addon"]
