"""JobConfig: PascalCase wire form, enum names, pass-through, and one clear error per bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scrapy_wds import JobConfig, JobConfigError

URL = "https://books.example/"


def test_minimal_config_is_just_the_start_urls() -> None:
    assert JobConfig(start_urls=[URL]).to_wire() == {"StartUrls": [URL]}


def test_every_known_field_lands_on_its_documented_wire_path() -> None:
    config = JobConfig(
        start_urls=[URL, "http://other.example/a"],
        type="intranet",
        headers={"User-Agent": "bot", "Accept-Language": ["en", "fr"]},
        restart_mode="fromscratch",
        suppress_https_certificate_validation=True,
        use_cookies=False,
        use_proxy=True,
        send_overt_requests_on_proxies_failure=False,
        iterate_proxy_response_codes=[401, 403],
        proxies=[
            {
                "host": "proxy.local",
                "port": 3128,
                "protocol": "SOCKS5",
                "user_name": "u",
                "password": "p",
                "connections_limit": 4,
                "available_hosts": ["a.example"],
            }
        ],
        error_policy="retry",
        retry_delay_ms=500,
        retries_limit=3,
        max_response_size_kb=1000,
        max_redirect_hops=10,
        request_timeout_sec=30,
        crawl_delays={"books.example": "0-3", "other.example": 2, "third.example": "ROBOTS"},
        cross_domain_access={"AllowedDomains": ["cdn.example"]},
    )
    assert config.to_wire() == {
        "StartUrls": [URL, "http://other.example/a"],
        "Type": "Intranet",
        "Headers": {
            "DefaultRequestHeaders": [
                {"Name": "User-Agent", "Values": ["bot"]},
                {"Name": "Accept-Language", "Values": ["en", "fr"]},
            ]
        },
        "Restart": {"RestartMode": "FromScratch"},
        "Https": {"SuppressHttpsCertificateValidation": True},
        "Cookies": {"UseCookies": False},
        "Proxy": {
            "UseProxy": True,
            "SendOvertRequestsOnProxiesFailure": False,
            "IterateProxyResponseCodes": "401, 403",
            "Proxies": [
                {
                    "Host": "proxy.local",
                    "Port": 3128,
                    "Protocol": "socks5",
                    "UserName": "u",
                    "Password": "p",
                    "ConnectionsLimit": 4,
                    "AvailableHosts": ["a.example"],
                }
            ],
        },
        "DownloadErrorHandling": {
            "Policy": "Retry",
            "RetryPolicyParams": {"RetryDelayMs": 500, "RetriesLimit": 3},
        },
        "CrawlersProtectionBypass": {
            "MaxResponseSizeKb": 1000,
            "MaxRedirectHops": 10,
            "RequestTimeoutSec": 30,
            "CrawlDelays": [
                {"Host": "books.example", "Delay": "0-3"},
                {"Host": "other.example", "Delay": "2"},
                {"Host": "third.example", "Delay": "robots"},
            ],
        },
        "CrossDomainAccess": {"AllowedDomains": ["cdn.example"]},
    }


def test_unknown_parts_pass_through_untouched_and_merge_into_known_sections() -> None:
    wire = JobConfig(
        start_urls=[URL],
        use_proxy=True,
        extra={"FutureSection": {"Knob": [1, "two"]}, "Proxy": {"NewProxyFlag": True}},
    ).to_wire()
    assert wire["FutureSection"] == {"Knob": [1, "two"]}
    assert wire["Proxy"] == {"UseProxy": True, "NewProxyFlag": True}


BAD_INPUTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"start_urls": []}, ["JobConfig.start_urls", "empty"]),
    ({"start_urls": URL}, ["JobConfig.start_urls", "list of URLs"]),
    (
        {"start_urls": ["/relative/page"]},
        ["JobConfig.start_urls[0]", "'/relative/page'", "absolute"],
    ),
    ({"start_urls": [URL, "ftp://x.example/"]}, ["JobConfig.start_urls[1]"]),
    ({"type": "Cloud"}, ["JobConfig.type", "'Cloud'", "Internet, Intranet"]),
    ({"restart_mode": "Sometimes"}, ["JobConfig.restart_mode", "Continue, FromScratch"]),
    ({"error_policy": 1}, ["JobConfig.error_policy", "Skip, Retry"]),
    (
        {"crawl_delays": {"books.example": "3s"}},
        ["JobConfig.crawl_delays['books.example']", "'3s'", '"0-3"', '"robots"'],
    ),
    (
        {"crawl_delays": {"books.example": "3-1"}},
        ["JobConfig.crawl_delays['books.example']", "low to high"],
    ),
    (
        {"crawl_delays": {"books.example": "0.5"}},
        ["JobConfig.crawl_delays['books.example']", "whole seconds"],
    ),
    ({"crawl_delays": {"books.example": -1}}, ["JobConfig.crawl_delays['books.example']", "-1"]),
    ({"crawl_delays": {"books.example": ""}}, ["JobConfig.crawl_delays['books.example']"]),
    ({"crawl_delays": {"books.example": True}}, ["JobConfig.crawl_delays['books.example']"]),
    ({"crawl_delays": ["books.example", 3]}, ["JobConfig.crawl_delays", "mapping of host"]),
    (
        {"proxies": [{"host": "p", "port": 1, "protocol": "ftp"}]},
        ["JobConfig.proxies[0].protocol", "http, https, socks5"],
    ),
    ({"proxies": [{"host": "p"}]}, ["JobConfig.proxies[0]", "port"]),
    ({"iterate_proxy_response_codes": "401, nope"}, ["JobConfig.iterate_proxy_response_codes"]),
    ({"use_cookies": "yes"}, ["JobConfig.use_cookies", "True or False"]),
    ({"retries_limit": -2}, ["JobConfig.retries_limit", ">= 0"]),
    ({"headers": {"X-A": 3}}, ["JobConfig.headers['X-A']"]),
    ({"cross_domain_access": "all"}, ["JobConfig.cross_domain_access", "mapping"]),
    ({"type": "Internet", "extra": {"type": "Intranet"}}, ["JobConfig.extra['type']", "one place"]),
]


@pytest.mark.parametrize(("changes", "expected"), BAD_INPUTS)
def test_bad_input_gets_an_error_naming_the_field(
    changes: dict[str, Any], expected: list[str]
) -> None:
    kwargs: dict[str, Any] = {"start_urls": [URL], **changes}
    with pytest.raises(JobConfigError) as info:
        JobConfig(**kwargs).validate()
    for text in expected:
        assert text in str(info.value)


def test_an_unknown_keyword_is_kept_for_start_and_named_with_a_guess() -> None:
    # In a class body this runs at import: a TypeError there is a Scrapy traceback.
    config = JobConfig(strat_urls=["http://site.test/"], type="Intranet")  # type: ignore[call-arg]
    assert config.type == "Intranet"
    with pytest.raises(JobConfigError) as info:
        config.to_wire()
    message = str(info.value)
    assert message.startswith("JobConfig has no field 'strat_urls' (did you mean 'start_urls'?)")
    assert message.endswith("(wire keys the server knows go in extra={...})")
    assert "its fields are" not in message  # the guess says enough


def test_a_keyword_with_no_near_name_is_named_alone() -> None:
    with pytest.raises(JobConfigError, match=r"no field 'zzz'; its fields are start_urls, type"):
        JobConfig(start_urls=["http://site.test/"], zzz=1).to_wire()  # type: ignore[call-arg]


def test_missing_start_urls_is_a_field_error_not_a_type_error() -> None:
    with pytest.raises(JobConfigError, match=re.escape("JobConfig.start_urls is empty")):
        JobConfig().to_wire()


def test_the_wrapped_constructor_keeps_positional_use_equality_and_replace() -> None:
    import dataclasses

    config = JobConfig(["http://site.test/"], "Intranet")
    assert config == JobConfig(start_urls=["http://site.test/"], type="Intranet")
    assert dataclasses.replace(config, type="Internet").to_wire()["Type"] == "Internet"
