"""The content key that deduplicates HasData rows across paging and webhooks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from scrapy_wds._hasdata._row_keys import row_content_key


def test_key_is_sha1_of_canonical_json() -> None:
    row = {"url": "https://example.com/a", "title": "A"}
    canonical = '{"title":"A","url":"https://example.com/a"}'
    assert row_content_key(row) == hashlib.sha1(canonical.encode()).hexdigest()


def test_key_ignores_key_order_and_formatting() -> None:
    parsed_compact = json.loads('{"b":1,"a":[1,2],"c":{"y":2,"x":1}}')
    parsed_pretty = json.loads('{\n  "c": {"x": 1, "y": 2},\n  "a": [1, 2],\n  "b": 1\n}')
    assert list(parsed_compact) != list(parsed_pretty)
    assert row_content_key(parsed_compact) == row_content_key(parsed_pretty)


def test_key_is_stable_across_calls_and_copies() -> None:
    row = {"emails": ["a@b.c"], "n": 3}
    assert row_content_key(row) == row_content_key(dict(row)) == row_content_key(row)


def test_key_changes_with_any_value() -> None:
    base = {"url": "u", "tags": ["x", "y"], "meta": {"depth": 1}}
    variants: list[dict[str, Any]] = [
        {"url": "v", "tags": ["x", "y"], "meta": {"depth": 1}},
        {"url": "u", "tags": ["y", "x"], "meta": {"depth": 1}},  # list order matters
        {"url": "u", "tags": ["x", "y"], "meta": {"depth": 2}},  # nested value
        {"url": "u", "tags": ["x", "y"], "meta": {"depth": "1"}},  # type matters
        {"url": "u", "tags": ["x", "y"], "meta": {"depth": 1}, "extra": None},
    ]
    keys = {row_content_key(base)} | {row_content_key(v) for v in variants}
    assert len(keys) == 1 + len(variants)


def test_unicode_is_hashed_unescaped() -> None:
    row = {"title": "Café — 東京", "emoji": "🙂"}
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "\\u" not in canonical
    assert row_content_key(row) == hashlib.sha1(canonical.encode("utf-8")).hexdigest()
    assert row_content_key(row) != row_content_key({"title": "Cafe — 東京", "emoji": "🙂"})


def test_lone_surrogate_does_not_crash() -> None:
    key = row_content_key({"title": "broken \ud800 text"})
    assert len(key) == 40


def test_named_field_keys_by_that_value_only() -> None:
    first = {"url": "https://example.com/a", "fetchedAt": "2026-01-01T00:00:00Z"}
    again = {"fetchedAt": "2026-01-02T09:30:00Z", "url": "https://example.com/a"}
    other = {"url": "https://example.com/b", "fetchedAt": "2026-01-01T00:00:00Z"}
    assert row_content_key(first, "url") == row_content_key(again, "url")
    assert row_content_key(first, "url") != row_content_key(other, "url")
    assert row_content_key(first) != row_content_key(again)


def test_named_field_with_nested_value_ignores_its_key_order() -> None:
    a = {"place": {"lat": 1.5, "lng": 2.5}, "rank": 1}
    b = {"rank": 2, "place": {"lng": 2.5, "lat": 1.5}}
    assert row_content_key(a, "place") == row_content_key(b, "place")


def test_named_field_key_never_equals_a_whole_row_key() -> None:
    row = {"url": "u"}
    assert row_content_key(row, "url") != row_content_key(row)
    assert row_content_key(row, "url").startswith("url:")


def test_missing_or_null_field_falls_back_to_whole_row() -> None:
    without = {"title": "A"}
    null = {"title": "A", "url": None}
    assert row_content_key(without, "url") == row_content_key(without)
    assert row_content_key(null, "url") == row_content_key(null)
    assert row_content_key(without, "url") != row_content_key(null, "url")
