"""What `Store.apply` writes, decided without a database: typed rows and `plan_write`.

`Store.apply` is: read the participant's rows (`CurrentRow`) → `read_current` → the engine's
`step` → `plan_write` → execute the `WritePlan` (`storage.apply_ops` on SQLite and through
SQLAlchemy Core, `storage.pg_apply` on PostgreSQL). Everything here is pure: no database, no
clock (the time of writing is passed in), so that unit tests can check every rule directly.

The rules:
- a participant never seen is inserted (even when nothing else is written: /language before
  /start); a known one is updated when their language changed or they were marked blocked
  (someone who writes to the bot has not blocked it);
- a response is inserted the first time there is something to keep, and updated (its `version`
  incremented) only when something of it changed; answers are upserted when new or changed and
  deleted when gone;
- a submission written at or after the closing date is refused (unless a preview): the draft
  keeps the answers, the status and the reference stay as they were;
- each submission keeps a snapshot of the answers (`response_versions`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from dialogs import Answer, Result, State, Survey, new_state
from dialogs.screens import ReceiptScreen

ResponseStatus = Literal["draft", "submitted", "preview"]


class Key(NamedTuple):
    """A participant as the tables know them: exactly one of the three is not None."""

    telegram_id: int | None
    preview_name: str | None
    web_key: str | None

    @property
    def channel(self) -> str:
        """`participants.channel` of a new participant: `web` for a web key, else `telegram`."""
        return "web" if self.web_key is not None else "telegram"


class CurrentRow(NamedTuple):
    """One row of the participant ⟕ response ⟕ answers read: one per answer, or one with no
    answer. Values decoded: datetimes aware UTC, the answer's value decoded JSON."""

    participant_id: int
    telegram_id: int | None
    preview_name: str | None
    language: str
    blocked: bool
    response_id: int | None
    status: ResponseStatus | None
    reference: str | None
    state: str | None
    """`State.to_json()` as JSON text."""
    submitted_at: datetime | None
    version: int | None
    question_id: str | None
    value: Any
    other: str | None
    stamp: Any = None
    """`responses.updated_at` as the driver gives it (see `Head.stamp`)."""


class Head(NamedTuple):
    """The participant ⟕ response without the state and the answers: enough to tell whether
    the state this process remembers (`reuse`) is still the one stored."""

    participant_id: int
    telegram_id: int | None
    preview_name: str | None
    language: str
    blocked: bool
    response_id: int | None
    status: ResponseStatus | None
    reference: str | None
    version: int | None
    stamp: Any
    """`responses.updated_at` as the driver gives it (SQLite: its text, to the microsecond),
    written at every change of the response: with the ids and the version, it tells a response
    from another that reused a deleted one's row id."""


class AnswerRow(NamedTuple):
    """An answer to write: its value as decoded JSON (a list for several choices)."""

    question_id: str
    value: Any
    other: str | None


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    id: int
    telegram_id: int | None
    preview_name: str | None
    language: str
    blocked: bool


@dataclass(frozen=True, slots=True)
class Current:
    """What one transaction read: the participant and their response, if any."""

    participant: ParticipantRow | None
    state: State
    response_id: int | None = None
    status: ResponseStatus | None = None
    reference: str | None = None
    submitted_at: datetime | None = None
    version: int = 0
    state_json: str | None = None
    answers: Mapping[str, Answer] = field(default_factory=dict)
    stamp: Any = None
    """`responses.updated_at` as read (see `Head.stamp`); None without a response."""


@dataclass(frozen=True, slots=True)
class ResponseValues:
    """The columns of `responses` that `apply` writes."""

    status: ResponseStatus
    reference: str | None
    state: str
    """`State.to_json()` as JSON text."""
    submitted_at: datetime | None
    updated_at: datetime
    version: int
    started_at: datetime
    """Written only when the response is inserted."""


