"""A participant's state in the dialogue: answers given, where they are, what is pending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

AnswerValue = str | int | float | bool | tuple[str, ...]
"""single_choice: option id; multi_choice: option ids in option order; ranking: option ids in rank
order; scale: int; number: int or float; text and email: str; consent: True."""


class Phase(StrEnum):
    NEW = "new"
    """Never started."""
    ANSWERING = "answering"
    REVIEW = "review"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Answer:
    """One question's answer; `value is None` means the participant skipped an optional question."""

    value: AnswerValue | None
    other: str | None = None
    """The free text given with the "other" choice."""

    @property
    def skipped(self) -> bool:
        return self.value is None

    def to_json(self) -> dict[str, Any]:
        value: Any = list(self.value) if isinstance(self.value, tuple) else self.value
        data: dict[str, Any] = {"value": value}
        if self.other is not None:
            data["other"] = self.other
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Answer:
        value = data.get("value")
        if isinstance(value, list):
            value = tuple(str(v) for v in value)
        other = data.get("other")
        return Answer(value, other if isinstance(other, str) else None)


@dataclass(frozen=True)
class State:
    """Everything the engine needs to know about one participant's response."""

    language: str
    phase: Phase = Phase.NEW
    answers: Mapping[str, Answer] = field(default_factory=dict)
    current: str | None = None
    """The question on screen while answering."""
    history: tuple[str, ...] = ()
    """Questions shown before `current`, most recent last: where "back" goes."""
    pending: tuple[str, ...] = ()
    """Options ticked (multi_choice) or ranked so far (ranking) on the current question."""
    awaiting_other: bool = False
    """The participant chose "other" and is asked to type what it is."""
    editing: bool = False
    """The current question was opened from the review: after it, back to the review."""
    step: int = 0
    """Counts the screens shown; buttons carry it, so a button of an old screen is recognised."""
    reference: str | None = None
    submitted_at: datetime | None = None
    query: str | None = None
    """On a long list: the text searched, whose results are shown (None: browsing its pages)."""
    matches: tuple[str, ...] = ()
    """On a long list: the options the search found, best first (empty without a search)."""
    page: int = 0
    """On a long list: the page shown while browsing, from 0."""

    def to_json(self) -> dict[str, Any]:
        """The state without its answers (they are stored one row per question)."""
        data: dict[str, Any] = {
            "phase": self.phase.value,
            "current": self.current,
            "history": list(self.history),
            "pending": list(self.pending),
            "awaiting_other": self.awaiting_other,
            "editing": self.editing,
            "step": self.step,
        }
        if self.query is not None:
            data["query"] = self.query
            data["matches"] = list(self.matches)
        if self.page:
            data["page"] = self.page
        return data

    @staticmethod
    def from_json(
        data: Mapping[str, Any],
        *,
        language: str,
        answers: Mapping[str, Answer],
        reference: str | None = None,
        submitted_at: datetime | None = None,
    ) -> State:
        return State(
            language=language,
            phase=Phase(data.get("phase", Phase.NEW.value)),
            answers=dict(answers),
            current=data.get("current"),
            history=tuple(data.get("history", ())),
            pending=tuple(data.get("pending", ())),
            awaiting_other=bool(data.get("awaiting_other", False)),
            editing=bool(data.get("editing", False)),
            step=int(data.get("step", 0)),
            reference=reference,
            submitted_at=submitted_at,
            query=query if isinstance(query := data.get("query"), str) else None,
            matches=tuple(str(m) for m in data.get("matches", ())),
            page=int(data.get("page", 0)),
        )
