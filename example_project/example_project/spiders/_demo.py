"""What both book spiders share: a WDS job that starts at the demo site's home page."""

from __future__ import annotations

from scrapy.settings import BaseSettings

from scrapy_wds import JobConfig, JobConfigError


def demo_site_job(settings: BaseSettings) -> JobConfig:
    url = settings.get("DEMO_SITE_URL")
    if not url:
        raise JobConfigError(
            "DEMO_SITE_URL is not set: give the demo site's address (python -m "
            "scrapy_wds.testing serve prints it), e.g. DEMO_SITE_URL=http://127.0.0.1:8000"
        )
    # Intranet: the demo site is on loopback, no request gateways needed.
    return JobConfig(start_urls=[url.rstrip("/") + "/"], type="Intranet")
