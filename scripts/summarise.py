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
        url
        for url, seen in by_url.items()
        if url in expected and any(seen[0].get(k) != v for k, v in expected[url].items())
    ]
    extra = [url for url in by_url if url not in expected]
    if not (missing or twice or wrong or extra):
        return f"matches the truth: all {len(truth)} books once, every field equal"
    return (
        f"DIFFERS from the truth: {len(missing)} missing, {len(twice)} twice, "
        f"{len(wrong)} with wrong fields, {len(extra)} unknown"
    )


def pages_verdict(items: list[dict], truth: list[dict]) -> str:
    """hasdata_crawler: one row per book page, each once."""
    urls = [item.get("url") for item in items]
    books = {book["url"] for book in truth}
    if len(urls) == len(set(urls)) and set(urls) == books:
        return f"matches the truth: all {len(books)} book pages once"
    return f"DIFFERS from the truth: {len(books - set(urls))} book pages missing, {len(urls) - len(set(urls))} twice"


def contacts_verdict(items: list[dict], contacts: dict[str, dict]) -> str:
    """hasdata_contacts: every contact page that has contacts, once (the pipeline drops empty rows)."""
    urls = [item.get("url") for item in items]
    with_contacts = {url for url, found in contacts.items() if any(found.values())}
    if len(urls) == len(set(urls)) and set(urls) == with_contacts:
        return f"matches the truth: all {len(with_contacts)} contact pages with contacts, once"
    return f"DIFFERS from the truth: {len(with_contacts - set(urls))} pages missing, {len(urls) - len(set(urls))} twice"


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
    with urllib.request.urlopen(site + "/__truth__/contacts.json") as answer:
        contacts = json.load(answer)
    ok = True
    print(f"\nSummary ({len(truth)} books on the demo site):")
    for spider in spiders:
        items = read_items(out / f"{spider}.jsonl")
        line = f"  {spider:18} {len(items):5} items -> out/{spider}.jsonl"
        verdict = None
        if spider.startswith("books"):
            verdict = books_verdict(items, truth)
        elif spider == "hasdata_crawler":
            verdict = pages_verdict(items, truth)
        elif spider == "hasdata_contacts":
            verdict = contacts_verdict(items, contacts)
        if verdict:
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
