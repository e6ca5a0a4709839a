"""What the engine asks the front end (Telegram or the terminal) to show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dialogs.model import Question
from dialogs.state import Answer


@dataclass(frozen=True)
class Notice:
    """A short message from the bot's catalogue (`key`), with its parameters."""

    key: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)


NOTICE_KEYS = frozenset(
    {
        "welcome_back",
        "stale_button",
        "use_buttons",
        "choice_number",
        "not_a_number",
        "not_an_integer",
        "too_small",
        "too_large",
        "scale_range",
        "text_empty",
        "text_too_short",
        "text_too_long",
        "other_too_long",
        "invalid_email",
        "organisation_id_format",
        "organisation_id_checksum",
        "too_few_choices",
        "too_many_choices",
        "ranking_full",
        "ranking_incomplete",
        "duplicate_choice",
        "consent_required",
        "required",
        "no_previous",
        "missing_answers",
        "already_submitted",
        "language_switched",
        "unknown_language",
        "unsupported",
        "amend_not_allowed",
        "amended",
        "status",
    }
)
"""Every notice key the engine emits: each front end's catalogue must translate them all."""


@dataclass(frozen=True)
class Progress:
    """ "Section 2/6 · Question 7/24", counted over the questions visible to this participant."""

    section_number: int
    section_count: int
    question_number: int
    question_count: int
    answered: int


@dataclass(frozen=True)
class WelcomeScreen:
    """What the consultation is, its closing date, how long it takes, the privacy notice."""


@dataclass(frozen=True)
class QuestionScreen:
    question: Question
    progress: Progress
    step: int
    answer: Answer | None
    """The answer already given, if the participant comes back to the question."""
    pending: tuple[str, ...] = ()
    awaiting_other: bool = False
    can_back: bool = True
    can_skip: bool = False


@dataclass(frozen=True)
class ReviewItem:
    question: Question
    answer: Answer


@dataclass(frozen=True)
class ReviewScreen:
    items: tuple[ReviewItem, ...]
    step: int


@dataclass(frozen=True)
class ReceiptScreen:
    reference: str
    submitted_at: datetime
    can_amend: bool


@dataclass(frozen=True)
class NotOpenScreen:
    opens_at: datetime


@dataclass(frozen=True)
class ClosedScreen:
    closes_at: datetime
    reference: str | None
    """The receipt's reference when the participant had submitted before the closing."""


Screen = (
    WelcomeScreen | QuestionScreen | ReviewScreen | ReceiptScreen | NotOpenScreen | ClosedScreen
)


@dataclass(frozen=True)
class Output:
    notices: tuple[Notice, ...] = ()
    screens: tuple[Screen, ...] = ()
    replace: bool = False
    """Show the last screen by editing the message the participant tapped (ticks, ranks)."""
    submitted: bool = False
    """This event created (or re-created) the submission: the store must check the closing
    date when it writes it."""
