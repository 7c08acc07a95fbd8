"""WDS_* settings: defaults, accepted forms, and errors that name the setting."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from scrapy_wds._wds import MIDDLEWARE_PATH, MIDDLEWARE_PRIORITY, configure_addon
from scrapy_wds._wds._middleware import WdsDownloaderMiddleware
from scrapy_wds._wds._settings import MASK, WdsSettings


def read(**values: object) -> WdsSettings:
    return WdsSettings.from_settings(Settings({"WDS_API_URL": "http://wds:2807", **values}))


def test_defaults() -> None:
    s = read()
    assert s.api_url == "http://wds:2807/"
    assert s.headers == {"X-Tenant-Id": "default"}
    assert (s.poll_first_delay, s.poll_max_delay, s.poll_max_wait) == (0.5, 10.0, 600.0)
    assert s.retry_times == 3


def test_base_url_with_path_keeps_path_and_one_slash() -> None:
    assert read(WDS_API_URL="http://host/wds").api_url == "http://host/wds/"
    assert read(WDS_API_URL="https://host/wds//").api_url == "https://host/wds/"


@pytest.mark.parametrize(
    "url, words",
    [
        (None, "WDS_API_URL is not set"),
        ("localhost:2807", "http:// or https://"),
        ("ftp://host/", "http:// or https://"),
        ("http://user:pw@host/", "WDS_API_HEADERS"),
        ("http://host/?tenant=1", "query"),
    ],
)
def test_bad_api_url_names_the_setting(url: object, words: str) -> None:
    with pytest.raises(ValueError, match="WDS_API_URL") as info:
        read(WDS_API_URL=url)
    assert words in str(info.value)
    assert "pw" not in str(info.value)


def test_headers_from_json_string_and_dict() -> None:
    assert read(WDS_API_HEADERS='{"X-Tenant-Id": "t1", "Authorization": "Bearer abc"}').headers == {
        "X-Tenant-Id": "t1",
        "Authorization": "Bearer abc",
    }
    assert read(WDS_API_HEADERS={"X-A": 1}).headers == {"X-A": "1"}
    assert read(WDS_API_HEADERS={}).headers == {}


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", {"X-A": ["secret-list"]}])
def test_bad_headers_name_the_setting_without_echoing_values(value: object) -> None:
    with pytest.raises(ValueError, match="WDS_API_HEADERS") as info:
        read(WDS_API_HEADERS=value)
    assert "secret-list" not in str(info.value)


def test_secret_headers_are_masked_and_redacted() -> None:
    s = read(
        WDS_API_HEADERS={
            "X-Tenant-Id": "acme",
            "Authorization": "Bearer tok-1",
            "X-Api-Key": "key-2",
            "Cookie": "sid=3",
            "X-Custom": "custom-4",
        },
        WDS_SECRET_HEADERS="X-Custom",
    )
    described = s.describe_headers()
    assert "X-Tenant-Id: acme" in described
    for secret in ("tok-1", "key-2", "sid=3", "custom-4"):
        assert secret not in described
        assert secret not in s.redact(f"echo: {secret}!")
    assert described.count(MASK) == 4
    assert s.redact("echo: acme") == "echo: acme"


@pytest.mark.parametrize(
    "name, value",
    [
        ("WDS_POLL_FIRST_DELAY", 0),
        ("WDS_POLL_MAX_DELAY", "soon"),
        ("WDS_POLL_MAX_WAIT", -5),
        ("WDS_RETRY_TIMES", -1),
        ("WDS_RETRY_TIMES", "many"),
        ("WDS_SECRET_HEADERS", 42),
    ],
)
def test_bad_numbers_name_the_setting(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        read(**{name: value})


def test_first_delay_above_cap_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"WDS_POLL_FIRST_DELAY .* must not exceed WDS_POLL_MAX_DELAY"
    ):
        read(WDS_POLL_FIRST_DELAY=20)
    with pytest.raises(ValueError, match="WDS_RETRY_FIRST_DELAY"):
        read(WDS_RETRY_FIRST_DELAY=31)


def test_configure_addon_fills_gaps_only() -> None:
    settings = Settings()
    settings.set("WDS_API_URL", "http://wds:2807", priority="project")
    settings.set("WDS_POLL_MAX_WAIT", 5, priority="project")
    configure_addon(settings)
    assert (
        settings.getdict("DOWNLOADER_MIDDLEWARES")[WdsDownloaderMiddleware] == MIDDLEWARE_PRIORITY
    )
    assert settings.getfloat("WDS_POLL_MAX_WAIT") == 5  # the user's value wins
    assert settings.getint("WDS_RETRY_TIMES") == 3


def test_configure_addon_keeps_the_users_middleware_priority() -> None:
    settings = Settings(
        {"WDS_API_URL": "http://wds", "DOWNLOADER_MIDDLEWARES": {MIDDLEWARE_PATH: 570}}
    )
    configure_addon(settings)
    assert settings.getdict("DOWNLOADER_MIDDLEWARES") == {MIDDLEWARE_PATH: 570}


def test_configure_addon_does_nothing_without_api_url() -> None:
    settings = Settings()
    configure_addon(settings)
    assert not settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert settings.get("WDS_RETRY_TIMES") is None


def test_configure_addon_frees_the_api_host_from_per_domain_politeness() -> None:
    settings = Settings(
        {"WDS_API_URL": "http://wds.internal:2807/base/", "CONCURRENT_REQUESTS": 24}
    )
    settings.set("DOWNLOAD_SLOTS", {"site.example": {"delay": 3}}, priority="project")
    configure_addon(settings)
    assert settings.getdict("DOWNLOAD_SLOTS") == {
        "site.example": {"delay": 3},
        "wds.internal": {"delay": 0, "concurrency": 24},
    }


def test_configure_addon_keeps_the_users_slot_for_the_api_host() -> None:
    settings = Settings()
    settings.set("WDS_API_URL", "http://wds.internal", priority="project")
    settings.set("DOWNLOAD_SLOTS", {"wds.internal": {"concurrency": 2}}, priority="project")
    configure_addon(settings)
    assert settings.getdict("DOWNLOAD_SLOTS") == {"wds.internal": {"concurrency": 2}}


def test_every_setting_has_one_row_with_a_sentence() -> None:
    from scrapy_wds._setting import Setting
    from scrapy_wds._wds._settings import DEFAULTS, SETTINGS

    assert all(name.startswith("WDS_") for name in SETTINGS)
    for name, row in SETTINGS.items():
        assert isinstance(row, Setting)
        assert row.doc.endswith(".") and row.doc[0].isupper(), name
    assert {n: r.default for n, r in SETTINGS.items() if r.default is not None} == DEFAULTS
    assert "WDS_API_URL" not in DEFAULTS  # no default: setting it is what enables WDS
    settings = Settings({"WDS_API_URL": "http://wds:2807"})
    configure_addon(settings)
    for name, value in DEFAULTS.items():
        assert settings[name] == value, name


def test_new_settings_defaults_and_bounds() -> None:
    s = read()
    assert (s.start_patience, s.scrape_multiple_method, s.selector_warn_pages) == (60.0, "auto", 20)
    assert read(WDS_START_PATIENCE=0).start_patience == 0.0  # no patience: give up at once
    assert read(WDS_SCRAPE_MULTIPLE_METHOD=" POST ").scrape_multiple_method == "post"
    for name, value in (
        ("WDS_START_PATIENCE", -1),
        ("WDS_SELECTOR_WARN_PAGES", 1.5),
        ("WDS_SCRAPE_MULTIPLE_METHOD", "put"),
    ):
        with pytest.raises(ValueError, match=name):
            read(**{name: value})


def test_every_bad_setting_is_named_at_once() -> None:
    from scrapy_wds._wds._settings import WdsSettingsError

    with pytest.raises(WdsSettingsError) as info:
        read(WDS_API_URL="localhost", WDS_RETRY_TIMES=-1, WDS_POLL_FIRST_DELAY=0)
    assert len(info.value.problems) == 3
    assert [p.split()[0] for p in info.value.problems] == [
        "WDS_POLL_FIRST_DELAY",
        "WDS_API_URL",
        "WDS_RETRY_TIMES",
    ]


def test_a_bad_number_is_not_also_compared_with_its_cap() -> None:
    from scrapy_wds._wds._settings import WdsSettingsError

    with pytest.raises(WdsSettingsError) as info:
        read(WDS_RETRY_FIRST_DELAY="soon", WDS_RETRY_MAX_DELAY=0.2)
    assert info.value.problems == [
        "WDS_RETRY_FIRST_DELAY must be a number of seconds > 0, got 'soon'"
    ]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://me:hunter2@wds/", "http://me:***@wds/"),
        ("http://wds/?token=hunter2&x=1", "http://wds/?token=***&x=***"),
        ("http://wds:2807/base", "http://wds:2807/base"),
    ],
)
def test_urls_in_messages_are_masked(url: str, shown: str) -> None:
    from scrapy_wds._wds._settings import masked_url

    assert masked_url(url) == shown


def test_the_api_slot_is_left_alone_when_concurrency_is_bad() -> None:
    # The bad value is reported, naming CONCURRENT_REQUESTS, when the spider opens.
    for bad in (0, -3, "many"):
        settings = Settings({"WDS_API_URL": "http://wds.internal", "CONCURRENT_REQUESTS": bad})
        configure_addon(settings)
        assert "wds.internal" not in settings.getdict("DOWNLOAD_SLOTS")
