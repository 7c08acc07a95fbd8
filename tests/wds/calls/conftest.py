"""Full crawls of the example project, shared with ``tests/wds/crawl``."""

from tests.wds.crawl.conftest import crawls, truth  # noqa: F401  (fixtures)
