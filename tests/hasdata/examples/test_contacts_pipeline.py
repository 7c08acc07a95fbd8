"""ContactsNormalizePipeline and the contact-page discovery of ``hasdata_contacts``."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest
from example_project.pipelines import (
    ContactsNormalizePipeline,
    normalize_email,
    normalize_phone,
)
from example_project.spiders.hasdata_contacts import contact_pages
from scrapy.exceptions import DropItem

from scrapy_wds.testing import DemoSite
from scrapy_wds.testing._demo_catalogue import CONTACT_KINDS

from ._crawl import get_json


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("info@demo-books.test", "info@demo-books.test"),
        ("  Info@Demo-Books.TEST ", "info@demo-books.test"),
        ("mailto:Sales@Demo-Books.test?subject=Hi", "sales@demo-books.test"),
        ("team@demo-books.test.", "team@demo-books.test"),
        ("   ", ""),
    ],
)
def test_normalize_email(raw: str, clean: str) -> None:
    assert normalize_email(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("+441632960100", "+441632960100"),
        ("+44 (1632) 960-100", "+441632960100"),
        ("tel:+44.1632.960100", "+441632960100"),
        ("0044 1632 960100", "+441632960100"),
        ("01632 960100", "+01632960100"),
        ("2026", ""),
        ("call us", ""),
    ],
)
def test_normalize_phone(raw: str, clean: str) -> None:
    assert normalize_phone(raw) == clean


def contacts_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"url": "https://shop.example/contact.html"}
    row.update({name: [] for name in CONTACT_KINDS})
    row.update(values)
    return row


def test_row_is_normalised_and_deduplicated() -> None:
    row = contacts_row(
        emails=["Info@Shop.example", "info@shop.example ", "sales@shop.example"],
        phoneNumbers=["+44 1632 960100", "+441632960100", "12", "+44 1632 960199"],
        linkedin=[
            "https://www.linkedin.com/company/shop",
            " https://www.linkedin.com/company/shop",
        ],
    )
    out = ContactsNormalizePipeline().process_item(row)
    assert out["emails"] == ["info@shop.example", "sales@shop.example"]
    assert out["phoneNumbers"] == ["+441632960100", "+441632960199"]
    assert out["linkedin"] == ["https://www.linkedin.com/company/shop"]
    assert out["url"] == "https://shop.example/contact.html"
    assert out["xcom"] == []


@pytest.mark.parametrize(
    "values",
    [{}, {"phoneNumbers": ["12", "n/a"]}, {"emails": ["  "]}],
    ids=["all-empty", "only-garbage-phones", "blank-email"],
)
def test_row_without_contact_data_is_dropped(values: dict[str, Any]) -> None:
    with pytest.raises(
        DropItem, match=re.escape("no contact data on https://shop.example/contact.html")
    ):
        ContactsNormalizePipeline().process_item(contacts_row(**values))


def test_a_social_link_alone_keeps_the_row() -> None:
    row = contacts_row(clutch=["https://clutch.co/profile/shop"])
    assert ContactsNormalizePipeline().process_item(row)["clutch"] == [
        "https://clutch.co/profile/shop"
    ]


def test_items_that_are_not_contacts_rows_pass_untouched() -> None:
    book = {"url": "https://shop.example/book.html", "title": "  A Title  "}
    assert ContactsNormalizePipeline().process_item(book) == {
        "url": "https://shop.example/book.html",
        "title": "  A Title  ",
    }


@dataclass
class ContactItem:
    url: str
    emails: list[str] = field(default_factory=list)
    phoneNumbers: list[str] = field(default_factory=list)


def test_item_classes_are_normalised_through_itemadapter() -> None:
    item = ContactItem("https://shop.example/", emails=["A@B.example", "a@b.example"])
    out = ContactsNormalizePipeline().process_item(item)
    assert out is item
    assert item.emails == ["a@b.example"]
    with pytest.raises(DropItem):
        ContactsNormalizePipeline().process_item(ContactItem("https://shop.example/"))


def test_contact_pages_found_from_the_home_page_are_the_sites_contact_pages(
    demo_site: DemoSite,
) -> None:
    home = demo_site.url + "/"
    with urllib.request.urlopen(home) as answer:
        html = answer.read().decode()
    pages = contact_pages(home, html)
    truth = get_json(demo_site.url + "/__truth__/contacts.json")
    assert len(pages) == len(set(pages))
    assert set(pages) == set(truth)
    assert pages[:2] == [home + "contact.html", home + "about/team.html"]
