"""The whole-result files a finished HasData job links to (``data`` field).

* ``json``: a bare JSON array of the rows (no wrapper, no row ids);
* ``csv``: a header of the columns (the job's columns first, then any other
  key in order of appearance) and one line per row; lists and objects are
  written as JSON in their cell, missing values as an empty cell;
* ``xlsx``: a real, minimal workbook (one sheet, the same cells as the CSV,
  every cell a string) built with the standard library.

Like the real service's presigned links they need no API key, are short-lived
(``link_ttl`` seconds) and may work only a few times (``link_uses``); the
files are rendered from the job's stored rows on each download.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from scrapy_wds.testing._server import text_error

#: Formats of the ``data`` links, in the order the record lists them.
FORMATS = ("csv", "json", "xlsx")

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _header(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    present = {key for row in rows for key in row}
    header = [c for c in columns if c in present]
    for row in rows:
        header += [key for key in row if key not in header]
    return header


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[list[str]]:
    header = _header(rows, columns)
    return [header] + [[_cell(row.get(key)) for key in header] for row in rows]


def render_json(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    return json.dumps(rows, ensure_ascii=False).encode()


def render_csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(_table(rows, columns))
    return out.getvalue().encode()


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="results" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    ),
}


def render_xlsx(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    sheet_rows = []
    for r, values in enumerate(_table(rows, columns), start=1):
        cells = "".join(
            f'<c r="{_column_name(c)}{r}" t="inlineStr"><is><t xml:space="preserve">'
            f"{escape(value)}</t></is></c>"
            for c, value in enumerate(values)
        )
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(sheet_rows)}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in _XLSX_PARTS.items():
            archive.writestr(name, xml)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


RENDERERS = {"json": render_json, "csv": render_csv, "xlsx": render_xlsx}


@dataclass
class _Link:
    format: str
    rows: Callable[[], list[dict[str, Any]]]
    columns: list[str]
    expires_at: float
    uses_left: int | None  # None: as many as wanted until it expires


class DownloadLinks:
    """The emulator's store of live download links, and their route handler."""

    route = "/downloads/{token}/{name}"

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}

    def clear(self) -> None:
        self._links = {}

    def mint(
        self,
        base_url: str,
        name: str,
        rows: Callable[[], list[dict[str, Any]]],
        columns: list[str],
        *,
        ttl: float,
        uses: int,
    ) -> dict[str, str]:
        """One fresh link per format, as the ``data`` field of a finished job."""
        links = {}
        expires_at = time.time() + float(ttl)
        for fmt in FORMATS:
            token = secrets.token_urlsafe(12)
            self._links[token] = _Link(fmt, rows, columns, expires_at, int(uses) or None)
            links[fmt] = f"{base_url}/downloads/{token}/{name}.{fmt}"
        return links

    async def serve(self, request: web.Request) -> web.Response:
        link = self._links.get(request.match_info["token"])
        if link is None:
            return text_error(404, "no such file")
        if time.time() > link.expires_at or link.uses_left == 0:
            return text_error(410, "this link has expired; read the rows from /results")
        if link.uses_left is not None:
            link.uses_left -= 1
        body = RENDERERS[link.format](link.rows(), link.columns)
        return web.Response(body=body, content_type=CONTENT_TYPES[link.format])
