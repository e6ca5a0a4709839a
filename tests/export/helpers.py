"""Helpers of the export tests: crafted responses, and readers that turn an export back into
answers (the inverse of the column layout), for CSV, XLSX and JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.export import FORMULA_PREFIXES
from dialogs import Answer, Phase, State, Survey, parse_survey
from dialogs.model import QuestionType
from storage.repository import NewResponse, ParticipantKey

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "surveys" / "poles-de-competitivite.yaml"


def bundled_survey() -> Survey:
    return parse_survey(
        BUNDLED.read_text(encoding="utf-8"),
        str(BUNDLED),
        lambda name: (BUNDLED.parent / name).read_text(encoding="utf-8"),
    )


def at(survey: Survey, days: float) -> datetime:
    return survey.opens_at + timedelta(days=days)


def response(
    survey: Survey,
    telegram_id: int,
    answers: Mapping[str, Answer],
    *,
    status: str = "submitted",
    reference: str | None = None,
    language: str = "fr",
    preview_name: str | None = None,
) -> NewResponse:
    submitted = status in ("submitted", "preview")
    state = State(
        language=language,
        phase=Phase.SUBMITTED if submitted else Phase.ANSWERING,
        answers=dict(answers),
        current=None if submitted else survey.questions[len(answers)].id,
        reference=(reference or f"REF-{telegram_id}") if submitted else None,
        submitted_at=at(survey, 2) if submitted else None,
    )
    key = (
        ParticipantKey.preview(preview_name)
        if preview_name is not None
        else ParticipantKey.telegram(telegram_id)
    )
    return NewResponse(key, state, at(survey, 1), status=status)  # type: ignore[arg-type]


FULL: dict[str, Answer] = {
    "consent": Answer(True),
    "actor_type": Answer("other", "Fondation d’entreprise 🚀"),
    "region": Answer("other", "Corse"),
    "cluster_member": Answer("yes"),
    "cluster_name": Answer(
        ("mer_bretagne_atlantique", "aerospace_valley", "other"), "Pôle oublié 🌊, bis"
    ),
    "member_since": Answer(2012),
    "satisfaction_overall": Answer(2),
    "dissatisfaction": Answer(("red_tape", "few_results", "other"), "Trop de réunions"),
    "services_used": Answer(("collab_projects", "eu_projects", "other"), "Club RH"),
    "services_value": Answer(4),
    "priorities": Answer(("skills", "ecological_transition", "collab_rd")),
    "mission_scope": Answer("rd_to_market"),
    "target_members": Answer("smes_midcaps"),
    "regions_role": Answer(5),
    "governance": Answer("state_and_regions"),
    "cluster_count": Answer("same"),
    "funding_balance": Answer("balanced"),
    "fee_acceptable": Answer(None),
    "action_level": Answer("european"),
    "partner_networks": Answer(("satt", "edih", "bpifrance", "other"), "France 2030"),
    "positioning_clarity": Answer(1),
    "comments": Answer("Première ligne\nDeuxième ligne = +1 @moi — « ça marche » ✅ 中文"),
    "contact_email": Answer("jeanne.dupont@example.fr"),
}
"""Every question type answered, "other" texts, a skipped optional number, accents and emoji."""

SHORT: dict[str, Answer] = {
    "consent": Answer(True),
    "actor_type": Answer("company_sme"),
    "company_rd": Answer("regular"),
    "region": Answer("bretagne"),
    "cluster_member": Answer("no"),
    "satisfaction_overall": Answer(4),
    "priorities": Answer(("digital_transition", "international", "territories")),
    "mission_scope": Answer("no_opinion"),
    "target_members": Answer("startups"),
    "regions_role": Answer(3),
    "governance": Answer("regions"),
    "cluster_count": Answer("fewer"),
    "funding_balance": Answer("mostly_public"),
    "fee_acceptable": Answer(1500),
    "action_level": Answer("regional"),
    "partner_networks": Answer(("carnot",)),
    "positioning_clarity": Answer(3),
    "comments": Answer(None),
    "contact_email": Answer(None),
}
"""A non-member of a company: other questions shown, optional texts skipped."""


# -- reading exports back ------------------------------------------------------------------------


def unneutralize(text: str) -> str:
    if len(text) >= 2 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        return text[1:]
    return text


def _number(cell: Any) -> int | float:
    if isinstance(cell, int | float):
        return cell
    text = str(cell)
    return float(text) if any(c in text for c in ".eE") else int(text)


def _empty(cell: Any) -> bool:
    return cell is None or cell == ""


def decode_row(survey: Survey, record: Mapping[str, Any]) -> dict[str, Answer]:
    """The answers an export row holds (a skipped optional question cannot be told from one not
    asked: both are empty, so skipped answers are left out)."""
    found: dict[str, Answer] = {}
    for question in survey.questions:
        qid, qtype = question.id, question.type
        other_cell = record.get(f"{qid}.other_text")
        other = None if _empty(other_cell) else unneutralize(str(other_cell))
        if qtype is QuestionType.MULTI_CHOICE:
            cells = {o.id: record.get(f"{qid}.{o.id}") for o in question.choices()}
            if all(_empty(c) for c in cells.values()):
                continue
            chosen = tuple(o for o, c in cells.items() if str(c) == "1")
            found[qid] = Answer(chosen, other)
        elif qtype is QuestionType.RANKING:
            ranked = [record.get(f"{qid}.{rank}") for rank in range(1, question.top + 1)]
            if all(_empty(c) for c in ranked):
                continue
            found[qid] = Answer(tuple(str(c) for c in ranked if not _empty(c)))
        else:
            cell = record.get(qid)
            if _empty(cell):
                continue
            if qtype is QuestionType.SINGLE_CHOICE:
                found[qid] = Answer(str(cell), other)
            elif qtype in (QuestionType.SCALE, QuestionType.NUMBER):
                found[qid] = Answer(_number(cell))
            elif qtype is QuestionType.CONSENT:
                assert str(cell) == "1", cell
                found[qid] = Answer(True)
            else:
                found[qid] = Answer(unneutralize(str(cell)))
    return found


def without_skipped(answers: Mapping[str, Answer]) -> dict[str, Answer]:
    return {qid: a for qid, a in answers.items() if a.value is not None}


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def read_xlsx(path: Path, sheet: int = 0) -> list[dict[str, Any]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book.worksheets[sheet].iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def by_reference(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(row["reference"]): row for row in rows}
