"""Item pipelines of the example project.

:class:`ContactsNormalizePipeline` cleans the rows of HasData's ``contacts``
scraper; the ``hasdata_contacts`` spider enables it in its ``custom_settings``.
:class:`ItemLinesPipeline` writes each item to a file the moment it is
scraped (on when ``ITEM_LINES_FILE`` is set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem, NotConfigured

#: The list fields of a ``contacts`` row, as HasData names them.
EMAIL_FIELD = "emails"
PHONE_FIELD = "phoneNumbers"
SOCIAL_FIELDS = ("linkedin", "xcom", "facebook", "instagram", "dribbble", "clutch")
CONTACT_FIELDS = (EMAIL_FIELD, PHONE_FIELD, *SOCIAL_FIELDS)

#: Fewer digits than this is a fragment (a year, a price), not a phone number.
MIN_PHONE_DIGITS = 7


def normalize_email(value: str) -> str:
    """``" Info@Demo-Books.TEST. "`` → ``"info@demo-books.test"``."""
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :].split("?")[0]
    return value.strip().rstrip(".,;:").lower()


def normalize_phone(value: str) -> str:
    """``"+44 (1632) 960-100"`` → ``"+441632960100"``; ``""`` if it is no phone number.

    An international ``00`` prefix becomes ``+``; the digits are kept as they
    are otherwise (which country a bare local number belongs to is not ours
    to guess).
    """
    value = value.strip()
    if value.lower().startswith("tel:"):
        value = value[len("tel:") :]
    digits = re.sub(r"\D", "", value)
    if not value.lstrip().startswith("+") and digits.startswith("00"):
        digits = digits[2:]
    return "+" + digits if len(digits) >= MIN_PHONE_DIGITS else ""


def _clean_list(values: Any, normalize: Callable[[str], str]) -> list[str]:
    """Normalised, empty ones left out, first occurrence kept, order kept."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    seen: set[str] = set()
    cleaned: list[str] = []
    for value in values if isinstance(values, Iterable) else []:
        if not isinstance(value, str):
            continue
        value = normalize(value)
        if value and value not in seen:
            seen.add(value)
            cleaned.append(value)
    return cleaned


class ContactsNormalizePipeline:
    """Cleans a ``contacts`` row so equal contacts compare equal.

    E-mails are stripped and lowercased, phone numbers reduced to digits with
    a leading ``+``, every list loses repeats, and a row with no contact data
    at all is dropped (counted by Scrapy as a dropped item).
    """

    def process_item(self, item: Any, spider: Any = None) -> Any:
        adapter = ItemAdapter(item)
        if not any(name in adapter for name in CONTACT_FIELDS):
            return item  # not a contacts row: none of our business
        for name in CONTACT_FIELDS:
            if name not in adapter:
                continue
            if name == EMAIL_FIELD:
                adapter[name] = _clean_list(adapter[name], normalize_email)
            elif name == PHONE_FIELD:
                adapter[name] = _clean_list(adapter[name], normalize_phone)
            else:
                adapter[name] = _clean_list(adapter[name], str.strip)
        if not any(adapter.get(name) for name in CONTACT_FIELDS):
            raise DropItem(f"no contact data on {adapter.get('url', 'a page')}")
        return item


class ItemLinesPipeline:
    """Appends each item to ``ITEM_LINES_FILE`` as one JSON line, written at once.

    Feed exports buffer what they write, so after a ``kill -9`` the feed
    file lacks items that did reach the pipelines; this file has every one of
    them (the crash drills count items with it).  Off unless the setting is given:
    ``scrapy crawl books -s ITEM_LINES_FILE=books.lines``.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ItemLinesPipeline:
        path = crawler.settings.get("ITEM_LINES_FILE")
        if not path:
            raise NotConfigured("ITEM_LINES_FILE is not set")
        return cls(path)

    def open_spider(self, spider: Any = None) -> None:
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole crawl

    def close_spider(self, spider: Any = None) -> None:
        if self.file is not None:
            self.file.close()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        self.file.write(json.dumps(ItemAdapter(item).asdict(), ensure_ascii=False) + "\n")
        self.file.flush()  # to the OS now: a killed crawl loses no line written
        return item
