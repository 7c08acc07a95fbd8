"""The one ``ADDONS`` entry that wires scrapy-wds into a project."""

from __future__ import annotations

import os

from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from scrapy_wds._hasdata import configure_addon as configure_hasdata
from scrapy_wds._wds import configure_addon as configure_wds

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class Addon:
    """Enables the WDS downloader middleware and the HasData extension.

    It only fills gaps: a setting the user gave (in any priority above the
    defaults) is left as it is.  Which half is active depends on what is
    configured: ``WDS_API_URL`` enables WDS; ``HASDATA_API_KEY`` (setting or
    environment variable) enables HasData.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        has_wds = bool(settings.get("WDS_API_URL"))
        # Jobs declared without a key still enable HasData: the extension then
        # stops the crawl with a line naming HASDATA_API_KEY.
        has_hasdata = bool(
            settings.get("HASDATA_API_KEY")
            or os.environ.get("HASDATA_API_KEY")
            or settings.get("HASDATA_JOBS")
        )
        if not (has_wds or has_hasdata):
            # A spider may still declare jobs (its ``hasdata_jobs``): the
            # extension then stops the crawl with a line naming HASDATA_API_KEY.
            configure_hasdata(settings)
            raise NotConfigured(
                "scrapy_wds.Addon has nothing to do: set WDS_API_URL (the WDS server, "
                "e.g. http://localhost:2807) and/or HASDATA_API_KEY (setting or "
                "environment variable) in your project settings"
            )
        settings.set("TWISTED_REACTOR", ASYNCIO_REACTOR, priority="addon")
        configure_wds(settings)
        configure_hasdata(settings)
