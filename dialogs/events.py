"""What a participant can do: the events the dialogue engine takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """/start, or the first message of someone new: welcome, or resume where they were."""


@dataclass(frozen=True)
class TextInput:
    """Typed text: the answer to a text, number or e-mail question, the "other" text, or a
    choice typed as its number (`2`, `1 3 4`)."""

    text: str


@dataclass(frozen=True)
class Choose:
    """A tap on an option of a single-choice, scale or consent question."""

    question_id: str
    option_id: str
    step: int


@dataclass(frozen=True)
class Toggle:
    """A tap on an option of a multi-choice (tick / untick) or ranking (rank / unrank) question."""

    question_id: str
    option_id: str
    step: int


@dataclass(frozen=True)
class Confirm:
    """Validate the options ticked or ranked on a multi-choice or ranking question."""

    question_id: str
    step: int


@dataclass(frozen=True)
class Page:
    """Show page `page` (from 0, taken modulo the number of pages) of a long list; leaves any
    search for the whole list."""

    question_id: str
    page: int
    step: int


@dataclass(frozen=True)
class Remove:
    """Take an option off the choices made so far on a multi-choice long list."""

    question_id: str
    option_id: str
    step: int


@dataclass(frozen=True)
class Back:
    step: int | None = None


@dataclass(frozen=True)
class Skip:
    step: int | None = None


@dataclass(frozen=True)
class Edit:
    """From the review: change the answer of this question."""

    question_id: str
    step: int | None = None


@dataclass(frozen=True)
class Submit:
    """Submit the response; `reference` names the receipt if this event creates the submission."""

    reference: str
    step: int | None = None


@dataclass(frozen=True)
class Amend:
    """Reopen a submitted response (only where the survey allows it)."""


@dataclass(frozen=True)
class SwitchLanguage:
    language: str


@dataclass(frozen=True)
class Status:
    """Where am I? Progress, or the receipt."""


@dataclass(frozen=True)
class Stale:
    """A button the bot does not recognise: from an old message, or forged."""


@dataclass(frozen=True)
class Unsupported:
    """Something the dialogue cannot take: a sticker, a photo, a voice message, a file..."""

    kind: str


Event = (
    Start
    | TextInput
    | Choose
    | Toggle
    | Confirm
    | Page
    | Remove
    | Back
    | Skip
    | Edit
    | Submit
    | Amend
    | SwitchLanguage
    | Status
    | Stale
    | Unsupported
)
