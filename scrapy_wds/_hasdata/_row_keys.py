"""The content key of a HasData result row.

Webhook callbacks carry bare rows with no row id, while paged results carry
ids; the same row can arrive both ways (and a callback can arrive twice). A
key computed from the row's *content* is the one thing both paths share, so
both are deduplicated by it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no whitespace, unicode kept as is.

    Key order and formatting differ between a results page and a webhook body
    for the same row; this spelling does not. Values JSON cannot express
    (rows normally come from JSON, so only a user's own rows) fall back to
    ``str`` rather than failing the crawl.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _sha1(text: str) -> str:
    # surrogatepass: a lone surrogate from a sloppy JSON producer must still
    # hash (to itself), not crash the delivery of the row.
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def row_content_key(row: dict[str, Any], field: str | None = None) -> str:
    """Return a stable key identifying ``row`` by its content.

    With ``field`` (e.g. ``"url"``) and the row having a non-null value there,
    the key comes from that value alone, so rows that differ in volatile
    fields (timestamps, scores) still count as one; it is prefixed with the
    field name so it can never equal a whole-row key. Otherwise the key is the
    sha1 hex digest of the row's canonical JSON.
    """
    if field is not None and row.get(field) is not None:
        return f"{field}:{_sha1(canonical_json(row[field]))}"
    return _sha1(canonical_json(row))
