"""Declarative WDS crawling: which links to follow where, which fields to scrape where.

In the spirit of Scrapy's ``CrawlSpider``: a :class:`WdsCrawlSpider` lists
:class:`WdsRule` objects and writes no callback for the common case::

    class BooksSpider(WdsCrawlSpider):
        name = "books"
        wds_job = JobConfig(start_urls=["https://books.example/"])
        rules = [
            WdsRule(follow="CSS: ul.categories a"),
            WdsRule(follow="CSS: li.next a", on=r"/category/"),
            WdsRule(follow="CSS: article.book h3 a", on=r"/category/"),
            WdsRule(scrape={"title": "CSS: h1"}, on=r"/book/", item=Book, url_field="url"),
        ]

Every task's page gets every rule whose ``on`` pattern is found in its URL.
Rules are checked when the spider starts (selectors, patterns, callbacks,
item fields), so a mistake stops the crawl before the job is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response

from scrapy_wds._wds._callbacks import WdsSpiderError, method_name
from scrapy_wds._wds._items import check_field_names, check_values_mode, item_class_path
from scrapy_wds._wds._mixin import WdsSpiderMixin
from scrapy_wds._wds._selectors import FieldSpec, check_attribute_name, parse_fields, parse_selector


@dataclass(frozen=True, eq=False)
class WdsRule:
    """Either ``follow`` (a selector whose links become tasks) or ``scrape`` (fields → item).

    ``on``: regular expression searched in the task's page URL (every page
    when ``None``).  Follow rules: ``callback`` gets the followed tasks (the
    rules again when ``None``), ``attribute`` is the link attribute (default
    ``href``).  Scrape rules: ``item`` is the item class (dict when ``None``),
    ``values`` ``"first"`` or ``"all"``, ``url_field`` a field for the page URL.
    """

    follow: str | None = None
    scrape: Mapping[str, FieldSpec] | None = None
    on: str | None = None
    callback: Callable[..., Any] | str | None = None
    attribute: str | None = None
    item: type | None = None
    values: str = "first"
    url_field: str | None = None

    def check(self, spider: object, where: str) -> _CheckedRule:
        """Validate against ``spider``; raise an error naming the rule and the problem."""
        if (self.follow is None) == (self.scrape is None):
            raise WdsSpiderError(f"{where} must have either follow=<selector> or scrape={{...}}")
        try:
            pattern = re.compile(self.on) if self.on is not None else None
        except (re.error, TypeError) as exc:
            raise WdsSpiderError(
                f"{where} on={self.on!r} is not a regular expression: {exc}"
            ) from None
        if self.follow is not None:
            parse_selector(self.follow, where=f"{where} follow selector")
            check_attribute_name(self.attribute, where=f"{where} attribute")
            if self.callback is not None:
                method_name(spider, self.callback, where=f"{where} callback")
            if (self.item, self.url_field, self.values) != (None, None, "first"):
                raise WdsSpiderError(f"{where}: item, values and url_field belong to scrape rules")
        else:
            assert self.scrape is not None
            fields = parse_fields(self.scrape, where=f"{where} scrape")
            item_class_path(self.item)
            check_values_mode(self.values, where=f"{where} values")
            names = [f.name for f in fields] + ([self.url_field] if self.url_field else [])
            check_field_names(self.item, names, where=where)
            if self.callback is not None or self.attribute is not None:
                raise WdsSpiderError(
                    f"{where}: callback and attribute belong to follow rules (scrape "
                    "fields take (selector, attribute) pairs)"
                )
        return _CheckedRule(self, pattern)


@dataclass(frozen=True)
class _CheckedRule:
    rule: WdsRule
    pattern: re.Pattern[str] | None

    def applies_to(self, url: str) -> bool:
        return self.pattern is None or self.pattern.search(url) is not None

    def request(self, spider: WdsSpiderMixin, response: Response) -> Request:
        rule = self.rule
        if rule.follow is not None:
            return spider.wds_crawl(
                response, rule.follow, callback=rule.callback or "parse", attribute=rule.attribute
            )
        assert rule.scrape is not None
        return spider.wds_scrape_multiple(
            response,
            rule.scrape,
            item_class=rule.item,
            values=rule.values,
            url_field=rule.url_field,
        )


def check_rules(spider: object, rules: object) -> list[_CheckedRule]:
    if isinstance(rules, (str, WdsRule)) or not isinstance(rules, Sequence):
        raise WdsSpiderError("rules must be a list of WdsRule")
    if not rules:
        raise WdsSpiderError(
            "rules is empty: list at least one WdsRule(follow=...) or WdsRule(scrape=...)"
        )
    checked = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, WdsRule):
            raise WdsSpiderError(f"rules[{index}] is {rule!r}, not a WdsRule")
        checked.append(rule.check(spider, f"rules[{index}]"))
    return checked


class WdsCrawlSpider(WdsSpiderMixin, Spider):
    """A spider driven by its :attr:`rules`; every task's page reaches :meth:`parse`.

    Rules know their calls in advance, so tasks skip their ``info`` call
    (``wds_info_first = False``): each page costs its crawl and scrape calls
    only.  On a page WDS could not download those calls answer 403, and are
    counted (``wds/failed/<action>``), not followed.  A subclass whose own
    callbacks read the task's state sets ``wds_info_first = True``.
    """

    rules: Sequence[WdsRule] = ()
    wds_info_first = False
    _wds_rules: list[_CheckedRule]

    def wds_check(self) -> None:
        super().wds_check()
        self._wds_rules = check_rules(self, self.rules)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        task = self.wds_task(response)
        if task.status is not None and not task.page_ok:
            # Known only when the task's info came first (wds_info_first = True).
            # Following links or scraping an error page would only make noise.
            self.crawler.stats.inc_value("wds/rules/pages_skipped")
            self.logger.info(
                "Not applying rules to %s: WDS state %s, HTTP status %s",
                task.url,
                task.state.name if task.state is not None else None,
                task.http_status,
            )
            return
        rules = self.__dict__.get("_wds_rules")
        if rules is None:
            rules = self._wds_rules = check_rules(self, self.rules)
        for rule in rules:
            if rule.applies_to(task.url):
                yield rule.request(self, response)
