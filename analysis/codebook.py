"""The column layout of an export and its codebook (what every column holds, in a language).

One row per response, one column per question, except:

- multi_choice: one column per choice `qid.optid`, 1 when ticked, 0 when not (empty when the
  question was not answered);
- ranking: one column per rank `qid.1` … `qid.<top>`, each holding an option id;
- a question with an "other" choice has an extra free-text column `qid.other_text` (not
  `qid.other`: for a multi_choice that is already the 0/1 column of the "other" choice).

Before the questions come the columns about the response (`META_COLUMNS`). Data columns hold codes
(option ids, numbers); the codebook gives the labels, in the language asked for.
Names are unique: a question id that clashes with a meta column gets a `~2` suffix (ids can't
contain `.`, `:` or `~`, so the other names never clash).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dialogs.limits import OTHER_OPTION_ID
from dialogs.model import Question, QuestionType, Survey

Cell = str | int | float | None
"""A value of an exported cell: None is an empty cell."""


class Kind(StrEnum):
    """What a column holds."""

    META = "meta"
    CHOICE = "choice"
    OPTION = "option"
    RANK = "rank"
    SCALE = "scale"
    NUMBER = "number"
    TEXT = "text"
    EMAIL = "email"
    CONSENT = "consent"
    OTHER_TEXT = "other_text"
    ORGANISATION = "organisation_id"
    SIREN = "siren"
    SIREN_SUBMITTED = "siren_submitted"


FREE_TEXT_KINDS = frozenset({Kind.TEXT, Kind.EMAIL, Kind.OTHER_TEXT})
"""Columns whose text comes from participants (neutralised in spreadsheets)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    question: Question | None = None
    option_id: str | None = None
    rank: int | None = None


META_COLUMNS = (
    "pseudonym",
    "reference",
    "status",
    "language",
    "channel",
    "started_at_utc",
    "started_at_local",
    "submitted_at_utc",
    "submitted_at_local",
    "source",
    "submitted_version",
)
TELEGRAM_ID_COLUMN = "telegram_id"
"""Added after `pseudonym` only with `--with-telegram-ids`."""

CODEBOOK_FIELDS = (
    "column",
    "question_id",
    "section",
    "type",
    "question",
    "option_id",
    "label",
    "values",
)

Translate = Callable[[str], str]
"""The codebook's own wording: a key (`pseudonym`, `choice`, `other`, …) → its text in the export's
language, unformatted. The outputs pass the gettext catalogue's (`bot.i18n.Words(language,
"codebook")`), so that analysis reads no file."""


def option_label(
    question: Question, option_id: str, language: str, fallback: str, words: Translate
) -> str:
    """An option's label; the "other" choice, which has none in the file, gets `words("other")`."""
    option = question.option(option_id)
    if option is not None and option.label:
        return option.label.get(language, fallback)
    if option_id == OTHER_OPTION_ID and question.other:
        return words("other")
    return option_id


def build_columns(survey: Survey, *, with_telegram_ids: bool = False) -> tuple[Column, ...]:
    """Every column of an export of `survey`, in order."""
    columns: list[Column] = []
    used: set[str] = set()

    def add(
        name: str,
        kind: Kind,
        question: Question | None = None,
        option_id: str | None = None,
        rank: int | None = None,
    ) -> None:
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}~{n}"
        used.add(unique)
        columns.append(Column(unique, kind, question, option_id, rank))

    for name in META_COLUMNS:
        add(name, Kind.META)
        if name == "pseudonym" and with_telegram_ids:
            add(TELEGRAM_ID_COLUMN, Kind.META)
    for question in survey.questions:
        qid, qtype = question.id, question.type
        if qtype is QuestionType.SINGLE_CHOICE:
            add(qid, Kind.CHOICE, question)
        elif qtype is QuestionType.MULTI_CHOICE:
            for option in question.choices():
                add(f"{qid}.{option.id}", Kind.OPTION, question, option_id=option.id)
        elif qtype is QuestionType.RANKING:
            for rank in range(1, question.top + 1):
                add(f"{qid}.{rank}", Kind.RANK, question, rank=rank)
        elif qtype is QuestionType.SCALE:
            add(qid, Kind.SCALE, question)
        elif qtype is QuestionType.NUMBER:
            add(qid, Kind.NUMBER, question)
        elif qtype is QuestionType.TEXT:
            add(qid, Kind.TEXT, question)
        elif qtype is QuestionType.EMAIL:
            add(qid, Kind.EMAIL, question)
        elif qtype is QuestionType.CONSENT:
            add(qid, Kind.CONSENT, question)
        elif qtype is QuestionType.ORGANISATION_ID:
            add(qid, Kind.ORGANISATION, question)
            add(f"{qid}.siren", Kind.SIREN, question)
            add(f"{qid}.siren_submitted", Kind.SIREN_SUBMITTED, question)
        if question.other and qtype in (QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE):
            add(f"{qid}.other_text", Kind.OTHER_TEXT, question)
    return tuple(columns)


