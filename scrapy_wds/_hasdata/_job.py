"""What a HasData job declaration is, and how it is checked before anything is paid for.

Jobs come from the ``HASDATA_JOBS`` setting (a list of dicts) and/or from the
spider (a ``hasdata_jobs`` attribute, or a method of that name, giving
:class:`HasDataJob` objects or dicts).  Everything is checked at spider open,
so a typo costs an error message, not credits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from itemadapter import ItemAdapter
from scrapy.utils.misc import load_object

# A slug goes into the URL path (/scrapers/{slug}/jobs): letters, digits and
# inner dashes/underscores only, so nothing can escape the path segment.
_SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")
_KNOWN_FIELDS = ("scraper", "input", "item_class", "field_map", "name", "content_key", "callback")


class HasDataJobError(ValueError):
    """A job declaration cannot be used; the message names the job and the field."""


@dataclass(frozen=True)
class HasDataJob:
    """One HasData scraper job the crawl should run.

    ``scraper`` is the slug (``"crawler"``, ``"contacts"``…), ``input`` the
    JSON body HasData's scraper takes.  Rows become dicts unless
    ``item_class`` (a class or its import path) is given; ``field_map``
    (``{"item_field": "row.path"}``) picks and renames row fields, dotted
    paths reaching into nested objects.  ``name`` keeps the job's identity
    stable across runs when its input changes; without it the identity is a
    hash of slug and input.  ``content_key`` names the row field used to
    recognise a webhook row that paging delivers again (webhooks carry no
    row ids).  ``callback`` names a spider method that gets each row (as the
    item it would become) instead of the pipelines; what it returns or yields
    is handled like a callback's output (requests crawled, items piped).
    """

    scraper: str
    input: Mapping[str, Any] = field(default_factory=dict)
    item_class: str | type | None = None
    field_map: Mapping[str, str] | None = None
    name: str | None = None
    content_key: str | None = None
    callback: str | None = None

    @cached_property
    def key(self) -> str:
        """The job's identity across runs: its name, else slug + hash of its input.

        Computed once per job: the hash serialises the whole input.
        """
        if self.name:
            return self.name
        canonical = json.dumps(
            {"scraper": self.scraper, "input": self.input},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return f"{self.scraper}-{hashlib.sha1(canonical.encode()).hexdigest()[:16]}"

    def resolved_item_class(self) -> type | None:
        if self.item_class is None or isinstance(self.item_class, type):
            return self.item_class
        return load_object(self.item_class)  # type: ignore[no-any-return]


def collect_jobs(setting_jobs: Any, spider: Any) -> list[HasDataJob]:
    """All jobs declared in ``HASDATA_JOBS`` and on the spider, checked."""
    declared: list[tuple[str, Any]] = []
    if isinstance(setting_jobs, str) and setting_jobs.strip():
        # From the command line: -s HASDATA_JOBS='[{"scraper": "crawler", ...}]'
        try:
            setting_jobs = json.loads(setting_jobs)
        except ValueError as exc:
            raise HasDataJobError(
                f"HASDATA_JOBS is a string that is not JSON ({exc}); give a JSON list of "
                'job objects such as [{"scraper": "crawler", "input": {"urls": [...]}}]'
            ) from None
    if setting_jobs:
        if not isinstance(setting_jobs, (list, tuple)):
            raise HasDataJobError(
                f"HASDATA_JOBS is a {type(setting_jobs).__name__}; set it to a list of "
                'job dicts such as [{"scraper": "crawler", "input": {"urls": [...]}}]'
            )
        declared += [(f"HASDATA_JOBS[{i}]", job) for i, job in enumerate(setting_jobs)]
    spider_jobs = getattr(spider, "hasdata_jobs", None)
    if callable(spider_jobs):
        spider_jobs = spider_jobs()
    if spider_jobs:
        if isinstance(spider_jobs, (Mapping, HasDataJob)) or not isinstance(spider_jobs, Iterable):
            raise HasDataJobError(
                f"{type(spider).__name__}.hasdata_jobs must be a list (or a method "
                "returning a list) of HasDataJob objects or dicts"
            )
        name = type(spider).__name__
        declared += [(f"{name}.hasdata_jobs[{i}]", job) for i, job in enumerate(spider_jobs)]
    jobs = [validate_job(where, job) for where, job in declared]
    for (where, _), job in zip(declared, jobs):
        _check_callback(where, job, spider)
    seen: dict[str, str] = {}
    for (where, _), job in zip(declared, jobs):
        if job.key in seen:
            raise HasDataJobError(
                f"{where} has the same identity ({job.key!r}) as {seen[job.key]}; "
                "give one of them a different 'name' (or remove the duplicate)"
            )
        seen[job.key] = where
    return jobs


def validate_job(where: str, declared: Any) -> HasDataJob:
    """Turn a dict (or a :class:`HasDataJob`) into a checked :class:`HasDataJob`."""
    if isinstance(declared, HasDataJob):
        job = declared
    elif isinstance(declared, Mapping):
        unknown = sorted(set(declared) - set(_KNOWN_FIELDS))
        if unknown:
            raise HasDataJobError(
                f"{where}: unknown field(s) {unknown}; a job takes {list(_KNOWN_FIELDS)}"
            )
        if "scraper" not in declared:
            raise HasDataJobError(
                f"{where}: field 'scraper' is missing; set it to a HasData scraper "
                "slug such as 'crawler' or 'contacts'"
            )
        job = HasDataJob(**declared)
    else:
        raise HasDataJobError(
            f"{where} is a {type(declared).__name__}; declare a job as a dict or a HasDataJob"
        )
    label = f"{where} (job {job.name or job.scraper!r})"
    _check_job(label, job)
    return job


def _check_job(label: str, job: HasDataJob) -> None:
    if not isinstance(job.scraper, str) or not _SLUG.match(job.scraper):
        raise HasDataJobError(
            f"{label}: field 'scraper' is {job.scraper!r}; set it to a HasData scraper "
            "slug (letters, digits, '-' or '_', e.g. 'crawler')"
        )
    if not isinstance(job.input, Mapping):
        raise HasDataJobError(
            f"{label}: field 'input' is a {type(job.input).__name__}; set it to a "
            "JSON object (dict) with the scraper's parameters"
        )
    try:
        json.dumps(job.input)
    except (TypeError, ValueError) as exc:
        raise HasDataJobError(
            f"{label}: field 'input' cannot be sent as JSON ({exc}); use only "
            "dicts, lists, strings, numbers, booleans and None"
        ) from None
    limit = job.input.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise HasDataJobError(
            f"{label}: field 'input.limit' is {limit!r}; set it to a non-negative "
            "integer (0 means no cap)"
        )
    if "webhook" in job.input:
        raise HasDataJobError(
            f"{label}: field 'input.webhook' is set by scrapy-wds itself; remove it "
            "and set HASDATA_WEBHOOK_ENABLED = True instead"
        )
    if job.name is not None and (not isinstance(job.name, str) or not job.name.strip()):
        raise HasDataJobError(
            f"{label}: field 'name' is {job.name!r}; set it to a non-empty string"
        )
    if job.content_key is not None and not isinstance(job.content_key, str):
        raise HasDataJobError(
            f"{label}: field 'content_key' is {job.content_key!r}; set it to a row field name"
        )
    _check_field_map(label, job.field_map)
    _check_item_class(label, job)


def _check_callback(where: str, job: HasDataJob, spider: Any) -> None:
    if job.callback is None:
        return
    label = f"{where} (job {job.name or job.scraper!r})"
    if not isinstance(job.callback, str) or not job.callback:
        raise HasDataJobError(
            f"{label}: field 'callback' is {job.callback!r}; set it to the name of a "
            "spider method, e.g. 'parse_row'"
        )
    if not callable(getattr(spider, job.callback, None)):
        raise HasDataJobError(
            f"{label}: field 'callback' is {job.callback!r}, which is not a method of "
            f"{type(spider).__name__}; define it or fix the name"
        )


def _check_field_map(label: str, field_map: Any) -> None:
    if field_map is None:
        return
    if not isinstance(field_map, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in field_map.items()
    ):
        raise HasDataJobError(
            f"{label}: field 'field_map' is {field_map!r}; set it to a dict of item "
            'field names to row paths, e.g. {"page_title": "title", "city": "address.city"}'
        )


def _check_item_class(label: str, job: HasDataJob) -> None:
    if job.item_class is None:
        return
    try:
        cls = job.resolved_item_class()
    except (ImportError, AttributeError, ValueError, NameError) as exc:
        raise HasDataJobError(
            f"{label}: field 'item_class' is {job.item_class!r}, which cannot be "
            f"imported ({exc}); give the full import path, e.g. 'myproject.items.PageItem'"
        ) from None
    if not isinstance(cls, type) or not ItemAdapter.is_item_class(cls):
        raise HasDataJobError(
            f"{label}: field 'item_class' is {job.item_class!r}, which is not an item "
            "class; use a scrapy.Item subclass, a dataclass, an attrs class or dict"
        )
