"""The user mistakes the suite makes, and the one error line each must give.

This table is the single source of ``docs/mistakes.md``
(``python scripts/mistakes_doc.py`` writes it; a test fails when it is out of
date).  ``line`` is the exact error line, with ``{wds}``, ``{site}`` and
``{hasdata}`` standing for the emulators' URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BAD_CONFIG = "wds_bad_config"
UNREACHABLE = "wds_unreachable"
HASDATA_BAD_CONFIG = "hasdata_bad_config"
WDS_STOP = "WDS crawl stopped before sending anything: "
#: What the placeholders stand for in the docs.
DOC_URLS = {
    "wds": "http://localhost:2807",
    "site": "http://localhost:8000",
    "hasdata": "http://localhost:8300",
}


@dataclass(frozen=True)
class Mistake:
    id: str
    service: str  # "WDS", "HasData" or "Scrapy" (a Scrapy setting WDS depends on)
    mistake: str  # what the user did, in words, for the docs
    line: str  # the one error line it gives
    names: str  # the setting, field or selector the line must name
    reason: str = BAD_CONFIG
    settings: dict[str, Any] = field(default_factory=dict)
    spider: str = "Books"
    #: Calls the API receives: 0 when the mistake is caught before sending.
    calls: int = 0


def render(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with the URL placeholders of every string in it filled in."""
    if isinstance(value, str):
        for key, url in urls.items():
            value = value.replace("{" + key + "}", url)
        return value
    if isinstance(value, dict):
        return {k: render(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, urls) for v in value]
    return value


def _job(**fields: Any) -> list[dict[str, Any]]:
    # A fixed URL: a job's identity hashes its input, and the line shows it.
    return [{"scraper": "crawler", "input": {"urls": ["http://books.example/"]}, **fields}]


