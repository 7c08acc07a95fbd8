"""Items from scrape-multiple answers: dict, ``scrapy.Item``, dataclass or attrs class.

Requests must pickle (JOBDIR, scrapy-redis), so the item class travels in
request meta as an import path, checked when the request is built: a class
that cannot be imported back by that path (one defined inside a function)
is refused there, not when the answer arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from itemadapter import ItemAdapter
from scrapy.utils.misc import load_object

#: ``first``: each field gets its first value (left unset when there is none);
#: ``all``: each field gets the list of all values (possibly empty).
VALUES_MODES = ("first", "all")


class WdsItemError(ValueError):
    """An item class or field list that cannot make the items asked for."""


def item_class_path(item_class: type | None) -> str | None:
    """The import path stored in meta (``None`` means plain dicts)."""
    if item_class is None or item_class is dict:
        return None
    if not isinstance(item_class, type) or not ItemAdapter.is_item_class(item_class):
        raise WdsItemError(
            f"item_class {item_class!r} is not an item class; use dict, a scrapy.Item "
            "subclass, a dataclass or an attrs class"
        )
    path = f"{item_class.__module__}.{item_class.__qualname__}"
    try:
        loaded = load_object(path)
    except (ImportError, NameError, ValueError, AttributeError):
        loaded = None
    if loaded is not item_class:
        raise WdsItemError(
            f"item_class {path} cannot be imported by that path (requests carry it by "
            "name so they can be saved and resumed); define it at module level"
        )
    return path


def load_item_class(path: str | None) -> type:
    return dict if path is None else load_object(path)


def check_values_mode(values: object, *, where: str) -> str:
    if values not in VALUES_MODES:
        raise WdsItemError(f'{where} is {values!r}; use "first" or "all"')
    return str(values)


def check_field_names(item_class: type | None, names: Iterable[str], *, where: str) -> None:
    """Every field to be filled must exist on the item class (dicts take any)."""
    if item_class is None or item_class is dict:
        return
    known = ItemAdapter.get_field_names_from_class(item_class)
    if known is None:  # an item type whose fields cannot be listed: let it decide
        return
    unknown = [name for name in names if name not in known]
    if unknown:
        raise WdsItemError(
            f"{where}: {item_class.__qualname__} has no field(s) {unknown}; "
            f"its fields are {sorted(known)}"
        )


def build_item(
    item_class: type,
    results: Iterable[tuple[str, list[str]]],
    *,
    wanted: Iterable[str],
    values: str,
    fixed: Mapping[str, Any] | None = None,
) -> Any:
    """One item from ``[(name, values), …]``; only the ``wanted`` fields are taken.

    Names from the server are matched exactly first, then case-insensitively
    (a server may re-case them like its keys).
    """
    wanted = list(wanted)
    by_name: dict[str, list[str]] = {}
    folded = {name.lower(): name for name in wanted}
    for name, found in results:
        target = name if name in wanted else folded.get(name.lower())
        if target is not None and target not in by_name:
            by_name[target] = found
    data: dict[str, Any] = {}
    for name in wanted:
        found = by_name.get(name, [])
        if values == "all":
            data[name] = list(found)
        elif found:
            data[name] = found[0]
    data.update(fixed or {})
    if item_class is dict:
        return data
    try:
        return item_class(**data)
    except (TypeError, KeyError, ValueError) as exc:
        raise WdsItemError(
            f"cannot build {item_class.__qualname__} from fields {sorted(data)}: {exc}"
        ) from None