@dataclass(frozen=True, slots=True)
class WritePlan:
    """What to write, and what `apply` answers once it is written."""

    now: datetime
    state: State
    """The state as stored after the write (on a refused submission: the state before it)."""
    result: Result
    refused_closed: bool
    status: ResponseStatus | None
    """None: no response (nothing started)."""
    version: int
    participant: Literal["insert", "update"] | None
    language: str
    """The participant's language, written on insert and update."""
    response: Literal["insert", "update"] | None
    values: ResponseValues | None
    """The response's columns when `response` is not None."""
    upserts: tuple[AnswerRow, ...] = ()
    deletes: tuple[str, ...] = ()
    snapshot: dict[str, Any] | None = None
    """The answers as `response_versions.answers` keeps them, when this write is a submission."""
    newly_submitted: bool = False
    """The response is submitted for the first time (for the log)."""

    @property
    def writes(self) -> bool:
        return self.participant is not None or self.response is not None


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def value_to_json(answer: Answer) -> Any:
    value = answer.value
    return list(value) if isinstance(value, tuple) else value


def decode_answer(value: Any, other: str | None) -> Answer:
    if isinstance(value, list):
        value = tuple(str(v) for v in value)
    return Answer(value, other)


def snapshot(found: Mapping[str, Answer]) -> dict[str, Any]:
    """The answers as `response_versions.answers` keeps them."""
    return {
        qid: {"value": value_to_json(answer), "other": answer.other}
        for qid, answer in found.items()
    }


def read_current(
    survey: Survey, rows: list[CurrentRow], language_hint: str | None = None
) -> Current:
    """The participant's stored state from the rows read (none: never seen)."""
    if not rows:
        return Current(None, new_state(survey, language_hint))
    first = rows[0]
    participant = ParticipantRow(
        first.participant_id,
        first.telegram_id,
        first.preview_name,
        first.language,
        bool(first.blocked),
    )
    language = participant.language
    if language not in survey.languages:
        language = survey.default_language
    if first.response_id is None or first.state is None:
        return Current(participant, new_state(survey, language))
    found = {
        row.question_id: decode_answer(row.value, row.other)
        for row in rows
        if row.question_id is not None
    }
    state = State.from_json(
        json.loads(first.state),
        language=language,
        answers=found,
        reference=first.reference,
        submitted_at=first.submitted_at,
    )
    return Current(
        participant,
        state,
        response_id=first.response_id,
        status=first.status,
        reference=first.reference,
        submitted_at=first.submitted_at,
        version=first.version or 0,
        state_json=first.state,
        answers=found,
        stamp=first.stamp,
    )


def reuse(remembered: Current, head: Head) -> Current | None:
    """The state this process remembers for a participant (`remember`), when the database still
    holds exactly it: the same participant, response, version, status, reference and time of
    the last change; with the participant's row as read now (someone may have marked them
    blocked). None: read everything."""
    known = remembered.participant
    if (
        known is None
        or remembered.stamp is None
        or known.id != head.participant_id
        or known.language != head.language
        or remembered.response_id != head.response_id
        or remembered.version != head.version
        or remembered.status != head.status
        or remembered.reference != head.reference
        or remembered.stamp != head.stamp
    ):
        return None
    if known.blocked == bool(head.blocked):
        return remembered
    return replace(remembered, participant=replace(known, blocked=bool(head.blocked)))


def remember(
    current: Current,
    plan: WritePlan,
    key: Key,
    participant_id: int,
    response_id: int | None,
    stamp: Any,
) -> Current | None:
    """What a read would give once `plan` is written (None: nothing worth remembering, no
    response). `stamp`: `responses.updated_at` as the driver gives back `plan.now`."""
    if response_id is None:
        return None
    known = current.participant
    participant = ParticipantRow(
        participant_id,
        known.telegram_id if known is not None else key.telegram_id,
        known.preview_name if known is not None else key.preview_name,
        plan.language,
        False,  # a participant marked blocked is unmarked by `plan_write`
    )
    state = plan.state
    submitted_at = state.submitted_at
    if submitted_at is not None and submitted_at.tzinfo is not UTC:
        # As the database gives it back: UTC.
        submitted_at = submitted_at.astimezone(UTC)
        state = replace(state, submitted_at=submitted_at)
    if plan.response is None:
        # The response's row unchanged; the state's language is the participant's.
        return replace(current, participant=participant, state=state)
    values = plan.values
    assert values is not None
    return Current(
        participant,
        state,
        response_id=response_id,
        status=values.status,
        reference=values.reference,
        submitted_at=submitted_at,
        version=values.version,
        state_json=values.state,
        answers=state.answers,
        stamp=stamp,
    )


