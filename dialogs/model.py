"""The questionnaire model: a survey, its sections, questions and options, immutable once loaded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from dialogs.conditions import Condition
from dialogs.limits import OTHER_OPTION_ID
from dialogs.search import SearchIndex
from dialogs.texts import Text


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    RANKING = "ranking"
    SCALE = "scale"
    NUMBER = "number"
    TEXT = "text"
    EMAIL = "email"
    CONSENT = "consent"
    ORGANISATION_ID = "organisation_id"
    """A French organisation number: SIREN (9 digits) or SIRET (14), check digit verified."""


CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE, QuestionType.RANKING}
)
CLOSED_TYPES = CHOICE_TYPES | {QuestionType.SCALE, QuestionType.CONSENT}
"""Question types whose answers come from a fixed list (charted in stats and reports)."""


class Segment(StrEnum):
    """Who a broadcast or a reminder goes to."""

    ALL = "all"
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Option:
    id: str
    label: Text
    group: Text = field(default_factory=Text)
    """Where the option is filed in a long list (e.g. a pôle's region); empty when none."""
    synonyms: tuple[str, ...] = ()
    """Other names the option is found by when a participant types a search."""


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: Text
    section_id: str
    index: int
    """Position in the whole questionnaire, from 0."""
    help: Text = field(default_factory=Text)
    required: bool = True
    show_if: Condition | None = None
    options: tuple[Option, ...] = ()
    other: bool = False
    min: float | None = None
    """multi_choice: fewest options; scale and number: smallest value; text: see min_length."""
    max: float | None = None
    top: int = 0
    min_label: Text = field(default_factory=Text)
    max_label: Text = field(default_factory=Text)
    integer: bool = False
    min_length: int = 0
    max_length: int = 0
    multiline: bool = False
    accept_label: Text = field(default_factory=Text)
    decline_label: Text = field(default_factory=Text)
    searchable: bool = False
    """A long list: one page of options at a time, and typed text searches them."""

    def choices(self) -> tuple[Option, ...]:
        """The options offered, with the "other" choice last when the question has one."""
        if not self.other:
            return self.options
        return (*self.options, Option(OTHER_OPTION_ID, Text()))

    def option(self, option_id: str) -> Option | None:
        for option in self.choices():
            if option.id == option_id:
                return option
        return None

    @cached_property
    def search_index(self) -> SearchIndex:
        """The options of a long list, indexed for typed searches (built once, on first use)."""
        return SearchIndex(
            [(o.id, tuple(o.label.values.values()), o.synonyms) for o in self.options]
        )

    def scale_points(self) -> range:
        assert self.min is not None and self.max is not None
        return range(int(self.min), int(self.max) + 1)

    @property
    def min_choices(self) -> int:
        return int(self.min) if self.min is not None else (1 if self.required else 0)

    @property
    def max_choices(self) -> int:
        return int(self.max) if self.max is not None else len(self.choices())


@dataclass(frozen=True)
class Section:
    id: str
    title: Text
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Reminder:
    id: str
    before_close: timedelta
    segment: Segment
    text: Text
    where: Condition | None = None
    """Only the participants whose answers make it true (`dialogs.where`)."""


@dataclass(frozen=True)
class TargetGroup:
    """One group of the population the consultation means to reach: some options of the target
    question, with the expected number of people (`expected`) or their share (`share`, 0 to 1)."""

    id: str
    label: Text
    options: tuple[str, ...]
    expected: int | None = None
    share: float | None = None


@dataclass(frozen=True)
class Targets:
    """The `targets:` block: coverage goals per group of one single-choice question."""

    question_id: str
    groups: tuple[TargetGroup, ...]


class DraftsPolicy(StrEnum):
    """What anonymisation does with the responses that were never submitted."""

    KEEP = "keep"
    DELETE = "delete"


@dataclass(frozen=True)
class Retention:
    """The `retention:` block: when the participants' data is anonymised, and what goes.

    Exactly one of `anonymise_at` (a fixed moment) and `anonymise_after` (a delay after
    `closes_at`) is set. Anonymisation always removes the link to the participant's account
    (their Telegram id); the other fields say what else is removed.
    """

    anonymise_at: datetime | None = None
    anonymise_after: timedelta | None = None
    email_answers: bool = True
    """Remove the answers to `email` questions."""
    free_texts: bool = False
    """Remove the answers to `text` questions and the "other" texts of choice questions."""
    drafts: DraftsPolicy = DraftsPolicy.KEEP
    """Delete the responses that were never submitted (with their answers), or keep them."""

    def moment(self, closes_at: datetime) -> datetime:
        """When the anonymisation is due, for a survey closing at `closes_at`."""
        if self.anonymise_at is not None:
            return self.anonymise_at
        return closes_at + (self.anonymise_after or timedelta(0))


@dataclass(frozen=True)
class Survey:
    id: str
    title: Text
    languages: tuple[str, ...]
    timezone: str
    opens_at: datetime
    closes_at: datetime
    sections: tuple[Section, ...]
    description: Text = field(default_factory=Text)
    privacy: Text = field(default_factory=Text)
    estimated_minutes: int = 0
    allow_amend: bool = False
    reminders: tuple[Reminder, ...] = ()
    retention: Retention | None = None
    targets: Targets | None = None
    questions: tuple[Question, ...] = field(init=False)
    by_id: Mapping[str, Question] = field(init=False)

    def __post_init__(self) -> None:
        questions = tuple(q for s in self.sections for q in s.questions)
        object.__setattr__(self, "questions", questions)
        object.__setattr__(self, "by_id", {q.id: q for q in questions})

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def section_of(self, question: Question) -> Section:
        return next(s for s in self.sections if s.id == question.section_id)

    def reminder_time(self, reminder: Reminder) -> datetime:
        return self.closes_at - reminder.before_close

    def anonymise_time(self) -> datetime | None:
        """When the participants' data is anonymised (`retention:`); None if never."""
        if self.retention is None:
            return None
        return self.retention.moment(self.closes_at)
