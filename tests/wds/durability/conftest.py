"""The crash drills reuse the crawl tests' harness (``scrapy crawl`` subprocesses of example_project)."""

from __future__ import annotations

from crawl.conftest import crawls, truth  # noqa: F401 - fixtures used by this directory's tests
