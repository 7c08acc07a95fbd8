"""The opt-in pytest plugin gives a user's own test suite the three servers.

The user's tests run in a separate pytest process (``pytester``), exactly as in
a project that installed scrapy-wds and named the plugin in its conftest.py;
a project that did not name it gets nothing from us, not even an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

OPT_IN = 'pytest_plugins = ["scrapy_wds.testing.pytest_plugin"]\n'

USER_TESTS = """
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
"""


def test_fixtures_serve_each_test_a_reset_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(test_user_spiders=USER_TESTS)
    # A subprocess, so the inner session sets up its own reactor and servers.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=4)


def test_a_failing_user_assertion_is_reported(pytester: pytest.Pytester) -> None:
    """The servers do not swallow failures: a wrong expectation about the call log fails."""
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(
        test_user_wrong="""
def test_expects_a_call_that_never_happened(wds_emulator):
    assert wds_emulator.calls() != []
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)


def test_without_opting_in_the_fixtures_are_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_needs_a_server(wds_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'wds_emulator' not found*"])


def test_the_package_registers_no_pytest_entry_point() -> None:
    """A ``pytest11`` entry point would load the plugin into every pytest run on the machine."""
    groups = {entry.group for entry in distribution("scrapy-wds").entry_points}
    assert "pytest11" not in groups


#: Runs pytest in-process and prints every module the run imported, as JSON.
_RUN_AND_LIST_MODULES = (
    "import json, sys, pytest\n"
    "code = pytest.main(['-q', '-p', 'no:cacheprovider'])\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    "sys.exit(code)\n"
)


def _modules_imported_by_pytest_in(project: Path) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    listing = run.stdout.rpartition("MODULES=")[2]
    return set(json.loads(listing))


def test_an_unrelated_pytest_run_imports_nothing_of_ours(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert True\n")
    imported = _modules_imported_by_pytest_in(tmp_path)
    assert "_pytest.python" in imported  # the run itself is seen...
    ours = [name for name in imported if name.split(".")[0] in ("scrapy_wds", "aiohttp")]
    assert ours == []  # ...and nothing of scrapy-wds or its emulators' aiohttp


def test_opting_in_imports_no_server_until_a_fixture_is_used(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(OPT_IN)
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert True\n")
    imported = _modules_imported_by_pytest_in(tmp_path)
    assert "scrapy_wds.testing.pytest_plugin" in imported
    assert not any(name.split(".")[0] == "aiohttp" for name in imported)
    assert not any(name.startswith("scrapy_wds.testing._") for name in imported)
