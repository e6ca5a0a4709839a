"""Cross-tabulations as people read them: labels, the plain-words verdict of the test, a text
table (`consultbot stats --by`) and rows for spreadsheets (`consultbot export --crosstab`).

The figures come from `analysis.crosstab`; hidden cells (`--min-cell`) read "< K" everywhere, and
those hidden only to protect them "x".
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis import codebook
from analysis.crosstab import CrossTab
from analysis.tally import CONSENT_KEY, NO_GROUP
from bot.i18n import Words, t
from dialogs.model import Question, QuestionType

CROSSTAB_FIELDS = (
    "question_id",
    "question",
    "category",
    "category_label",
    "group",
    "group_label",
    "count",
    "column_percent",
    "group_n",
    "test",
    "p_value",
    "cramers_v",
    "verdict",
)
TOTAL = "(total)"
"""The group of a row total, and the category of a group's n, in the spreadsheet rows."""


def option_label(question: Question, option_id: str, language: str, fallback: str) -> str:
    """An option's label; the "other" choice, which has none in the file, gets the catalogue's
    "Other" (`codebook.other`)."""
    return codebook.option_label(
        question, option_id, language, fallback, Words(language, "codebook")
    )


def group_name(by: Question) -> str:
    """How the verdicts name the grouping question: its id in words (actor_type → actor type)."""
    return by.id.replace("_", " ")


def group_label(by: Question, group: str, language: str, fallback: str) -> str:
    if group == NO_GROUP:
        return t(language, "analysis.no_group")
    return option_label(by, group, language, fallback)


def category_label(question: Question, key: str, language: str, fallback: str) -> str:
    """The label of a category of `question` (`analysis.tally`)."""
    if question.type is QuestionType.CONSENT:
        if key == CONSENT_KEY:
            return question.accept_label.get(language, fallback) or t(language, "stats.consent_yes")
        return key
    if question.type is QuestionType.SCALE:
        points = question.scale_points()
        label = key
        if key == str(points.start) and question.min_label:
            label += " – " + question.min_label.get(language, fallback)
        elif key == str(points.stop - 1) and question.max_label:
            label += " – " + question.max_label.get(language, fallback)
        return label
    return option_label(question, key, language, fallback)


def flag_text(table: CrossTab, language: str) -> str:
    """The verdict in plain words: "Differs by actor type, p < 0.01 (Cramér's V = 0.31, …)"."""
    group = group_name(table.by)
    test = table.test
    if test is None:
        return t(language, "analysis.untested", group=group)
    if test.significant:
        return t(
            language,
            "analysis.differs",
            group=group,
            p=test.p_text,
            v=f"{test.cramers_v:.2f}",
            strength=t(language, f"analysis.strength.{test.strength}"),
        )
    return t(language, "analysis.same", group=group, p=test.p_text)


def _shown(value: int, mark: str | None) -> str:
    return mark if mark is not None else str(value)


def format_crosstab(table: CrossTab, language: str, fallback: str) -> str:
    """A text table: categories down, groups across (option ids), counts and column %."""
    mask = table.suppressed
    question = table.question
    rows, last = len(table.rows), len(table.groups)
    width = 14
    header = " " * 32 + "".join(
        f"{(g or t(language, 'analysis.no_group'))[: width - 1]:>{width}}" for g in table.groups
    )
    header += f"{t(language, 'analysis.total'):>{width}}"
    title = " ".join(question.text.get(language, fallback).split())
    lines = [f"Q{question.index + 1} {title[:90]}", header]
    for i, key in enumerate(table.rows):
        label = category_label(question, key, language, fallback)[:30]
        cells = []
        for j in range(len(table.groups)):
            mark = mask.mark(i, j)
            if mark is not None:
                cells.append(mark)
            elif mask.column_total(j) or not table.n[j]:
                cells.append(str(table.cells[i][j]))
            else:
                cells.append(f"{table.cells[i][j]} ({table.percent(i, j):.0f}%)")
        cells.append(_shown(table.row_totals[i], mask.mark(i, last)))
        lines.append(f"    {label:<28}" + "".join(f"{c:>{width}}" for c in cells))
    ns = [_shown(n, mask.mark(rows, j)) for j, n in enumerate(table.n)]
    ns.append(_shown(table.total, mask.mark(rows, last)))
    lines.append(f"    {'n':<28}" + "".join(f"{c:>{width}}" for c in ns))
    lines.append(f"    → {flag_text(table, language)}")
    return "\n".join(lines)


def crosstab_rows(table: CrossTab, language: str, fallback: str) -> Iterator[tuple[object, ...]]:
    """The table as long rows (`CROSSTAB_FIELDS`): one per cell, per row total and per group n."""
    mask = table.suppressed
    question, by = table.question, table.by
    rows, last = len(table.rows), len(table.groups)
    text = question.text.get(language, fallback)
    test = table.test
    verdict = flag_text(table, language)
    tested: tuple[object, ...] = (
        (test.method, round(test.p_value, 6), round(test.cramers_v, 4), verdict)
        if test is not None
        else ("", "", "", verdict)
    )

    def count(value: int, mark: str | None) -> object:
        return mark if mark is not None else value

    for i, key in enumerate(table.rows):
        label = category_label(question, key, language, fallback)
        for j, group in enumerate(table.groups):
            mark = mask.mark(i, j)
            percent = table.percent(i, j)
            shown_percent: object = (
                ""
                if mark is not None or mask.column_total(j) or percent is None
                else round(percent, 1)
            )
            yield (
                question.id,
                text,
                key,
                label,
                group,
                group_label(by, group, language, fallback),
                count(table.cells[i][j], mark),
                shown_percent,
                count(table.n[j], mask.mark(rows, j)),
                *tested,
            )
        yield (
            question.id,
            text,
            key,
            label,
            TOTAL,
            t(language, "analysis.total"),
            count(table.row_totals[i], mask.mark(i, last)),
            "",
            count(table.total, mask.mark(rows, last)),
            *tested,
        )
