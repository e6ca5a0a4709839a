"""Exports of the analyses for spreadsheets: cross-tabulations and the themes of free texts.

    consultbot export --crosstab actor_type --format csv|xlsx --out tables.csv [--min-cell K]
    consultbot export --themes --format csv --out themes.csv [--public]

Cross-tabulations: every closed question by the groups of one single-choice question, one row
per cell (`bot.tables.CROSSTAB_FIELDS`), hidden cells as "< K" (K = 5 unless `--min-cell`).
Themes: one row per free-text answer (pseudonym, question, theme id, theme terms, the text) so
that staff can review and re-code; `--public` leaves the pseudonym out.
Files are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.crosstab import build
from analysis.suppress import DEFAULT_MIN_CELL
from analysis.tally import NO_GROUP, Tallies
from analysis.themes import find_themes
from bot.export import neutralize
from bot.figures import grouping_question
from bot.tables import CROSSTAB_FIELDS, crosstab_rows
from dialogs.model import CLOSED_TYPES, QuestionType
from storage.pseudonyms import load_pseudonymizer
from storage.repository import Store

log = logging.getLogger(__name__)

THEME_FIELDS = ("pseudonym", "question", "theme_id", "theme_terms", "text")


@dataclass(frozen=True, slots=True)
class AnalysisExport:
    rows: int
    path: Path


def _staged_write(
    out: Path, header: Sequence[str], rows: Iterable[Sequence[object]], fmt: str
) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    count = 0
    try:
        if fmt == "xlsx":
            import xlsxwriter

            book = xlsxwriter.Workbook(
                str(temporary),
                {
                    "strings_to_formulas": False,
                    "strings_to_numbers": False,
                    "strings_to_urls": False,
                },
            )
            sheet = book.add_worksheet("crosstab")
            bold = book.add_format({"bold": True})
            for j, name in enumerate(header):
                sheet.write_string(0, j, name, bold)
            for count, row in enumerate(rows, start=1):
                for j, value in enumerate(row):
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        sheet.write_number(count, j, value)
                    elif value != "":
                        sheet.write_string(count, j, neutralize(str(value)))
            sheet.freeze_panes(1, 0)
            book.close()
        else:
            with open(temporary, "w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for row in rows:
                    writer.writerow([neutralize(v) if isinstance(v, str) else v for v in row])
                    count += 1
        temporary.replace(out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


async def export_crosstab(
    store: Store,
    out: Path,
    *,
    by: str,
    fmt: str = "csv",
    language: str | None = None,
    min_cell: int | None = None,
    include_drafts: bool = False,
) -> AnalysisExport:
    """Every closed question by the groups of `by`, as long rows in CSV or XLSX."""
    survey = store.survey
    language = language or survey.default_language
    question = grouping_question(survey, by)
    assert question is not None
    k = DEFAULT_MIN_CELL if min_cell is None else min_cell
    tallies = Tallies(survey, by=question, text_limit=0)
    async for batch in store.stream_responses(2000, include_drafts):
        for row in batch:
            tallies.add(row.answers, row.language)
    has_no_group = tallies.groups.get(NO_GROUP, 0) > 0
    fallback = survey.default_language

    def rows() -> Iterable[tuple[object, ...]]:
        for tally in tallies.closed():
            if tally.question is question:
                continue
            table = build(tally, question, has_no_group=has_no_group, min_cell=k)
            yield from crosstab_rows(table, language, fallback)

    count = _staged_write(out, CROSSTAB_FIELDS, rows(), fmt)
    log.info("cross-tabulations of survey %s by %s written to %s", survey.id, by, out)
    return AnalysisExport(count, out)


async def export_themes(
    store: Store,
    out: Path,
    *,
    public: bool = False,
    include_drafts: bool = False,
) -> AnalysisExport:
    """The theme of every free-text answer (text questions and "other" texts)."""
    survey = store.survey
    pseudonymizer = await load_pseudonymizer(store)
    sources = [
        q
        for q in survey.questions
        if q.type is QuestionType.TEXT or (q.other and q.type in CLOSED_TYPES)
    ]
    collected: dict[str, list[tuple[str, str, str]]] = {}
    async for batch in store.stream_responses(2000, include_drafts):
        for row in batch:
            pseudonym = pseudonymizer.for_key(row.telegram_id, row.preview_name)
            for question in sources:
                answer = row.answers.get(question.id)
                if answer is None:
                    continue
                if question.type is QuestionType.TEXT:
                    if answer.value is not None:
                        collected.setdefault(question.id, []).append(
                            (pseudonym, str(answer.value), row.language)
                        )
                elif answer.other is not None:
                    collected.setdefault(f"{question.id}.other_text", []).append(
                        (pseudonym, answer.other, row.language)
                    )
    header = THEME_FIELDS[1:] if public else THEME_FIELDS

    def rows() -> Iterable[tuple[object, ...]]:
        for name, items in collected.items():
            found = find_themes([x[1] for x in items], languages=[x[2] for x in items])
            terms = {theme.id: " ".join(theme.terms) for theme in found.themes}
            for (pseudonym, text, _), theme_id in zip(items, found.assignments, strict=True):
                record = (name, theme_id, terms.get(theme_id, ""), text)
                yield record if public else (pseudonym, *record)

    count = _staged_write(out, header, rows(), "csv")
    log.info("themes of %d free texts of survey %s written to %s", count, survey.id, out)
    return AnalysisExport(count, out)
