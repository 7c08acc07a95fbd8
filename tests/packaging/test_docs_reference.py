"""The generated reference lists every setting the code reads, with the code's defaults."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    """docs/_ext/scrapy_wds_reference.py, the generator the Sphinx build uses."""
    path = ROOT / "docs" / "_ext" / "scrapy_wds_reference.py"
    spec = importlib.util.spec_from_file_location("scrapy_wds_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_setting_the_code_reads_is_in_the_settings_reference(reference: ModuleType) -> None:
    read = reference.settings_read_by_code()
    assert {"WDS_API_URL", "HASDATA_API_KEY"} <= read  # the scan sees the code at all
    documented = {row.name for row in reference.settings_rows()}
    assert sorted(read - documented) == []


def test_the_reference_shows_the_defaults_the_code_uses(reference: ModuleType) -> None:
    from scrapy_wds._wds import _settings as wds_settings

    table = getattr(wds_settings, "SETTINGS", None)
    expected = (
        {name: row.default for name, row in table.items()}
        if table is not None
        else dict(wds_settings.DEFAULTS)
    )
    shown = {row.name: row.default for row in reference.settings_rows()}
    assert {name: shown[name] for name in expected} == expected
    markdown = reference.settings_markdown()
    assert all(f"`{name}`" in markdown for name in expected)


def test_stats_close_reasons_and_meta_keys_are_found(reference: ModuleType) -> None:
    stats = {stat.name for stat in reference.stats()}
    assert {"wds/polls", "hasdata/rows"} <= stats
    assert all(name.startswith(("wds/", "hasdata/")) for name in stats)
    reasons = {reason.name for reason in reference.close_reasons()}
    assert any(reason.startswith("wds_") for reason in reasons)
    assert any(reason.startswith("hasdata_") for reason in reasons)
    assert "wds" in {key.name for key in reference.meta_keys()}