def plan_write(
    current: Current,
    result: Result,
    now: datetime,
    *,
    survey: Survey,
    preview: bool = False,
    fresh_json: str | None = None,
) -> WritePlan:
    """What to write after `step` gave `result` on `current.state`, written at `now`.

    `fresh_json`: `new_state(survey).to_json()` as JSON text (computed when not given): a
    response whose state is still that, without answers or reference, is not created.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware datetime")
    before = current.state
    state = result.state
    refused = False
    submitting = result.output.submitted
    if submitting and not preview and now >= survey.closes_at:
        refused = True
        submitting = False
        state = replace(before, answers=result.state.answers)

    reference, submitted_at = current.reference, current.submitted_at
    if submitting:
        reference = reference or state.reference
        submitted_at = submitted_at or now
    status: ResponseStatus = "preview" if preview else "draft"
    if not preview and submitted_at is not None:
        status = "submitted"
    if state.reference != reference or state.submitted_at is not submitted_at:
        state = replace(state, reference=reference, submitted_at=submitted_at)

    known = current.participant
    participant: Literal["insert", "update"] | None = None
    if known is None:
        participant = "insert"
    elif known.language != state.language or known.blocked:
        participant = "update"

    state_json = dumps(state.to_json())
    old, new = current.answers, state.answers
    # The engine keeps the Answer objects it did not change: `is` settles most at once.
    upserts = tuple(
        AnswerRow(qid, value_to_json(answer), answer.other)
        for qid, answer in new.items()
        if (before_answer := old.get(qid)) is not answer and before_answer != answer
    )
    deletes = tuple(qid for qid in old if qid not in new)

    if current.response_id is None:
        if fresh_json is None:
            fresh_json = dumps(new_state(survey).to_json())
        if state_json == fresh_json and not new and reference is None:
            # Nothing started (e.g. /language or /status before /start): no response row.
            return WritePlan(
                now=now,
                state=state,
                result=result,
                refused_closed=refused,
                status=None,
                version=0,
                participant=participant,
                language=state.language,
                response=None,
                values=None,
            )
        response: Literal["insert", "update"] | None = "insert"
        version = 1
    elif (
        upserts
        or deletes
        or state_json != current.state_json
        or status != current.status
        or reference != current.reference
        or submitted_at != current.submitted_at
    ):
        response = "update"
        version = current.version + 1
    else:
        response = None
        version = current.version
    values = ResponseValues(
        status=status,
        reference=reference,
        state=state_json,
        submitted_at=submitted_at,
        updated_at=now,
        version=version,
        started_at=now,
    )
    return WritePlan(
        now=now,
        state=state,
        result=result,
        refused_closed=refused,
        status=status,
        version=version,
        participant=participant,
        language=state.language,
        response=response,
        values=values if response is not None else None,
        upserts=upserts if response is not None else (),
        deletes=deletes if response is not None else (),
        snapshot=snapshot(new) if submitting and status == "submitted" else None,
        newly_submitted=submitting and current.submitted_at is None,
    )


def with_reference(result: Result, taken: str, fresh: str) -> Result:
    """`result` with the receipt reference `taken` replaced by `fresh` (in the state and on the
    receipt screen): what the engine gives for a Submit that carried `fresh`."""
    if result.state.reference != taken:
        return result
    screens = tuple(
        replace(screen, reference=fresh)
        if isinstance(screen, ReceiptScreen) and screen.reference == taken
        else screen
        for screen in result.output.screens
    )
    return Result(replace(result.state, reference=fresh), replace(result.output, screens=screens))
