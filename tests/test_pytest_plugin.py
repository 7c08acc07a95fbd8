"""The installed pytest plugin gives a user's own test suite the three servers.

The user's tests run in a separate pytest process (``pytester``), exactly as in
a project that merely installed scrapy-wds: no conftest, no imports of the
fixtures, just their names.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import json
import urllib.error
import urllib.request

SEEN = {}


def status_of(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_all_three_answer_and_log_calls(wds_emulator, hasdata_emulator, demo_site):
    assert status_of(demo_site.url + "/robots.txt") == 200
    assert status_of(wds_emulator.url + "/health") == 200
    assert status_of(hasdata_emulator.url + "/scrapers/jobs/1",
                     {"x-api-key": hasdata_emulator.api_key}) == 404
    assert [c["path"] for c in wds_emulator.calls()] == ["/health"]
    assert [(c["path"], c["status"]) for c in hasdata_emulator.calls()] == [("/scrapers/jobs/1", 404)]
    assert demo_site.calls()[-1]["path"] == "/robots.txt"
    SEEN["urls"] = (wds_emulator.url, hasdata_emulator.url, demo_site.url)


def test_switches_can_be_changed(wds_emulator, hasdata_emulator):
    wds_emulator.configure(pending_polls=5)
    hasdata_emulator.configure(credits=0, api_key="another-key")
    assert wds_emulator.pending_polls == 5
    assert status_of(hasdata_emulator.url + "/scrapers/jobs/1", {"x-api-key": "another-key"}) == 404


def test_each_test_gets_fresh_servers_with_defaults(wds_emulator, hasdata_emulator, demo_site):
    # Same session servers (same ports)...
    assert (wds_emulator.url, hasdata_emulator.url, demo_site.url) == SEEN["urls"]
    # ...with the previous tests' calls forgotten and their switch changes undone.
    assert wds_emulator.calls() == []
    assert hasdata_emulator.calls() == []
    assert wds_emulator.pending_polls == 0
    assert hasdata_emulator.credits is None
    assert hasdata_emulator.api_key == "hasdata-test-key"


def test_truth_is_at_hand(demo_site):
    assert len(demo_site.truth()) == 200
    assert all(book["url"].startswith(demo_site.url) for book in demo_site.truth())
'''


def test_fixtures_serve_each_test_a_reset_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_spiders=USER_TESTS)
    # A subprocess, so the inner session sets up its own reactor and servers.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=4)


def test_a_failing_user_assertion_is_reported(pytester: pytest.Pytester) -> None:
    """The servers do not swallow failures: a wrong expectation about the call log fails."""
    pytester.makepyfile(
        test_user_wrong="""
def test_expects_a_call_that_never_happened(wds_emulator):
    assert wds_emulator.calls() != []
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
