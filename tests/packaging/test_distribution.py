"""What ships: the sdist and wheel build, pass ``twine check``, carry the
metadata users and tools read, and install into a fresh venv that pays
nothing in an unrelated pytest run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

import scrapy_wds

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(
        sys.executable,
        "-m",
        "build",
        "--installer",
        "uv",
        "--sdist",
        "--wheel",
        "--outdir",
        out,
        ROOT,
    )
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


def test_twine_finds_nothing_to_complain_about(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert {path.suffix for path in files} == {".whl", ".gz"}
    _run(sys.executable, "-m", "twine", "check", "--strict", *files)


def _metadata(dist: Path) -> tuple[Message, list[str], str]:
    """The wheel's METADATA, its file names and its entry_points.txt."""
    with zipfile.ZipFile(_wheel(dist)) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        entry_points = next(
            (archive.read(n).decode() for n in names if n.endswith("entry_points.txt")), ""
        )
    return metadata, names, entry_points


def test_the_wheel_metadata(dist: Path) -> None:
    metadata, names, entry_points = _metadata(dist)
    assert metadata["Version"] == scrapy_wds.__version__
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "scrapy_wds/py.typed" in names
    assert not any(n.startswith(("tests/", "docs/", "example_project/")) for n in names)
    pythons = {
        c.rpartition(":: ")[2]
        for c in metadata.get_all("Classifier") or []
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert pythons == {"3.10", "3.11", "3.12", "3.13"}
    assert metadata["Requires-Python"] == ">=3.10"
    assert {"emulators", "redis", "test"} <= set(metadata.get_all("Provides-Extra") or [])
    assert metadata.get_all("Project-URL")
    assert "pytest11" not in entry_points  # the plugin is opt-in


def test_the_sdist_ships_the_license(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "pyproject.toml", "scrapy_wds/__init__.py"} <= names


def test_the_min_constraints_pin_exactly_the_declared_floors(dist: Path) -> None:
    floors = {}
    for requirement in _metadata(dist)[0].get_all("Requires-Dist") or []:
        if "extra ==" not in requirement:
            name, _, version = requirement.partition(">=")
            floors[name.strip().lower()] = version.strip()
    pins = {}
    for line in (ROOT / "constraints-min.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    # "2.18" declared and "2.18.0" pinned are the same floor.
    assert {n: v.removesuffix(".0") for n, v in pins.items()} == {
        n: v.removesuffix(".0") for n, v in floors.items()
    }


#: In the fresh venv: pytest in an empty project, then the modules it imported.
_LIST_MODULES = (
    "import json, sys, pytest\n"
    "code = pytest.main(['-q', '-p', 'no:cacheprovider'])\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    "sys.exit(code)\n"
)
_TRY_THE_PLUGIN = (
    "import scrapy_wds.testing.pytest_plugin\n"
    "try:\n"
    "    from scrapy_wds.testing import WdsEmulator\n"
    "except ModuleNotFoundError as exc:\n"
    "    print('ERROR=' + str(exc))\n"
)


def test_a_fresh_install_without_extras_costs_pytest_nothing(dist: Path, tmp_path: Path) -> None:
    """``pip install scrapy-wds`` (no extras), then pytest in an unrelated project."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, venv)
    _run(
        sys.executable,
        "-m",
        "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        _wheel(dist),
        "pytest",
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_unrelated.py").write_text("def test_unrelated():\n    assert True\n")

    listed = _run(sys.executable, "-m", "uv", "pip", "list", "--python", python, "--format", "json")
    installed = {package["name"] for package in json.loads(listed)}
    assert "scrapy-wds" in installed

    output = _run(python, "-c", _LIST_MODULES, cwd=project)
    imported = json.loads(output.rpartition("MODULES=")[2])
    assert "_pytest.python" in imported
    assert [m for m in imported if m.split(".")[0] in ("scrapy_wds", "aiohttp")] == []

    # Opting in without the extra: the plugin loads, and a server either works
    # (Scrapy 2.19 itself depends on aiohttp) or says what to install.
    tried = _run(python, "-c", _TRY_THE_PLUGIN, cwd=project)
    if "aiohttp" in installed:
        assert "ERROR=" not in tried
    else:
        assert "scrapy-wds[emulators]" in tried.rpartition("ERROR=")[2]
