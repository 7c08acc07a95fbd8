"""scrapy-wds: WDS (Web Data Source) and HasData Scraper Jobs in Scrapy.

Add ``"scrapy_wds.Addon": 300`` to ``ADDONS`` and set ``WDS_API_URL`` and/or
``HASDATA_API_KEY``.
"""

from scrapy_wds._addon import Addon
from scrapy_wds._hasdata._client import (
    HasDataApiError,
    HasDataNoCredits,
    HasDataRejected,
    HasDataTimeout,
    HasDataUnauthorized,
    HasDataUnavailable,
)
from scrapy_wds._hasdata._extension import HasDataExtension
from scrapy_wds._hasdata._job import HasDataJob, HasDataJobError
from scrapy_wds._wds._answers import MalformedAnswer, TaskState, TaskStatus
from scrapy_wds._wds._errors import (
    WdsAccessDenied,
    WdsBadAnswer,
    WdsBadRequest,
    WdsError,
    WdsGaveUpWaiting,
    WdsServerError,
    WdsTaskNotFound,
    WdsUnexpectedResponse,
    WdsUnprocessable,
)
from scrapy_wds._wds._follow_ups import wds_skip_info
from scrapy_wds._wds._items import WdsItemError
from scrapy_wds._wds._job_config import JobConfig, JobConfigError
from scrapy_wds._wds._middleware import WdsDownloaderMiddleware
from scrapy_wds._wds._mixin import WdsSpiderError, WdsSpiderMixin
from scrapy_wds._wds._rules import WdsCrawlSpider, WdsRule
from scrapy_wds._wds._selectors import WdsSelectorError
from scrapy_wds._wds._task import WdsTask
from scrapy_wds._wds._waiting_room import SetAside

#: The release, read by the build too (``pyproject.toml``: one version source).
__version__ = "0.2.0"

__all__ = [
    "Addon",
    "HasDataApiError",
    "HasDataExtension",
    "HasDataJob",
    "HasDataJobError",
    "HasDataNoCredits",
    "HasDataRejected",
    "HasDataTimeout",
    "HasDataUnauthorized",
    "HasDataUnavailable",
    "JobConfig",
    "JobConfigError",
    "MalformedAnswer",
    "TaskState",
    "SetAside",
    "TaskStatus",
    "WdsCrawlSpider",
    "WdsDownloaderMiddleware",
    "WdsItemError",
    "WdsRule",
    "WdsSelectorError",
    "WdsSpiderError",
    "WdsSpiderMixin",
    "WdsTask",
    "WdsAccessDenied",
    "WdsBadAnswer",
    "WdsBadRequest",
    "WdsError",
    "WdsGaveUpWaiting",
    "WdsServerError",
    "WdsTaskNotFound",
    "WdsUnexpectedResponse",
    "WdsUnprocessable",
    "wds_skip_info",
]
