"""The reference pages' tables, generated from the package's own code.

Settings come from each half's table (``SETTINGS`` of :class:`Setting` rows,
or a plain ``DEFAULTS`` dict where a half has not grown one yet); stats,
close reasons and meta keys are found by reading the package's source (the
``ast`` of each module, nothing is executed), so the reference cannot list a
name the code no longer uses, nor miss one it added.

The functions here are also what ``tests/packaging/test_docs_reference.py``
checks against the code; the Sphinx directives only print them.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[2] / "scrapy_wds"
#: The modules holding each half's settings table.
SETTINGS_MODULES = ("scrapy_wds._wds._settings", "scrapy_wds._hasdata._settings")
SETTING_NAME = re.compile(r"(WDS|HASDATA)_[A-Z0-9_]+")
STAT_PREFIXES = ("wds/", "hasdata/")
#: Calls whose first argument is a stat name being written.
STAT_WRITERS = frozenset({"inc_value", "set_value", "max_value", "min_value", "count", "_count"})
CLOSE_REASON_NAME = re.compile(r"CLOSE_[A-Z0-9_]+|[A-Z0-9_]*_REASON")
META_KEY_NAME = re.compile(r"([A-Z0-9_]+_)?META_KEY")
#: Module-level dicts of Scrapy meta keys the package sets on its own requests.
META_FLAGS_NAME = re.compile(r"[A-Z0-9_]*FLAGS")


@dataclass(frozen=True)
class SettingRow:
    name: str
    default: Any
    doc: str
    module: str


@dataclass(frozen=True)
class Found:
    """A name found in the source, and the module it was found in."""

    name: str
    module: str
    detail: str = ""


def settings_rows() -> list[SettingRow]:
    """Every setting in the halves' tables, with its default (from the code)."""
    rows: list[SettingRow] = []
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        table = getattr(module, "SETTINGS", None)
        if table is not None:
            rows += [
                SettingRow(name, row.default, row.doc, module_name) for name, row in table.items()
            ]
        else:  # a half that still keeps a bare DEFAULTS dict
            defaults = getattr(module, "DEFAULTS", {})
            rows += [SettingRow(name, value, "", module_name) for name, value in defaults.items()]
    return sorted(rows, key=lambda row: row.name)


def _modules() -> Iterator[tuple[str, ast.Module]]:
    """The package's own modules (not the emulators), parsed."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "testing" in relative.parts:
            continue
        dotted = ".".join(relative.parts).removesuffix(".__init__")
        yield dotted, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def settings_read_by_code() -> set[str]:
    """Every ``WDS_*``/``HASDATA_*`` string the package's code names."""
    return {
        node.value
        for _, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SETTING_NAME.fullmatch(node.value)
    }


def _placeholder(value: ast.expr) -> str:
    """A readable ``{name}`` for the variable part of an f-string stat name."""
    if isinstance(value, ast.Name):
        name = value.id
    elif isinstance(value, ast.Attribute):
        name = value.attr
    elif isinstance(value, ast.Call):
        name = _placeholder(value.func).strip("{}")
    elif isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
        name = str(value.slice.value)
    else:
        name = "…"
    return "{" + name.strip("_") + "}"


def _text_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else _placeholder(part.value)
            for part in node.values
            if isinstance(part, (ast.Constant, ast.FormattedValue))
        )
    return None


def stats() -> list[Found]:
    """Every stat the package writes under ``wds/`` or ``hasdata/``."""
    found: dict[str, Found] = {}
    for module, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            text = _text_of(node.args[0])
            if called in STAT_WRITERS and text and text.startswith(STAT_PREFIXES):
                found.setdefault(text, Found(text, module, called))
    return sorted(found.values(), key=lambda stat: stat.name)


def _module_constants(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                yield target.id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            yield node.target.id, node.value


def close_reasons() -> list[Found]:
    """Every finish reason the package gives a crawl (``CLOSE_*``/``*_REASON`` constants)."""
    found: dict[str, Found] = {}
    for module, tree in _modules():
        for name, value in _module_constants(tree):
            if CLOSE_REASON_NAME.fullmatch(name) and isinstance(value, ast.Constant):
                found.setdefault(str(value.value), Found(str(value.value), module, name))
    return sorted(found.values(), key=lambda reason: reason.name)


def meta_keys() -> list[Found]:
    """The ``Request.meta`` keys the package owns, and the Scrapy ones it sets."""
    found: list[Found] = []
    for module, tree in _modules():
        for name, value in _module_constants(tree):
            if META_KEY_NAME.fullmatch(name) and isinstance(value, ast.Constant):
                found.append(Found(str(value.value), module, "the package's own key"))
            elif META_FLAGS_NAME.fullmatch(name) and isinstance(value, ast.Dict):
                for key, flag in zip(value.keys, value.values):
                    if isinstance(key, ast.Constant) and isinstance(flag, ast.Constant):
                        found.append(
                            Found(str(key.value), module, f"set to {flag.value!r} on API requests")
                        )
    return sorted(found, key=lambda key: key.name)


# --- Markdown -----------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _literal(value: Any) -> str:
    if value is None:
        return "*(none)*"
    try:
        shown = (
            json.dumps(value, ensure_ascii=False)
            if isinstance(value, (dict, list))
            else repr(value)
        )
    except TypeError:
        shown = repr(value)
    return f"``{_cell(shown)}``"


def settings_markdown() -> str:
    lines = ["| Setting | Default | What it changes |", "|---|---|---|"]
    lines += [
        f"| `{row.name}` | {_literal(row.default)} | {_cell(row.doc) or '*(not described yet)*'} |"
        for row in settings_rows()
    ]
    return "\n".join(lines)


def _found_markdown(rows: list[Found], heading: str, detail: str) -> str:
    lines = [f"| {heading} | {detail} | Module |", "|---|---|---|"]
    lines += [f"| `{_cell(row.name)}` | {_cell(row.detail)} | `{row.module}` |" for row in rows]
    return "\n".join(lines)


def stats_markdown() -> str:
    return _found_markdown(stats(), "Stat", "Written with")


def close_reasons_markdown() -> str:
    return _found_markdown(close_reasons(), "Finish reason", "Constant")


def meta_keys_markdown() -> str:
    return _found_markdown(meta_keys(), "Meta key", "Use")


# --- Sphinx -------------------------------------------------------------------


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    def directive(render: Any) -> type[SphinxDirective]:
        class Table(SphinxDirective):
            """Prints one generated table (Markdown, parsed by MyST)."""

            def run(self) -> list[nodes.Node]:
                for path in PACKAGE.rglob("*.py"):
                    self.env.note_dependency(str(path))
                holder = nodes.container()
                text = StringList(render().splitlines(), source="scrapy_wds_reference")
                self.state.nested_parse(text, self.content_offset, holder)
                return list(holder.children)

        return Table

    app.add_directive("scrapy-wds-settings", directive(settings_markdown))
    app.add_directive("scrapy-wds-stats", directive(stats_markdown))
    app.add_directive("scrapy-wds-close-reasons", directive(close_reasons_markdown))
    app.add_directive("scrapy-wds-meta-keys", directive(meta_keys_markdown))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