@dataclass(frozen=True, slots=True)
class CodebookEntry:
    """One line of the codebook: a column, or one of the codes a column can hold."""

    column: str
    question_id: str
    section: str
    type: str
    question: str
    option_id: str
    label: str
    values: str

    def as_tuple(self) -> tuple[str, ...]:
        return (
            self.column,
            self.question_id,
            self.section,
            self.type,
            self.question,
            self.option_id,
            self.label,
            self.values,
        )


def _number(value: float | None) -> str:
    if value is None:
        return "…"
    return str(int(value)) if float(value).is_integer() else str(value)


def codebook(
    survey: Survey, columns: tuple[Column, ...], language: str, words: Translate
) -> list[CodebookEntry]:
    """The codebook of `columns`: one entry per column, one per code for coded columns."""
    fallback = survey.default_language
    entries: list[CodebookEntry] = []
    for column in columns:
        question = column.question
        if question is None:
            meta = column.name.split("~")[0]
            entries.append(
                CodebookEntry(
                    column.name,
                    "",
                    "",
                    "meta",
                    "",
                    "",
                    "",
                    words(meta).format(zone=survey.timezone),
                )
            )
            continue
        text = question.text.get(language, fallback)
        section = question.section_id
        base = (column.name, question.id, section, question.type.value)
        kind = column.kind

        def entry(option_id: str, label: str, values: str, shown: str = text) -> CodebookEntry:
            return CodebookEntry(*base, shown, option_id, label, values)  # noqa: B023

        if kind is Kind.CHOICE:
            for option in question.choices():
                label = option_label(question, option.id, language, fallback, words)
                entries.append(entry(option.id, label, words("choice")))
        elif kind is Kind.OPTION:
            assert column.option_id is not None
            label = option_label(question, column.option_id, language, fallback, words)
            entries.append(entry(column.option_id, label, words("option")))
        elif kind is Kind.RANK:
            values = words("rank").format(rank=column.rank)
            for option in question.choices():
                label = option_label(question, option.id, language, fallback, words)
                entries.append(entry(option.id, label, values))
        elif kind is Kind.SCALE:
            points = question.scale_points()
            values = words("scale").format(min=points.start, max=points.stop - 1)
            for point in points:
                label = ""
                if point == points.start:
                    label = question.min_label.get(language, fallback)
                elif point == points.stop - 1:
                    label = question.max_label.get(language, fallback)
                entries.append(entry(str(point), label, values))
        elif kind is Kind.NUMBER:
            key = "integer" if question.integer else "number"
            values = words(key).format(min=_number(question.min), max=_number(question.max))
            entries.append(entry("", "", values))
        elif kind is Kind.CONSENT:
            label = question.accept_label.get(language, fallback)
            entries.append(entry("1", label, words("consent")))
        elif kind is Kind.OTHER_TEXT:
            shown = words("other_text_question").format(question=text)
            entries.append(entry("", "", words("other_text"), shown))
        else:
            entries.append(entry("", "", words(kind.value)))
    return entries
