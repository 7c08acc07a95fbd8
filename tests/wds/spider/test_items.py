"""Items from scrape-multiple results: dict, scrapy.Item, dataclass and attrs; first or all values."""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
import pytest
import scrapy
from itemadapter import ItemAdapter

from scrapy_wds import WdsItemError
from scrapy_wds._wds._items import (
    build_item,
    check_field_names,
    check_values_mode,
    item_class_path,
    load_item_class,
)


class ScrapyBook(scrapy.Item):
    url = scrapy.Field()
    title = scrapy.Field()
    tags = scrapy.Field()


@dataclasses.dataclass
class DataclassBook:
    url: Any = None
    title: Any = None
    tags: Any = None


@attrs.define
class AttrsBook:
    url: Any = None
    title: Any = None
    tags: Any = None


@dataclasses.dataclass
class StrictBook:
    title: str
    tags: list[str]


RESULTS = [("title", ["First", "Second"]), ("tags", []), ("ignored", ["x"])]
FIXED = {"url": "http://s/book.html"}


@pytest.mark.parametrize("item_class", [dict, ScrapyBook, DataclassBook, AttrsBook])
def test_first_values_leave_empty_fields_unset(item_class: type) -> None:
    item = build_item(item_class, RESULTS, wanted=["title", "tags"], values="first", fixed=FIXED)
    assert isinstance(item, item_class)
    as_dict = ItemAdapter(item).asdict()
    # dict and scrapy.Item leave it out; dataclass/attrs keep their default.
    assert {k: v for k, v in as_dict.items() if v is not None} == {
        "title": "First",
        "url": "http://s/book.html",
    }


@pytest.mark.parametrize("item_class", [dict, ScrapyBook, DataclassBook, AttrsBook])
def test_all_values_are_lists(item_class: type) -> None:
    item = build_item(item_class, RESULTS, wanted=["title", "tags"], values="all", fixed=FIXED)
    assert ItemAdapter(item).asdict() == {
        "title": ["First", "Second"],
        "tags": [],
        "url": "http://s/book.html",
    }


def test_server_names_are_matched_case_insensitively_when_not_exact() -> None:
    item = build_item(
        dict, [("TITLE", ["T"]), ("Tags", ["a"])], wanted=["title", "tags"], values="first"
    )
    assert item == {"title": "T", "tags": "a"}


def test_a_field_missing_from_the_answer_counts_as_no_values() -> None:
    assert build_item(dict, [], wanted=["title"], values="all") == {"title": []}
    assert build_item(dict, [], wanted=["title"], values="first") == {}


def test_an_item_class_that_cannot_be_built_says_why() -> None:
    with pytest.raises(WdsItemError, match="cannot build StrictBook"):
        build_item(StrictBook, [("title", ["T"])], wanted=["title", "tags"], values="first")


def test_item_classes_travel_as_import_paths() -> None:
    assert item_class_path(None) is None
    assert item_class_path(dict) is None
    for item_class in (ScrapyBook, DataclassBook, AttrsBook):
        path = item_class_path(item_class)
        assert path is not None and path.endswith(f"test_items.{item_class.__name__}")
        assert load_item_class(path) is item_class
    assert load_item_class(None) is dict


def test_a_class_defined_in_a_function_is_refused() -> None:
    @dataclasses.dataclass
    class Local:
        title: str = ""

    with pytest.raises(WdsItemError, match="define it at module level"):
        item_class_path(Local)


def test_a_non_item_class_is_refused() -> None:
    with pytest.raises(WdsItemError, match="is not an item class"):
        item_class_path(int)


def test_unknown_field_names_are_refused_with_the_known_ones() -> None:
    check_field_names(dict, ["anything"], where="x")
    check_field_names(ScrapyBook, ["title", "url"], where="x")
    with pytest.raises(WdsItemError) as info:
        check_field_names(DataclassBook, ["title", "price"], where="wds_scrape_multiple()")
    assert "DataclassBook has no field(s) ['price']" in str(info.value)
    assert "['tags', 'title', 'url']" in str(info.value)


def test_values_mode_is_first_or_all() -> None:
    assert check_values_mode("all", where="values") == "all"
    with pytest.raises(WdsItemError, match='values is \'last\'; use "first" or "all"'):
        check_values_mode("last", where="values")
