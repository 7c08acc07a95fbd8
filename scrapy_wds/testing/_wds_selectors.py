"""Selectors as the WDS emulator takes them: ``CSS: …`` or ``XPATH: …``.

The prefix is case-insensitive and the space after the colon optional, as the
WDS documentation says.  Selectors run with parsel on the task's page; any
problem with one (bad prefix, bad syntax) is a :class:`SelectorProblem`, which
the emulator answers with 400 and a reason that quotes the selector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cssselect import SelectorError
from parsel import Selector, SelectorList

_PREFIX = re.compile(r"\A\s*(css|xpath)\s*:(.*)\Z", re.IGNORECASE | re.DOTALL)

#: Attribute name that asks for an element's inner text instead of an attribute.
INNER_TEXT = "val"

# Syntax is checked by running the selector on an empty page: parsel (through
# cssselect and lxml) raises the same errors there as on a real one.
_EMPTY_PAGE = Selector(text="<html><body></body></html>")


class SelectorProblem(ValueError):
    """A selector the service rejects with 400; the message names it."""


@dataclass(frozen=True)
class WdsSelector:
    kind: str  # "css" or "xpath"
    expression: str
    original: str

    @classmethod
    def parse(cls, text: str) -> WdsSelector:
        match = _PREFIX.match(text)
        if match is None:
            raise SelectorProblem(
                f"invalid selector {text!r}: it must start with 'CSS:' or 'XPATH:'"
            )
        expression = match.group(2).strip()
        if not expression:
            raise SelectorProblem(f"invalid selector {text!r}: nothing follows the prefix")
        selector = cls(match.group(1).lower(), expression, text)
        selector.select(_EMPTY_PAGE)
        return selector

    def select(self, document: Selector) -> SelectorList[Selector]:
        try:
            if self.kind == "css":
                return document.css(self.expression)
            return document.xpath(self.expression)
        except (SelectorError, ValueError) as exc:
            raise SelectorProblem(f"invalid selector {self.original!r}: {exc}") from None


def wants_inner_text(attribute_name: str | None) -> bool:
    return not attribute_name or attribute_name.strip().lower() == INNER_TEXT


def extract_values(found: Iterable[Selector], attribute_name: str | None) -> list[str]:
    """The strings a scrape answers for the elements a selector found.

    Inner text is all text inside the element, stripped at both ends (an
    element without text gives ``""``, so values stay aligned with elements).
    With an attribute name, elements lacking that attribute give nothing.
    An XPath that selects strings (``/@href``, ``/text()``) gives those strings.
    """
    inner = wants_inner_text(attribute_name)
    values: list[str] = []
    for item in found:
        root = item.root
        if isinstance(root, str):
            if inner:
                values.append(root.strip())
            continue
        if inner:
            values.append("".join(item.xpath(".//text()").getall()).strip())
            continue
        assert attribute_name is not None
        attributes = item.attrib
        value = attributes.get(attribute_name, attributes.get(attribute_name.lower()))
        if value is not None:
            values.append(value)
    return values
