"""HasData answers → rows → items.

HasData double-wraps paged rows (``body["data"][i]["data"]`` is the row, the
outer object carries the row's ``id``), sends some numbers as strings, and
the finished job's ``json`` file may hold bare rows or wrapped ones.  This
module reads all of those forms; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itemadapter import ItemAdapter

TERMINAL_STATUSES = frozenset({"finished", "stopped"})
KNOWN_STATUSES = frozenset({"pending", "in_progress"}) | TERMINAL_STATUSES


class RowConversionError(ValueError):
    """A row cannot become an instance of the job's item class."""


class MalformedAnswer(ValueError):
    """A results page (or file) that is not shaped like rows: retried, then the job fails."""


@dataclass(frozen=True)
class ResultsPage:
    #: The rows, unwrapped (row ``i`` of page ``current_page``).
    rows: list[dict[str, Any]]
    current_page: int
    last_page: int | None
    total: int | None
    #: Rows per page as the server counted them (``meta.perPage``), if it said.
    per_page: int | None


def as_int(value: Any) -> int | None:
    """An int from an int, a float or a numeric string (HasData sends both)."""
    number = as_number(value)
    return None if number is None else int(number)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def job_id_of(record: Mapping[str, Any]) -> str | None:
    """The job's handle: ``id`` (int or UUID string), kept as an opaque string."""
    for name in ("id", "jobId"):  # ``jobId`` is what older snippets call it
        value = record.get(name)
        if value is not None and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def parse_page(body: Mapping[str, Any], requested_page: int) -> ResultsPage:
    """One ``/results`` answer, wrapped rows unwrapped; :class:`MalformedAnswer` if not rows.

    A page whose ``data`` is not a list, or holds anything but objects, is
    refused rather than read as empty: an empty reading would mark rows done
    that were never delivered.
    """
    meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return ResultsPage(
        rows=unwrap_rows(body.get("data"), "the results page's 'data'"),
        current_page=as_int(meta.get("currentPage")) or requested_page,
        last_page=as_int(meta.get("lastPage")),
        total=as_int(meta.get("total")),
        per_page=as_int(meta.get("perPage")),
    )


def unwrap_rows(entries: Any, what: str) -> list[dict[str, Any]]:
    """Rows from a list of wrapped (``{"id", "data": {row}}``) or bare row objects."""
    if not isinstance(entries, list):
        raise MalformedAnswer(f"{what} is a {type(entries).__name__}, not a list of rows")
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedAnswer(f"{what} holds a {type(entry).__name__}, not a row object")
        inner = entry.get("data")
        if isinstance(inner, dict) and ("id" in entry or "jobId" in entry or "dataId" in entry):
            rows.append(inner)
        elif "data" in entry and not isinstance(inner, dict) and "id" in entry:
            raise MalformedAnswer(f"{what} holds a row whose 'data' is not an object")
        else:  # a bare row: what the json file holds
            rows.append(entry)
    return rows


def rows_from_file(body: Any) -> list[dict[str, Any]]:
    """Rows of a finished job's ``json`` file, bare or wrapped (detected, not assumed)."""
    if isinstance(body, Mapping) and isinstance(body.get("data"), list):
        return parse_page(body, 1).rows  # laid out like a results page
    if not isinstance(body, list):
        raise MalformedAnswer(f"the json file holds a {type(body).__name__}, not a list of rows")
    return unwrap_rows(body, "the json file")


def pick(row: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``"address.city"``, ``"links.0"``), or None."""
    value: Any = row
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def row_to_item(
    row: Mapping[str, Any], item_class: type | None, field_map: Mapping[str, str] | None
) -> Any:
    """The item a row becomes: mapped fields (or the whole row) in the job's item class."""
    if field_map:
        data = {name: pick(row, path) for name, path in field_map.items()}
    else:
        data = dict(row)
    if item_class is None or item_class is dict:
        return data
    names = ItemAdapter.get_field_names_from_class(item_class)
    if names is not None:
        # Rows carry whatever the scraper returns; an item class keeps only its fields.
        data = {key: value for key, value in data.items() if key in set(names)}
    try:
        return item_class(**data)
    except (TypeError, KeyError, ValueError) as exc:
        raise RowConversionError(
            f"a row cannot become {item_class.__name__} ({exc}); add a field_map or "
            "give the item class defaults for the fields rows may lack"
        ) from None
