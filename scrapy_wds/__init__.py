"""scrapy-wds: WDS (Web Data Source) and HasData Scraper Jobs in Scrapy.

Add ``"scrapy_wds.Addon": 300`` to ``ADDONS`` and set ``WDS_API_URL`` and/or
``HASDATA_API_KEY``.
"""

from scrapy_wds._addon import Addon
from scrapy_wds._wds._errors import (
    WdsAccessDenied,
    WdsBadRequest,
    WdsError,
    WdsGaveUpWaiting,
    WdsServerError,
    WdsTaskNotFound,
    WdsUnexpectedResponse,
    WdsUnprocessable,
)

__all__ = [
    "Addon",
    "WdsAccessDenied",
    "WdsBadRequest",
    "WdsError",
    "WdsGaveUpWaiting",
    "WdsServerError",
    "WdsTaskNotFound",
    "WdsUnexpectedResponse",
    "WdsUnprocessable",
]
