"""WDS selectors (``CSS: …`` / ``XPATH: …``), checked on the client before any call.

A typo in a selector would otherwise surface as a 400 from the service on
every task, long after the spider started; checking the prefix and the syntax
here (with parsel, which parses CSS through cssselect and XPath through lxml)
turns it into one clear error at the line that built the request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cssselect import SelectorError as CssSelectorError
from parsel import Selector

_PREFIX = re.compile(r"\A\s*(css|xpath)\s*:(.*)\Z", re.IGNORECASE | re.DOTALL)

# Running a selector on an empty page raises the same syntax errors as on a
# real one; compiling alone misses some (lxml accepts "count(" until it runs).
_EMPTY_PAGE = Selector(text="<html><body></body></html>")

_EXAMPLES = 'selectors look like "CSS: li.next a" or "XPATH: //li[@class=\'next\']/a"'

#: What a field of scrape-multiple may be given as: a selector, or
#: ``(selector, attribute name)`` to read an attribute instead of the inner text.
FieldSpec = str | tuple[str, str] | list[str]


class WdsSelectorError(ValueError):
    """A selector that is not ``CSS: …`` / ``XPATH: …`` or does not parse."""


@dataclass(frozen=True)
class WdsSelector:
    """A checked selector; :attr:`wire` is the canonical form sent to the service."""

    kind: str  # "CSS" or "XPATH"
    expression: str

    @property
    def wire(self) -> str:
        # One canonical spelling, so "css:a" and "CSS: a" ask the same URL
        # and the dupefilter sees them as the same call.
        return f"{self.kind}: {self.expression}"


def parse_selector(text: object, *, where: str = "selector") -> WdsSelector:
    """Check ``text`` and return it parsed; raise :class:`WdsSelectorError` naming it."""
    if not isinstance(text, str):
        raise WdsSelectorError(f"{where} must be a string, not {text!r}; {_EXAMPLES}")
    match = _PREFIX.match(text)
    if match is None:
        raise WdsSelectorError(
            f"{where} {text!r} must start with 'CSS:' or 'XPATH:' (any case); {_EXAMPLES}"
        )
    kind = match.group(1).upper()
    expression = match.group(2).strip()
    if not expression:
        raise WdsSelectorError(f"{where} {text!r} has nothing after its prefix; {_EXAMPLES}")
    problem = _syntax_error(kind, expression)
    if problem is not None:
        raise WdsSelectorError(f"{where} {text!r} is not valid {kind}: {problem}; {_EXAMPLES}")
    return WdsSelector(kind, expression)


@functools.lru_cache(maxsize=1024)
def _syntax_error(kind: str, expression: str) -> str | None:
    """Why ``expression`` does not parse, or ``None``.

    Cached: a spider builds calls from the same few selectors on every page,
    and parsing one costs more than the rest of building its request.
    """
    try:
        if kind == "CSS":
            _EMPTY_PAGE.css(expression)
        else:
            _EMPTY_PAGE.xpath(expression)
    except (CssSelectorError, ValueError) as exc:
        return str(exc)
    return None


def check_attribute_name(value: object, *, where: str) -> str | None:
    """``None`` (the endpoint's default) or a non-empty attribute name."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise WdsSelectorError(
            f'{where} must be a non-empty attribute name (or "val" for the inner text), '
            f"not {value!r}"
        )
    return value.strip()


@dataclass(frozen=True)
class ScrapeField:
    """One ``ScrapeParams`` entry: the item field, its selector, its attribute."""

    name: str
    selector: WdsSelector
    attribute: str | None = None


def parse_fields(fields: Mapping[str, FieldSpec], *, where: str) -> tuple[ScrapeField, ...]:
    """Check a ``{field name: selector or (selector, attribute)}`` mapping."""
    if not isinstance(fields, Mapping) or not fields:
        raise WdsSelectorError(
            f"{where} must be a non-empty mapping of field name to selector, "
            f'e.g. {{"title": "CSS: h1"}}; got {fields!r}'
        )
    parsed = []
    for name, spec in fields.items():
        if not isinstance(name, str) or not name:
            raise WdsSelectorError(f"{where}: field names must be non-empty strings, not {name!r}")
        attribute: object = None
        if isinstance(spec, (tuple, list)):
            if len(spec) != 2:
                raise WdsSelectorError(
                    f"{where}[{name!r}] must be a selector or (selector, attribute name), "
                    f"not {spec!r}"
                )
            spec, attribute = spec
        parsed.append(
            ScrapeField(
                name,
                parse_selector(spec, where=f"{where}[{name!r}] selector"),
                check_attribute_name(attribute, where=f"{where}[{name!r}] attribute name"),
            )
        )
    return tuple(parsed)
