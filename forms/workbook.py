"""Read an XLSForm workbook (.xlsx) into `Sheet`s, and the CSV lists beside it: the I/O half of
the import (the translation itself is `forms.xlsform`, pure)."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from forms.xlsform import FormError, Row, Sheet

WANTED = ("survey", "choices", "settings")


def cell_text(value: Any) -> str:
    """A cell as the text a person typed: 1.0 is "1", TRUE is "true", a date is ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def read_workbook(path: Path) -> dict[str, Sheet]:
    """The sheets survey, choices and settings of the workbook at `path` (by lower-case name).

    Raises `FormError` (an empty file, not a workbook, the old .xls format) or OSError."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    size = path.stat().st_size
    if size == 0:
        raise FormError(None, None, "the file is empty")
    if path.suffix.lower() == ".xls" or path.read_bytes()[:4] == b"\xd0\xcf\x11\xe0":
        raise FormError(
            None,
            None,
            "the old Excel .xls format cannot be read; open it in Excel or "
            "LibreOffice and save it as .xlsx",
        )
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise FormError(None, None, f"not an Excel workbook (.xlsx): {exc}") from exc
    try:
        sheets: dict[str, Sheet] = {}
        for worksheet in book.worksheets:
            key = worksheet.title.strip().lower()
            if key not in WANTED:
                sheets.setdefault(key, Sheet(worksheet.title, (), ()))
                continue
            rows = list(worksheet.iter_rows(values_only=True))
            if not rows:
                sheets[key] = Sheet(worksheet.title, (), ())
                continue
            header = tuple(cell_text(v).lower() for v in rows[0])
            columns = tuple(c for c in header if c)
            read: list[Row] = []
            for number, values in enumerate(rows[1:], start=2):
                cells = {
                    column: cell_text(value)
                    for column, value in zip(header, values, strict=False)
                    if column
                }
                if any(cells.values()):
                    read.append(Row(number, cells))
            sheets[key] = Sheet(worksheet.title, columns, tuple(read))
        return sheets
    finally:
        book.close()


def csv_loader(folder: Path) -> Callable[[str], list[dict[str, str]] | None]:
    """A `load_file` for `forms.xlsform.translate`: the rows of a CSV file in `folder`, or None
    when it is not there."""

    def load(name: str) -> list[dict[str, str]] | None:
        path = folder / name
        if not path.is_file():
            return None
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [dict(row) for row in csv.DictReader(handle)]

    return load
