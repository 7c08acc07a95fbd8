"""Settings of the example project.

Service addresses come from the environment, so the same project runs against
the local emulators (``python -m scrapy_wds.testing serve`` prints them) or
real services:

    WDS_API_URL=http://127.0.0.1:2807 DEMO_SITE_URL=http://127.0.0.1:8000 \
        scrapy crawl books -O books.jsonl
"""

from __future__ import annotations

import os

BOT_NAME = "example_project"
SPIDER_MODULES = ["example_project.spiders"]
NEWSPIDER_MODULE = "example_project.spiders"

# One line wires WDS (when WDS_API_URL is set) and HasData (when
# HASDATA_API_KEY is set, as a setting or in the environment).
ADDONS = {"scrapy_wds.Addon": 300}

WDS_API_URL = os.environ.get("WDS_API_URL", "")
HASDATA_API_URL = os.environ.get("HASDATA_API_URL", "https://api.hasdata.com")

# The site the book spiders crawl through WDS (the demo site of scrapy_wds.testing).
DEMO_SITE_URL = os.environ.get("DEMO_SITE_URL", "")

# Kept on, as in Scrapy's project template: it costs nothing here.  WDS calls
# skip Scrapy's robots.txt check (WDS honours the crawled site's robots.txt
# itself) and HasData calls do not go through Scrapy's downloader.
ROBOTSTXT_OBEY = True

# Each item written at once to ITEM_LINES_FILE, when it is set (off otherwise).
ITEM_PIPELINES = {"example_project.pipelines.ItemLinesPipeline": 900}

CONCURRENT_REQUESTS = 16
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("SCRAPY_LOG_LEVEL", "INFO")
