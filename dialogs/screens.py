"""What the engine asks the front end (Telegram or the terminal) to show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dialogs.model import Option, Question
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
        "invalid_character",
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
        "no_match",
        "no_match_other",
    }
)
"""Every notice key the engine emits: each front end's catalogue must translate them all."""


@dataclass(frozen=True)
class Progress:
    """Where the participant is: shown as a bar, a percentage and the section's name.

    `percent` is the share of the questions still reachable that are answered: it never goes
    backwards while the participant answers forward (see `flow.reach`). The counts over the
    questions visible now (whose total changes as conditions open questions) are kept for /status.
    """

    section_number: int
    section_count: int
    question_number: int
    question_count: int
    answered: int
    percent: int = 0


@dataclass(frozen=True)
class Listing:
    """What a long list shows: one page of its options, or the results of a search."""

    options: tuple[Option, ...]
    """The options offered as buttons, in order (the "other" choice is not among them)."""
    page: int
    """The page shown, from 0 (while browsing)."""
    pages: int
    query: str | None = None
    """The text searched, when the options are search results (none found: `options` empty)."""


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
    listing: Listing | None = None
    """A long list's page or search results (None for a question shown whole)."""


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
