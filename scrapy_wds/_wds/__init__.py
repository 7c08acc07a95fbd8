"""WDS (Web Data Source) in Scrapy: the downloader side and the add-on hook."""

from __future__ import annotations

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from scrapy_wds._wds._settings import DEFAULTS

MIDDLEWARE_PATH = "scrapy_wds._wds._middleware.WdsDownloaderMiddleware"
#: After HttpCompression (590) decodes answers, before RetryMiddleware (550).
MIDDLEWARE_PRIORITY = 560


def configure_addon(settings: BaseSettings) -> None:
    """Fill the gaps WDS needs in ``settings``; nothing at all without ``WDS_API_URL``."""
    if not settings.get("WDS_API_URL"):
        return
    for name, value in DEFAULTS.items():
        # "addon" priority sits below the project's own: a user's value wins.
        settings.set(name, value, priority="addon")
    middlewares = settings["DOWNLOADER_MIDDLEWARES"]
    wanted = load_object(MIDDLEWARE_PATH)
    already = any(_loads_as(key, wanted) for key in middlewares)
    if not already:
        middlewares[MIDDLEWARE_PATH] = MIDDLEWARE_PRIORITY


def _loads_as(key: object, wanted: object) -> bool:
    """Whether a DOWNLOADER_MIDDLEWARES key (import path or class) names ``wanted``."""
    if not isinstance(key, str):
        return key is wanted
    try:
        return load_object(key) is wanted
    except (ImportError, NameError, ValueError):
        return False  # the user's own entry; Scrapy reports it if it is broken
