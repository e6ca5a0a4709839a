"""Write an imported questionnaire as YAML text, each question under a comment naming its row of
the spreadsheet, and its long lists as CSV text."""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml

from forms.xlsform import ImportResult

INDENT = "      "


class _Dumper(yaml.SafeDumper):
    """Multi-line texts (a note shown before its question) as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _indented(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


def questionnaire_yaml(result: ImportResult, source: str) -> str:
    """The questionnaire file; `source` names the spreadsheet in the comments."""
    data = result.questionnaire
    header = {key: value for key, value in data.items() if key != "sections"}
    parts = [
        f"# Imported from {source} by `consultbot import`: each question names its row of the\n"
        "# 'survey' sheet, so that a problem can be traced back to the spreadsheet.\n",
        _dump(header),
        "sections:\n",
    ]
    for section in data["sections"]:
        row = result.section_rows.get(section["id"])
        if row is not None:
            parts.append(f"  # survey row {row}\n")
        head = _dump([{"id": section["id"], "title": section["title"]}])
        parts.append(_indented(head, "  "))
        parts.append("    questions:\n")
        for question in section["questions"]:
            row = result.question_rows.get(question["id"])
            if row is not None:
                parts.append(f"      # survey row {row}\n")
            parts.append(_indented(_dump([question]), INDENT))
    return "".join(parts)


def options_csv(rows: list[dict[str, str]]) -> str:
    """A long list as the CSV an ``options_file`` names (columns id, label or label_xx)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
