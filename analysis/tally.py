"""The counts of every question, one definition for every output.

Each answer counts under one or more *categories* (`categories_of`):

- single_choice: the option id chosen;
- multi_choice: every option id ticked (the counts add up to more than the answers);
- ranking: the option ranked first (the *count* of a ranking is its first choices); its weighted
  *score* is kept beside it (with `top` ranks, rank 1 earns `top` points, rank 2 `top - 1`, …);
- scale: the point chosen, as text ("1" … "5");
- consent: `CONSENT_KEY` when accepted;
- number: the value as text (for histograms), with the sum, low and high for the mean.

Skipped answers (value None) are not counted: `answered` is the number of responses that gave an
answer. Free texts (text questions, and the "other" texts of choice questions) are counted and
kept up to a limit, each with the group of its response when the tallies are grouped.

When a grouping question is given (`Tallies(survey, by=...)`), every question also keeps its
counts per group (the option chosen for the grouping question, `NO_GROUP` when it was not
answered), from which `analysis.crosstab` builds its tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from dialogs.answers import siren_of
from dialogs.model import CLOSED_TYPES, Question, QuestionType, Survey
from dialogs.state import Answer

CONSENT_KEY = "yes"
"""The category of an accepted consent question."""

NO_GROUP = ""
"""The group of a response that did not answer the grouping question."""

DEFAULT_TEXT_LIMIT = 500
"""Free texts kept per question; the others are counted."""


def number_key(value: float) -> str:
    """A number as a category: whole numbers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def categories_of(question: Question, value: object) -> tuple[str, ...]:
    """The categories an answer's value counts under (none for a skipped answer)."""
    if value is None:
        return ()
    qtype = question.type
    if qtype is QuestionType.MULTI_CHOICE:
        return tuple(str(v) for v in value) if isinstance(value, tuple) else (str(value),)
    if qtype is QuestionType.RANKING:
        if isinstance(value, tuple):
            return (str(value[0]),) if value else ()
        return (str(value),)
    if qtype is QuestionType.CONSENT:
        return (CONSENT_KEY,) if value is True else (str(value),)
    if qtype in (QuestionType.SCALE, QuestionType.NUMBER) and isinstance(value, int | float):
        return (number_key(value),)
    if qtype in (QuestionType.TEXT, QuestionType.EMAIL):
        return ()
    if qtype is QuestionType.ORGANISATION_ID:  # an organisation: its SIREN (a SIRET's first 9)
        siren = siren_of(value)
        return (siren,) if siren is not None else ()
    return (str(value),)


def categories(question: Question) -> tuple[str, ...]:
    """Every possible category of a closed question, in the question's order (so zeros show)."""
    if question.type is QuestionType.SCALE:
        return tuple(str(v) for v in question.scale_points())
    if question.type is QuestionType.CONSENT:
        return (CONSENT_KEY,)
    if question.type in (
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTI_CHOICE,
        QuestionType.RANKING,
    ):
        return tuple(option.id for option in question.choices())
    return ()


def group_of(question: Question | None, answers: Mapping[str, Answer]) -> str:
    """The group of a response for the grouping question `question` (`NO_GROUP` if none)."""
    if question is None:
        return NO_GROUP
    answer = answers.get(question.id)
    if answer is None or answer.value is None:
        return NO_GROUP
    found = categories_of(question, answer.value)
    return found[0] if found else NO_GROUP


@dataclass(slots=True)
class FreeText:
    text: str
    group: str = NO_GROUP
    language: str = ""


