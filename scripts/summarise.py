"""Summarise the demo run: items per spider, checked against the demo site's truth.

Usage: python scripts/summarise.py OUT_DIR SPIDER [SPIDER ...]
Needs DEMO_SITE_URL in the environment (scripts/demo.sh sets it).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from pathlib import Path


def read_items(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def books_verdict(items: list[dict], truth: list[dict]) -> str:
    by_url: dict[str, list[dict]] = {}
    for item in items:
        by_url.setdefault(item.get("url", ""), []).append(item)
    expected = {book["url"]: book for book in truth}
    missing = [url for url in expected if url not in by_url]
    twice = [url for url, seen in by_url.items() if len(seen) > 1]
    wrong = [
        url for url, seen in by_url.items()
        if url in expected and any(seen[0].get(k) != v for k, v in expected[url].items())
    ]
    extra = [url for url in by_url if url not in expected]
    if not (missing or twice or wrong or extra):
        return f"matches the truth: all {len(truth)} books once, every field equal"
    return (f"DIFFERS from the truth: {len(missing)} missing, {len(twice)} twice, "
            f"{len(wrong)} with wrong fields, {len(extra)} unknown")


def crawl_stats(log: Path) -> str:
    """The wds/ and hasdata/ stats from the spider's closing stats dump."""
    if not log.exists():
        return ""
    found = re.findall(r"'((?:wds|hasdata)/[^']+)': (\d+)", log.read_text())
    return ", ".join(f"{name}={value}" for name, value in found[:12])


def main() -> int:
    out, spiders = Path(sys.argv[1]), sys.argv[2:]
    site = os.environ["DEMO_SITE_URL"].rstrip("/")
    with urllib.request.urlopen(site + "/__truth__/books.json") as answer:
        truth = json.load(answer)
    ok = True
    print(f"\nSummary ({len(truth)} books on the demo site):")
    for spider in spiders:
        items = read_items(out / f"{spider}.jsonl")
        line = f"  {spider:18} {len(items):5} items -> out/{spider}.jsonl"
        if spider.startswith("books"):
            verdict = books_verdict(items, truth)
            ok &= verdict.startswith("matches")
            line += f"; {verdict}"
        elif not items:
            ok = False
            line += "; NO ITEMS (see the log)"
        print(line)
        stats = crawl_stats(out / f"{spider}.log")
        if stats:
            print(f"  {'':18} {stats}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
