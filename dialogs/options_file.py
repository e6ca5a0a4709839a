"""The options of a question read from a CSV file (`options_file:`), parsed from its text.

Columns: `id`; `label` (the same in every language) or `label_fr`, `label_en`…; optional `group`
(or `group_fr`, `group_en`…); optional `synonyms`, separated by `|`. The first line names the
columns; a problem names its row as a spreadsheet would (the header is row 1). Pure: the loading
edge reads the file and hands its text here.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from dialogs.limits import MAX_ID_LENGTH, MAX_LIST_LABEL, MAX_LIST_OPTIONS, OTHER_OPTION_ID
from dialogs.model import Option
from dialogs.texts import Text

OPTION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
MAX_SYNONYM = 100


@dataclass(frozen=True)
class FileProblem:
    """A problem of an options file: `row` 0 for the file as a whole, 1 for its header."""

    row: int
    message: str


def parse_options_csv(
    text: str, languages: tuple[str, ...], *, other: bool = False
) -> tuple[tuple[Option, ...], list[FileProblem]]:
    """The options listed in `text`, and every problem found (options are kept only when none)."""
    problems: list[FileProblem] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return (), [FileProblem(0, f"not a valid CSV file: {exc}")]
    if not rows or not any(cell.strip() for cell in rows[0]):
        return (), [FileProblem(0, "empty file: the first line must name the columns (id, label)")]
    header = [cell.strip().lower() for cell in rows[0]]
    columns = {name: position for position, name in enumerate(header)}
    if len(columns) != len(header):
        problems.append(FileProblem(1, "a column is named twice"))
    known = {"id", "label", "group", "synonyms"} | {
        f"{kind}_{language}" for kind in ("label", "group") for language in languages
    }
    for name in header:
        if name not in known:
            problems.append(FileProblem(1, f"unknown column {name!r}"))
    if "id" not in columns:
        problems.append(FileProblem(1, "no 'id' column"))
    label_columns = _localised(columns, "label", languages)
    group_columns = _localised(columns, "group", languages)
    if label_columns is None:
        missing = [f"label_{lang}" for lang in languages if f"label_{lang}" not in columns]
        problems.append(
            FileProblem(
                1, "no 'label' column" + (f" (missing: {', '.join(missing)})" * bool(missing))
            )
        )
    if group_columns is None:
        missing = [f"group_{lang}" for lang in languages if f"group_{lang}" not in columns]
        problems.append(FileProblem(1, f"group columns missing: {', '.join(missing)}"))
    if problems or label_columns is None:
        return (), problems
    options: list[Option] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        option = _option(row, number, columns, label_columns, group_columns or {}, problems)
        if option is None:
            continue
        if option.id in seen:
            problems.append(
                FileProblem(number, f"duplicate id {option.id!r} (first in row {seen[option.id]})")
            )
            continue
        if other and option.id == OTHER_OPTION_ID:
            problems.append(FileProblem(number, "the id 'other' is reserved for `other: true`"))
            continue
        seen[option.id] = number
        options.append(option)
    if not options and not problems:
        problems.append(FileProblem(0, "no options: the file has a header and no rows"))
    if len(options) + other > MAX_LIST_OPTIONS:
        problems.append(
            FileProblem(0, f"{len(options) + other} choices: a list has at most {MAX_LIST_OPTIONS}")
        )
    return (tuple(options) if not problems else ()), problems


def _localised(
    columns: dict[str, int], kind: str, languages: tuple[str, ...]
) -> dict[str, int] | None:
    """Language → column of `kind` ("label", "group"): one column for all, or one per language;
    {} when there is none at all, None when some languages have theirs and others not."""
    if kind in columns:
        return {language: columns[kind] for language in languages}
    per_language = {
        lang: columns[f"{kind}_{lang}"] for lang in languages if f"{kind}_{lang}" in columns
    }
    if per_language and len(per_language) != len(languages):
        return None
    if not per_language and kind == "label":
        return None
    return per_language


def _cell(row: list[str], position: int | None) -> str:
    if position is None or position >= len(row):
        return ""
    return row[position].strip()


def _option(
    row: list[str],
    number: int,
    columns: dict[str, int],
    labels: dict[str, int],
    groups: dict[str, int],
    problems: list[FileProblem],
) -> Option | None:
    before = len(problems)
    option_id = _cell(row, columns.get("id"))
    if not OPTION_ID_RE.match(option_id):
        problems.append(
            FileProblem(number, f"id {option_id!r} must be lower-case letters, digits and '_'")
        )
    elif len(option_id) > MAX_ID_LENGTH:
        problems.append(FileProblem(number, f"id longer than {MAX_ID_LENGTH} characters"))
    label_values: dict[str, str] = {}
    shared = len(set(labels.values())) == 1 and len(labels) > 1
    for language, position in labels.items():
        value = " ".join(_cell(row, position).split())
        label_values[language] = value
        if shared and language != next(iter(labels)):
            continue  # one `label` column for every language: its problems are said once
        which = "the label" if shared else f"the {language!r} label"
        if not value:
            problems.append(
                FileProblem(number, f"no label in {language!r}" if not shared else "no label")
            )
        elif len(value) > MAX_LIST_LABEL:
            problems.append(
                FileProblem(
                    number, f"{which} is {len(value)} characters, more than {MAX_LIST_LABEL}"
                )
            )
    group_values = {lang: " ".join(_cell(row, pos).split()) for lang, pos in groups.items()}
    if any(group_values.values()) and not all(group_values.values()):
        problems.append(FileProblem(number, "a group is given in some languages and not others"))
    synonyms = tuple(
        s
        for s in (" ".join(part.split()) for part in _cell(row, columns.get("synonyms")).split("|"))
        if s
    )
    if any(len(s) > MAX_SYNONYM for s in synonyms):
        problems.append(FileProblem(number, f"a synonym is longer than {MAX_SYNONYM} characters"))
    if len(problems) > before:
        return None
    group = Text(group_values) if any(group_values.values()) else Text()
    return Option(option_id, Text(label_values), group, synonyms)
