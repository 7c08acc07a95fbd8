"""What the HasData benchmarks share: the crawl that only drains jobs, and the synthetic job it drains."""

from __future__ import annotations

import json
from pathlib import Path

#: A spider whose only items are the rows of ``HASDATA_JOBS``.
SPIDER = "_no_requests_spider:RowsOnlySpider"
API_KEY = "hasdata-bench-key"


def write_job(directory: Path, keywords: int) -> Path:
    """One ``amazon-search`` job of ``keywords`` keywords (the emulator gives 5 rows each), as a HASDATA_JOBS file."""
    job = {
        "scraper": "amazon-search",
        "input": {"keywords": [f"keyword {i}" for i in range(keywords)]},
    }
    path = directory / "jobs.json"
    path.write_text(json.dumps([job]))
    return path