@dataclass
class Tally:
    """What is kept of one question's answers (bounded, whatever the number of rows, unless
    `keep_all_texts`)."""

    question: Question
    text_limit: int = DEFAULT_TEXT_LIMIT
    keep_all_texts: bool = False
    answered: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    """Answers by category (see the module's docstring)."""
    score: Counter[str] = field(default_factory=Counter)
    """ranking: weighted points by option."""
    total: float = 0.0
    low: float | None = None
    high: float | None = None
    texts: list[FreeText] = field(default_factory=list)
    """Free texts (text questions) or "other" texts (choice questions), up to `text_limit`."""
    text_count: int = 0
    by_group: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(category, group) → answers, when the tallies are grouped."""
    group_answered: Counter[str] = field(default_factory=Counter)
    """group → answers to this question, when the tallies are grouped."""

    def add(self, answer: Answer, group: str | None = None, language: str = "") -> None:
        value = answer.value
        if value is None:
            return
        question = self.question
        qtype = question.type
        self.answered += 1
        found = categories_of(question, value)
        self.counts.update(found)
        if group is not None:
            self.group_answered[group] += 1
            for key in found:
                self.by_group[key, group] += 1
        if qtype is QuestionType.RANKING and isinstance(value, tuple):
            top = question.top or len(value)
            for rank, option_id in enumerate(value[:top]):
                self.score[str(option_id)] += top - rank
        elif qtype in (QuestionType.NUMBER, QuestionType.SCALE) and isinstance(value, int | float):
            number = float(value)
            self.total += number
            self.low = number if self.low is None else min(self.low, number)
            self.high = number if self.high is None else max(self.high, number)
        elif qtype is QuestionType.TEXT:
            self._text(str(value), group, language)
        elif qtype is QuestionType.EMAIL:
            self.text_count += 1
        if answer.other is not None and qtype is not QuestionType.TEXT:
            self._text(answer.other, group, language)

    def _text(self, text: str, group: str | None, language: str) -> None:
        self.text_count += 1
        if self.keep_all_texts or len(self.texts) < self.text_limit:
            self.texts.append(FreeText(text, group or NO_GROUP, language))

    def distribution(self) -> list[tuple[str, int]]:
        """(category, count) for every category of the question in order, zeros included, then
        the categories no longer in the file (answers to removed options), sorted."""
        known = categories(self.question)
        out = [(key, self.counts.get(key, 0)) for key in known]
        out += sorted((k, n) for k, n in self.counts.items() if k not in known)
        return out

    @property
    def mean(self) -> float | None:
        return self.total / self.answered if self.answered else None


class Tallies:
    """Counts responses question by question, response after response.

    `by`: a single-choice question whose option splits every other count into groups.
    `keep_all_texts`: keep every free text (for themes) instead of the first `text_limit`.
    """

    def __init__(
        self,
        survey: Survey,
        *,
        text_limit: int = DEFAULT_TEXT_LIMIT,
        by: Question | None = None,
        keep_all_texts: bool = False,
    ) -> None:
        if by is not None and by.type is not QuestionType.SINGLE_CHOICE:
            raise ValueError(f"question {by.id!r} is not a single-choice question")
        self.survey = survey
        self.by = by
        self.responses = 0
        self.channels: Counter[str] = Counter()
        """Responses counted, by the channel they were given in (telegram, web)."""
        self.groups: Counter[str] = Counter()
        """Responses by group (grouped tallies only)."""
        self.tallies = {
            q.id: Tally(q, text_limit, keep_all_texts=keep_all_texts) for q in survey.questions
        }

    def add(
        self, answers: Mapping[str, Answer], language: str = "", channel: str | None = None
    ) -> None:
        """One response's answers (given in `channel`, when known)."""
        self.responses += 1
        if channel is not None:
            self.channels[channel] += 1
        group: str | None = None
        if self.by is not None:
            group = group_of(self.by, answers)
            self.groups[group] += 1
        tallies = self.tallies
        for qid, answer in answers.items():
            tally = tallies.get(qid)
            if tally is not None:
                tally.add(answer, group, language)

    def closed(self) -> list[Tally]:
        """The tallies of the closed questions, in the questionnaire's order."""
        return [t for t in self.tallies.values() if t.question.type in CLOSED_TYPES]
