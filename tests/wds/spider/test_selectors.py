"""Selectors: the prefix in any case with or without a space, syntax checked, errors naming them."""

from __future__ import annotations

import pytest

from scrapy_wds import WdsSelectorError
from scrapy_wds._wds._selectors import parse_fields, parse_selector


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("CSS: li.next a", "CSS: li.next a"),
        ("css:li.next a", "CSS: li.next a"),
        ("  Css :  li.next a ", "CSS: li.next a"),
        ("XPATH: //li[@class='next']/a", "XPATH: //li[@class='next']/a"),
        ("xpath://a/@href", "XPATH: //a/@href"),
        ('CSS: a[title="A & B #1 + more"]', 'CSS: a[title="A & B #1 + more"]'),
    ],
)
def test_valid_selectors_get_one_canonical_wire_form(text: str, wire: str) -> None:
    assert parse_selector(text).wire == wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("li.next a", "must start with 'CSS:' or 'XPATH:'"),
        ("JS: document.links", "must start with 'CSS:' or 'XPATH:'"),
        ("CSS:   ", "nothing after its prefix"),
        ("CSS: a[", "is not valid CSS"),
        ("CSS: li..next", "is not valid CSS"),
        ("XPATH: //a[", "is not valid XPATH"),
        ("XPATH: count(", "is not valid XPATH"),
    ],
)
def test_bad_selectors_raise_an_error_quoting_them(text: str, expected: str) -> None:
    with pytest.raises(WdsSelectorError) as info:
        parse_selector(text, where="wds_crawl() selector")
    message = str(info.value)
    assert message.startswith(f"wds_crawl() selector {text!r}")
    assert expected in message
    assert "CSS: li.next a" in message  # says what a good one looks like


def test_a_selector_must_be_a_string() -> None:
    with pytest.raises(WdsSelectorError, match="must be a string"):
        parse_selector(None)


def test_fields_take_a_selector_or_a_selector_and_attribute() -> None:
    fields = parse_fields(
        {"title": "css:h1", "link": ("CSS: a", "href"), "text": ["XPATH: //p", "val"]},
        where="fields",
    )
    assert [(f.name, f.selector.wire, f.attribute) for f in fields] == [
        ("title", "CSS: h1", None),
        ("link", "CSS: a", "href"),
        ("text", "XPATH: //p", "val"),
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "non-empty mapping"),
        ("CSS: h1", "non-empty mapping"),
        ({"title": "h1"}, "fields['title'] selector 'h1'"),
        (
            {"title": ("CSS: h1",)},
            "fields['title'] must be a selector or (selector, attribute name)",
        ),
        ({"title": ("CSS: h1", "")}, "fields['title'] attribute name"),
        ({"": "CSS: h1"}, "field names must be non-empty"),
    ],
)
def test_bad_fields_name_the_field(fields: object, expected: str) -> None:
    with pytest.raises(WdsSelectorError) as info:
        parse_fields(fields, where="fields")  # type: ignore[arg-type]
    assert expected in str(info.value)