CASES: list[Mistake] = [
    # -- WDS settings ------------------------------------------------------------
    Mistake(
        "api-url-no-scheme",
        "WDS",
        "WDS_API_URL without http://",
        "WDS crawl stopped before sending anything: WDS_API_URL must be an http:// or https:// URL with a host, e.g. http://localhost:2807; got 'localhost:2807' [wds_bad_config]",
        "WDS_API_URL",
        settings={"WDS_API_URL": "localhost:2807"},
    ),
    Mistake(
        "api-url-ftp",
        "WDS",
        "WDS_API_URL with another scheme",
        "WDS crawl stopped before sending anything: WDS_API_URL must be an http:// or https:// URL with a host, e.g. http://localhost:2807; got 'ftp://localhost:2807' [wds_bad_config]",
        "WDS_API_URL",
        settings={"WDS_API_URL": "ftp://localhost:2807"},
    ),
    Mistake(
        "api-url-password",
        "WDS",
        "a user name and password in WDS_API_URL",
        'WDS crawl stopped before sending anything: WDS_API_URL must not carry a user name or password (URLs end up in logs); put credentials in WDS_API_HEADERS, e.g. {"Authorization": "Bearer …"} [wds_bad_config]',
        "WDS_API_URL",
        settings={"WDS_API_URL": "http://me:hunter2@localhost:2807"},
    ),
    Mistake(
        "api-url-query",
        "WDS",
        "a token in WDS_API_URL's query",
        "WDS crawl stopped before sending anything: WDS_API_URL must not carry a query or fragment, got 'http://localhost:2807/?token=***'; put extra parameters in WDS_API_HEADERS instead [wds_bad_config]",
        "WDS_API_URL",
        settings={"WDS_API_URL": "http://localhost:2807/?token=hunter2"},
    ),
    Mistake(
        "api-url-port",
        "WDS",
        "a port that is not a number",
        "WDS crawl stopped before sending anything: WDS_API_URL 'http://localhost:28o7' does not parse as a URL; give the WDS server's base URL, e.g. http://localhost:2807 [wds_bad_config]",
        "WDS_API_URL",
        settings={"WDS_API_URL": "http://localhost:28o7"},
    ),
    Mistake(
        "api-url-missing",
        "WDS",
        "a WDS spider without WDS_API_URL",
        "WDS crawl stopped before sending anything: WDS_API_URL is not set: give the WDS server's base URL, e.g. http://localhost:2807 (a path such as http://host/wds/ is fine) [wds_bad_config]",
        "WDS_API_URL",
        settings={"WDS_API_URL": ""},
    ),
    Mistake(
        "headers-list",
        "WDS",
        "WDS_API_HEADERS as a list",
        "WDS crawl stopped before sending anything: WDS_API_HEADERS must be a dict of header names to values, got list [wds_bad_config]",
        "WDS_API_HEADERS",
        settings={"WDS_API_HEADERS": ["Authorization: Bearer hunter2"]},
    ),
    Mistake(
        "headers-bad-json",
        "WDS",
        "WDS_API_HEADERS as a string that is not JSON",
        'WDS crawl stopped before sending anything: WDS_API_HEADERS must be a dict or a JSON object string such as \'{"X-Tenant-Id": "default"}\'; the string is not valid JSON (Expecting value) [wds_bad_config]',
        "WDS_API_HEADERS",
        settings={"WDS_API_HEADERS": "Authorization: Bearer hunter2"},
    ),
    Mistake(
        "header-value-list",
        "WDS",
        "a header value that is not a string",
        "WDS crawl stopped before sending anything: WDS_API_HEADERS['X-Api-Key'] must be a string, got list [wds_bad_config]",
        "WDS_API_HEADERS",
        settings={"WDS_API_HEADERS": {"X-Api-Key": ["hunter2"]}},
    ),
    Mistake(
        "secret-headers-number",
        "WDS",
        "WDS_SECRET_HEADERS as a number",
        "WDS crawl stopped before sending anything: WDS_SECRET_HEADERS must be a list of header names (or a comma-separated string), got 5 [wds_bad_config]",
        "WDS_SECRET_HEADERS",
        settings={"WDS_SECRET_HEADERS": 5},
    ),
    Mistake(
        "poll-first-zero",
        "WDS",
        "WDS_POLL_FIRST_DELAY = 0",
        "WDS crawl stopped before sending anything: WDS_POLL_FIRST_DELAY must be a number of seconds > 0, got 0 [wds_bad_config]",
        "WDS_POLL_FIRST_DELAY",
        settings={"WDS_POLL_FIRST_DELAY": 0},
    ),
    Mistake(
        "poll-wait-negative",
        "WDS",
        "a negative WDS_POLL_MAX_WAIT",
        "WDS crawl stopped before sending anything: WDS_POLL_MAX_WAIT must be a number of seconds > 0, got -1 [wds_bad_config]",
        "WDS_POLL_MAX_WAIT",
        settings={"WDS_POLL_MAX_WAIT": -1},
    ),
    Mistake(
        "poll-first-above-cap",
        "WDS",
        "a first poll delay above its cap",
        "WDS crawl stopped before sending anything: WDS_POLL_FIRST_DELAY (20 s) must not exceed WDS_POLL_MAX_DELAY (10 s) [wds_bad_config]",
        "WDS_POLL_FIRST_DELAY",
        settings={"WDS_POLL_FIRST_DELAY": 20},
    ),
    Mistake(
        "retry-times-negative",
        "WDS",
        "a negative WDS_RETRY_TIMES",
        "WDS crawl stopped before sending anything: WDS_RETRY_TIMES must be a whole number ≥ 0, got -1 [wds_bad_config]",
        "WDS_RETRY_TIMES",
        settings={"WDS_RETRY_TIMES": -1},
    ),
    Mistake(
        "retry-times-fraction",
        "WDS",
        "a fractional WDS_RETRY_TIMES",
        "WDS crawl stopped before sending anything: WDS_RETRY_TIMES must be a whole number ≥ 0, got 2.5 [wds_bad_config]",
        "WDS_RETRY_TIMES",
        settings={"WDS_RETRY_TIMES": 2.5},
    ),
    Mistake(
        "retry-delay-word",
        "WDS",
        "a word for WDS_RETRY_FIRST_DELAY",
        "WDS crawl stopped before sending anything: WDS_RETRY_FIRST_DELAY must be a number of seconds > 0, got 'soon' [wds_bad_config]",
        "WDS_RETRY_FIRST_DELAY",
        settings={"WDS_RETRY_FIRST_DELAY": "soon"},
    ),
    Mistake(
        "scrape-multiple-put",
        "WDS",
        "WDS_SCRAPE_MULTIPLE_METHOD = put",
        'WDS crawl stopped before sending anything: WDS_SCRAPE_MULTIPLE_METHOD is \'put\'; use "auto" (GET while the URL is short, POST beyond), "get" or "post" [wds_bad_config]',
        "WDS_SCRAPE_MULTIPLE_METHOD",
        settings={"WDS_SCRAPE_MULTIPLE_METHOD": "put"},
    ),
    Mistake(
        "start-patience-negative",
        "WDS",
        "a negative WDS_START_PATIENCE",
        "WDS crawl stopped before sending anything: WDS_START_PATIENCE must be a number of seconds ≥ 0, got -5 [wds_bad_config]",
        "WDS_START_PATIENCE",
        settings={"WDS_START_PATIENCE": -5},
    ),
    Mistake(
        "selector-warn-negative",
        "WDS",
        "a negative WDS_SELECTOR_WARN_PAGES",
        "WDS crawl stopped before sending anything: WDS_SELECTOR_WARN_PAGES must be a whole number ≥ 0, got -1 [wds_bad_config]",
        "WDS_SELECTOR_WARN_PAGES",
        settings={"WDS_SELECTOR_WARN_PAGES": -1},
    ),
    # -- Scrapy settings a WDS crawl depends on --------------------------------------
    Mistake(
        "concurrency-zero",
        "Scrapy",
        "CONCURRENT_REQUESTS = 0 (hung before)",
        "WDS crawl stopped before sending anything: CONCURRENT_REQUESTS must be a whole number ≥ 1, got 0 [wds_bad_config]",
        "CONCURRENT_REQUESTS",
        settings={"CONCURRENT_REQUESTS": 0},
    ),
    Mistake(
        "concurrency-negative",
        "Scrapy",
        "a negative CONCURRENT_REQUESTS",
        "WDS crawl stopped before sending anything: CONCURRENT_REQUESTS must be a whole number ≥ 1, got -4 [wds_bad_config]",
        "CONCURRENT_REQUESTS",
        settings={"CONCURRENT_REQUESTS": -4},
    ),
    Mistake(
        "per-domain-zero",
        "Scrapy",
        "CONCURRENT_REQUESTS_PER_DOMAIN = 0",
        "WDS crawl stopped before sending anything: CONCURRENT_REQUESTS_PER_DOMAIN must be a whole number ≥ 1, got 0 [wds_bad_config]",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 0},
    ),
    Mistake(
        "items-zero",
        "Scrapy",
        "CONCURRENT_ITEMS = 0",
        "WDS crawl stopped before sending anything: CONCURRENT_ITEMS must be a whole number ≥ 1, got 0 [wds_bad_config]",
        "CONCURRENT_ITEMS",
        settings={"CONCURRENT_ITEMS": 0},
    ),
    Mistake(
        "api-slot-zero",
        "Scrapy",
        "a DOWNLOAD_SLOTS entry for the API host with concurrency 0",
        "WDS crawl stopped before sending anything: DOWNLOAD_SLOTS['127.0.0.1']['concurrency'] must be a whole number ≥ 1, got 0 [wds_bad_config]",
        "DOWNLOAD_SLOTS",
        settings={"DOWNLOAD_SLOTS": {"127.0.0.1": {"concurrency": 0}}},
    ),
    # -- what the spider declares ---------------------------------------------------
    Mistake(
        "jobconfig-typo-at-import",
        "WDS",
        "a misspelt JobConfig keyword in the class body",
        "WDS crawl stopped before sending anything: spider 'typo_at_import': JobConfig has no field 'strat_urls' (did you mean 'start_urls'?) (wire keys the server knows go in extra={...}) [wds_bad_config]",
        "strat_urls",
        spider="TypoAtImport",
    ),
    Mistake(
        "jobconfig-unknown-field",
        "WDS",
        "a JobConfig keyword that does not exist",
        "WDS crawl stopped before sending anything: spider 'books': JobConfig has no field 'restart' (did you mean 'restart_mode'?) (wire keys the server knows go in extra={...}) [wds_bad_config]",
        "restart",
        spider="UnknownJobField",
    ),
    Mistake(
        "jobconfig-empty-start-urls",
        "WDS",
        "JobConfig(start_urls=[])",
        "WDS crawl stopped before sending anything: spider 'empty_start_urls': JobConfig.start_urls is empty; give at least one absolute http(s) page URL [wds_bad_config]",
        "JobConfig.start_urls",
        spider="EmptyStartUrls",
    ),
    Mistake(
        "jobconfig-relative-url",
        "WDS",
        "a relative start URL",
        "WDS crawl stopped before sending anything: spider 'relative_start_url': JobConfig.start_urls[0] '/catalogue/' is not an absolute http(s) URL [wds_bad_config]",
        "JobConfig.start_urls[0]",
        spider="RelativeStartUrl",
    ),
    Mistake(
        "jobconfig-restart-mode",
        "WDS",
        "an unknown restart_mode",
        "WDS crawl stopped before sending anything: spider 'books': JobConfig.restart_mode is 'Fresh'; use one of: Continue, FromScratch [wds_bad_config]",
        "JobConfig.restart_mode",
        spider="BadRestartMode",
    ),
    Mistake(
        "jobconfig-crawl-delay",
        "WDS",
        'a crawl delay written "3s"',
        "WDS crawl stopped before sending anything: spider 'books': JobConfig.crawl_delays['books.example'] is '3s'; use whole seconds (\"3\"), a range (\"0-3\") or \"robots\" [wds_bad_config]",
        "JobConfig.crawl_delays",
        spider="BadCrawlDelay",
    ),
    Mistake(
        "jobconfig-proxy-port",
        "WDS",
        "a proxy with port 0",
        "WDS crawl stopped before sending anything: spider 'books': JobConfig.proxies[0] needs a port between 1 and 65535, not 0 [wds_bad_config]",
        "JobConfig.proxies[0]",
        spider="BadProxyPort",
    ),
    Mistake(
        "jobconfig-extra-twice",
        "WDS",
        "a field set both as an attribute and in extra",
        "WDS crawl stopped before sending anything: spider 'books': JobConfig.extra['Type'] sets a part of the config that a JobConfig attribute already sets; set it in one place only [wds_bad_config]",
        "JobConfig.extra['Type']",
        spider="ExtraTwice",
    ),
    Mistake(
        "jobconfig-negative-retries",
        "WDS",
        "a negative retries_limit",
        "WDS crawl stopped before sending anything: spider 'books': JobConfig.retries_limit must be a whole number >= 0, not -1 [wds_bad_config]",
        "JobConfig.retries_limit",
        spider="NegativeRetries",
    ),
    Mistake(
        "no-job",
        "WDS",
        "no wds_job, no wds_job_config(), no start_urls",
        "WDS crawl stopped before sending anything: spider 'no_job' declares no WDS job: set wds_job = JobConfig(start_urls=[...]) on it, override wds_job_config(), or set start_urls [wds_bad_config]",
        "wds_job",
        spider="NoJob",
    ),
    Mistake(
        "job-config-dict",
        "WDS",
        "wds_job_config() returning a dict",
        "WDS crawl stopped before sending anything: spider 'books': wds_job_config() must return a JobConfig, not {'StartUrls': ['{site}/']} [wds_bad_config]",
        "wds_job_config()",
        spider="ConfigIsADict",
    ),
    Mistake(
        "job-name-empty",
        "WDS",
        'wds_job_name = ""',
        "WDS crawl stopped before sending anything: spider 'books': wds_job_name must be a non-empty string (it names the WDS job) [wds_bad_config]",
        "wds_job_name",
        spider="EmptyJobName",
    ),
    Mistake(
        "start-callback-missing",
        "WDS",
        "wds_start_callback naming no method",
        "WDS crawl stopped before sending anything: spider 'books': wds_start_callback must be a method of the spider (or its name), not 'prase': requests carry callbacks by name so they can be saved (JOBDIR) and shared (scrapy-redis) [wds_bad_config]",
        "wds_start_callback",
        spider="MissingStartCallback",
    ),
    Mistake(
        "rule-no-prefix",
        "WDS",
        "a selector without CSS:/XPATH:",
        "WDS crawl stopped before sending anything: spider 'noprefix': rules[0] follow selector 'ul.categories a' must start with 'CSS:' or 'XPATH:' (any case); selectors look like \"CSS: li.next a\" or \"XPATH: //li[@class='next']/a\" [wds_bad_config]",
        "ul.categories a",
        spider="NoPrefix",
    ),
    Mistake(
        "rule-bad-css",
        "WDS",
        "a CSS selector that does not parse",
        "WDS crawl stopped before sending anything: spider 'badcss': rules[0] follow selector 'CSS: ul.categories a[' is not valid CSS: Expected ident or '*', got <EOF at 16>; selectors look like \"CSS: li.next a\" or \"XPATH: //li[@class='next']/a\" [wds_bad_config]",
        "CSS: ul.categories a[",
        spider="BadCss",
    ),
    Mistake(
        "rule-bad-xpath",
        "WDS",
        "an XPath that does not parse",
        "WDS crawl stopped before sending anything: spider 'badxpath': rules[0] scrape['title'] selector 'XPATH: //h1[' is not valid XPATH: XPath error: Invalid expression in //h1[; selectors look like \"CSS: li.next a\" or \"XPATH: //li[@class='next']/a\" [wds_bad_config]",
        "XPATH: //h1[",
        spider="BadXpath",
    ),
    Mistake(
        "rule-follow-and-scrape",
        "WDS",
        "a rule with both follow and scrape",
        "WDS crawl stopped before sending anything: spider 'followandscrape': rules[0] must have either follow=<selector> or scrape={...} [wds_bad_config]",
        "rules[0]",
        spider="FollowAndScrape",
    ),
    Mistake(
        "rule-bad-pattern",
        "WDS",
        "an on= pattern that is not a regular expression",
        "WDS crawl stopped before sending anything: spider 'badpattern': rules[0] on='/category/(' is not a regular expression: missing ), unterminated subpattern at position 10 [wds_bad_config]",
        "rules[0] on=",
        spider="BadPattern",
    ),
    Mistake(
        "rule-unknown-item-field",
        "WDS",
        "a scrape field the item class lacks",
        "WDS crawl stopped before sending anything: spider 'unknownitemfield': rules[0]: Book has no field(s) ['name']; its fields are ['title', 'url'] [wds_bad_config]",
        "Book",
        spider="UnknownItemField",
    ),
    Mistake(
        "rule-values-mode",
        "WDS",
        'values="some"',
        "WDS crawl stopped before sending anything: spider 'badvaluesmode': rules[0] values is 'some'; use \"first\" or \"all\" [wds_bad_config]",
        "rules[0] values",
        spider="BadValuesMode",
    ),
    Mistake(
        "rules-empty",
        "WDS",
        "a WdsCrawlSpider with no rules",
        "WDS crawl stopped before sending anything: spider 'norules': rules is empty: list at least one WdsRule(follow=...) or WdsRule(scrape=...) [wds_bad_config]",
        "rules",
        spider="NoRules",
    ),
    Mistake(
        "rule-empty-attribute",
        "WDS",
        'attribute=""',
        "WDS crawl stopped before sending anything: spider 'emptyattribute': rules[0] attribute must be a non-empty attribute name (or \"val\" for the inner text), not '' [wds_bad_config]",
        "rules[0] attribute",
        spider="EmptyAttribute",
    ),
    Mistake(
        "rule-missing-callback",
        "WDS",
        "a rule callback naming no method",
        "WDS crawl stopped before sending anything: spider 'missingrulecallback': rules[0] callback must be a method of the spider (or its name), not 'parse_book': requests carry callbacks by name so they can be saved (JOBDIR) and shared (scrapy-redis) [wds_bad_config]",
        "parse_book",
        spider="MissingRuleCallback",
    ),
    Mistake(
        "rule-local-item-class",
        "WDS",
        "an item class defined inside a function",
        "WDS crawl stopped before sending anything: spider 'localitemclass': item_class mistakes.spiders._local_item_class.<locals>.LocalBook cannot be imported by that path (requests carry it by name so they can be saved and resumed); define it at module level [wds_bad_config]",
        "LocalBook",
        spider="LocalItemClass",
    ),
    # -- caught by the server, at the job start ------------------------------------------
    Mistake(
        "api-url-wrong-path",
        "WDS",
        "WDS_API_URL with a path the server does not serve",
        "WDS start of job 'books' failed (HTTP 404); server said: '404: Not Found'; what to do: the server at WDS_API_URL does not serve the WDS API under that path; set WDS_API_URL to the base under which /api/v2/ lives (e.g. http://localhost:2807, or http://host/wds/ behind a proxy); the call is not retried",
        "WDS_API_URL",
        settings={"WDS_API_URL": "{wds}/wds"},
        calls=1,
    ),
    Mistake(
        "api-down",
        "WDS",
        "the WDS API not running (for all of WDS_START_PATIENCE)",
        "WDS start of job 'books' failed (no answer); DownloadConnectionRefusedError: Connection was refused by other side: 111: Connection refused., still failing when WDS_START_PATIENCE (0.3 s) ran out; what to do: no working WDS API answered at WDS_API_URL; start the WDS server (or fix WDS_API_URL), or raise WDS_START_PATIENCE to wait longer for it",
        "WDS_START_PATIENCE",
        reason=UNREACHABLE,
        settings={"WDS_API_URL": "http://127.0.0.1:9", "WDS_START_PATIENCE": 0.3},
    ),
    # -- HasData -----------------------------------------------------------------------
    Mistake(
        "hasdata-page-limit",
        "HasData",
        "HASDATA_PAGE_LIMIT above 100",
        "HasData: HASDATA_PAGE_LIMIT is 250; HasData serves at most 100 rows per results page, set it to 100 or less",
        "HASDATA_PAGE_LIMIT",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_PAGE_LIMIT": 250, "HASDATA_JOBS": _job()},
    ),
    Mistake(
        "hasdata-jobs-not-json",
        "HasData",
        "HASDATA_JOBS as a string that is not JSON",
        'HASDATA_JOBS is a string that is not JSON (Expecting property name enclosed in double quotes: line 1 column 3 (char 2)); give a JSON list of job objects such as [{"scraper": "crawler", "input": {"urls": [...]}}]',
        "HASDATA_JOBS",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": "[{scraper: crawler}]"},
    ),
    Mistake(
        "hasdata-jobs-dict",
        "HasData",
        "HASDATA_JOBS as one dict instead of a list",
        'HASDATA_JOBS is a dict; set it to a list of job dicts such as [{"scraper": "crawler", "input": {"urls": [...]}}]',
        "HASDATA_JOBS",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": {"scraper": "crawler", "input": {}}},
    ),
    Mistake(
        "hasdata-unknown-field",
        "HasData",
        "a job field that does not exist",
        "HASDATA_JOBS[0]: unknown field(s) ['limit']; a job takes ['scraper', 'input', 'item_class', 'field_map', 'name', 'content_key', 'callback']",
        "HASDATA_JOBS[0]",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job(limit=10)},
    ),
    Mistake(
        "hasdata-no-scraper",
        "HasData",
        "a job without 'scraper'",
        "HASDATA_JOBS[0]: field 'scraper' is missing; set it to a HasData scraper slug such as 'crawler' or 'contacts'",
        "'scraper'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": [{"input": {"urls": ["{site}/"]}}]},
    ),
    Mistake(
        "hasdata-bad-slug",
        "HasData",
        "a scraper slug with a slash",
        "HASDATA_JOBS[0] (job 'scrapers/crawler'): field 'scraper' is 'scrapers/crawler'; set it to a HasData scraper slug (letters, digits, '-' or '_', e.g. 'crawler')",
        "'scraper'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": [{"scraper": "scrapers/crawler", "input": {}}]},
    ),
    Mistake(
        "hasdata-input-list",
        "HasData",
        "a job input that is a list",
        "HASDATA_JOBS[0] (job 'crawler'): field 'input' is a list; set it to a JSON object (dict) with the scraper's parameters",
        "'input'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": [{"scraper": "crawler", "input": ["{site}/"]}]},
    ),
    Mistake(
        "hasdata-negative-limit",
        "HasData",
        "a negative input.limit",
        "HASDATA_JOBS[0] (job 'crawler'): field 'input.limit' is -3; set it to a non-negative integer (0 means no cap)",
        "'input.limit'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={
            "HASDATA_JOBS": [{"scraper": "crawler", "input": {"urls": ["{site}/"], "limit": -3}}]
        },
    ),
    Mistake(
        "hasdata-webhook-in-input",
        "HasData",
        "input.webhook set by hand",
        "HASDATA_JOBS[0] (job 'crawler'): field 'input.webhook' is set by scrapy-wds itself; remove it and set HASDATA_WEBHOOK_ENABLED = True instead",
        "'input.webhook'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={
            "HASDATA_JOBS": [{"scraper": "crawler", "input": {"urls": ["{site}/"], "webhook": {}}}]
        },
    ),
    Mistake(
        "hasdata-empty-name",
        "HasData",
        "a job named ''",
        "HASDATA_JOBS[0] (job ' '): field 'name' is ' '; set it to a non-empty string",
        "'name'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job(name=" ")},
    ),
    Mistake(
        "hasdata-field-map",
        "HasData",
        "a field_map that is a list",
        'HASDATA_JOBS[0] (job \'crawler\'): field \'field_map\' is [\'title\']; set it to a dict of item field names to row paths, e.g. {"page_title": "title", "city": "address.city"}',
        "'field_map'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job(field_map=["title"])},
    ),
    Mistake(
        "hasdata-item-class-path",
        "HasData",
        "an item_class that does not import",
        "HASDATA_JOBS[0] (job 'crawler'): field 'item_class' is 'myproject.items.Nope', which cannot be imported (No module named 'myproject'); give the full import path, e.g. 'myproject.items.PageItem'",
        "'item_class'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job(item_class="myproject.items.Nope")},
    ),
    Mistake(
        "hasdata-item-class-not-item",
        "HasData",
        "an item_class that is not an item class",
        "HASDATA_JOBS[0] (job 'crawler'): field 'item_class' is 'json.JSONDecoder', which is not an item class; use a scrapy.Item subclass, a dataclass, an attrs class or dict",
        "'item_class'",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job(item_class="json.JSONDecoder")},
    ),
    Mistake(
        "hasdata-callback-missing",
        "HasData",
        "a job callback naming no spider method",
        "JobsWithCallback.hasdata_jobs[0] (job 'crawler'): field 'callback' is 'parse_row', which is not a method of JobsWithCallback; define it or fix the name",
        "'callback'",
        HASDATA_BAD_CONFIG,
        spider="JobsWithCallback",
    ),
    Mistake(
        "hasdata-duplicate",
        "HasData",
        "the same job declared twice",
        "HASDATA_JOBS[1] has the same identity ('crawler-28a4627e0d68bfe3') as HASDATA_JOBS[0]; give one of them a different 'name' (or remove the duplicate)",
        "HASDATA_JOBS[1]",
        HASDATA_BAD_CONFIG,
        spider="JobsOnly",
        settings={"HASDATA_JOBS": _job() + _job()},
    ),
]
