"""Build XLSForm workbooks for the tests: sheets written from lists of rows with openpyxl."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from forms.xlsform import ImportOptions, ImportResult, Row, Sheet, translate

OPENS = datetime(2022, 1, 1, tzinfo=UTC)
CLOSES = datetime(2022, 12, 31, tzinfo=UTC)

SheetRows = Sequence[Sequence[Any]]


def write_workbook(path: Path, sheets: Mapping[str, SheetRows]) -> Path:
    """A .xlsx at `path` with one sheet per entry: its first row is the header."""
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def sheets_of(sheets: Mapping[str, SheetRows]) -> dict[str, Sheet]:
    """The same sheets as the reader gives them, without a file (rows numbered from 2)."""
    out: dict[str, Sheet] = {}
    for name, rows in sheets.items():
        header = tuple(str(c).strip().lower() for c in rows[0]) if rows else ()
        read = []
        for number, values in enumerate(rows[1:], start=2):
            cells = {
                column: "" if value is None else str(value)
                for column, value in zip(header, values, strict=False)
            }
            if any(cells.values()):
                read.append(Row(number, cells))
        out[name.lower()] = Sheet(name, tuple(c for c in header if c), tuple(read))
    return out


def imported(
    sheets: Mapping[str, SheetRows],
    files: Mapping[str, list[dict[str, str]]] | None = None,
    **options: Any,
) -> ImportResult:
    settings = ImportOptions(opens_at=OPENS, closes_at=CLOSES, source_name="test form", **options)
    return translate(sheets_of(sheets), settings, lambda name: (files or {}).get(name))


def questions(result: ImportResult) -> dict[str, dict[str, Any]]:
    return {q["id"]: q for s in result.questionnaire["sections"] for q in s["questions"]}


def table(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Rows given as mappings (column -> value) as a sheet: the header first, the union of the
    columns in order of appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    return [columns, *[[row.get(c) for c in columns] for row in rows]]


def form(
    survey: Sequence[Mapping[str, Any]],
    choices: Sequence[Mapping[str, Any]] = (),
    settings: Mapping[str, Any] | None = None,
) -> dict[str, list[list[Any]]]:
    sheets = {"survey": table(survey)}
    if choices:
        sheets["choices"] = table(choices)
    if settings:
        sheets["settings"] = table([settings])
    return sheets


def choice_rows(list_name: str, *names: str, **labels: str) -> list[dict[str, Any]]:
    """Choices of one list, labelled with their name in upper case unless `labels` says."""
    return [
        {"list_name": list_name, "name": name, "label": labels.get(name, name.upper())}
        for name in names
    ]
