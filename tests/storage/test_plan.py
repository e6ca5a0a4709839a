"""`plan_write` without a database: what `Store.apply` decides to write, rule by rule.

A stored participant is modelled by `Current` and updated by `stored` the way the database would
be once the plan is written; hypothesis walks participants through random events at random
moments, some after the closing date.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs import Phase, Result, Survey, new_state, transition
from dialogs.events import (
    Amend,
    Back,
    Edit,
    Event,
    Start,
    Status,
    Submit,
    SwitchLanguage,
    TextInput,
)
from dialogs.screens import ReceiptScreen
from storage.plan import (
    Current,
    CurrentRow,
    ParticipantRow,
    WritePlan,
    plan_write,
    read_current,
    with_reference,
)
from tests.storage.helpers import during, texts_survey

SURVEY = texts_survey(3, allow_amend=True)
OPEN = during(SURVEY)
CLOSED = SURVEY.closes_at


def stored(current: Current, plan: WritePlan) -> Current:
    """What the next read finds once `plan` is written."""
    participant = current.participant or ParticipantRow(1, 1, None, plan.language, False)
    if plan.participant == "update":
        participant = replace(participant, language=plan.language, blocked=False)
    if plan.response is None:
        return replace(current, participant=participant)
    assert plan.values is not None
    return Current(
        participant,
        plan.state,
        response_id=current.response_id or 1,
        status=plan.values.status,
        reference=plan.values.reference,
        submitted_at=plan.values.submitted_at,
        version=plan.values.version,
        state_json=plan.values.state,
        answers=dict(plan.state.answers),
    )


def event_for(kind: int, state_step: int) -> Event:
    events: list[Event] = [
        Start(),
        TextInput("une réponse"),
        Submit("REF-NEW", state_step),
        Amend(),
        SwitchLanguage("en"),
        SwitchLanguage("fr"),
        Status(),
        Back(),
        Edit("q02", state_step),
    ]
    return events[kind]


def walk(
    survey: Survey, steps: list[tuple[int, bool]]
) -> list[tuple[Current, Result, datetime, WritePlan]]:
    current = Current(None, new_state(survey))
    seen = []
    for kind, late in steps:
        # late: the engine ran a millisecond before the closing, the write is at the closing
        seen_at = CLOSED - timedelta(milliseconds=1) if late else OPEN
        now = CLOSED if late else OPEN
        result = transition(survey, current.state, event_for(kind, current.state.step), seen_at)
        plan = plan_write(current, result, now, survey=survey)
        seen.append((current, result, now, plan))
        current = stored(current, plan)
    return seen


STEPS = st.lists(st.tuples(st.integers(0, 8), st.booleans()), max_size=25).map(
    lambda steps: [(0, False), (1, False), (1, False), (1, False), *steps]
)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_a_refused_submission_never_changes_status_or_reference(
    steps: list[tuple[int, bool]],
) -> None:
    for current, result, now, plan in walk(SURVEY, steps):
        if plan.refused_closed:
            assert result.output.submitted and now >= SURVEY.closes_at
            assert plan.status == current.status
            assert plan.state.reference == current.reference
            assert plan.state.submitted_at == current.submitted_at
            assert plan.snapshot is None
            assert plan.state.phase is current.state.phase


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_the_version_increments_iff_something_changed(steps: list[tuple[int, bool]]) -> None:
    for current, _result, _now, plan in walk(SURVEY, steps):
        if current.response_id is None:
            continue
        changed = (
            plan.state.answers != current.answers
            or plan.status != current.status
            or plan.state.reference != current.reference
            or plan.state.submitted_at != current.submitted_at
            or stored(current, plan).state_json != current.state_json
        )
        assert (plan.version == current.version + 1) == changed
        assert (plan.response == "update") == changed
        if not changed:
            assert plan.version == current.version
            assert not plan.upserts and not plan.deletes


@settings(max_examples=100, deadline=None)
@given(STEPS)
def test_each_submission_keeps_a_snapshot_and_the_first_reference(
    steps: list[tuple[int, bool]],
) -> None:
    first_reference = None
    for _current, _result, _now, plan in walk(SURVEY, steps):
        if plan.snapshot is not None:
            assert plan.status == "submitted" and plan.state.phase is Phase.SUBMITTED
            assert set(plan.snapshot) == set(plan.state.answers)
            first_reference = first_reference or plan.state.reference
            assert plan.state.reference == first_reference
        # what is written is what the next read gives back
        if plan.values is not None:
            assert plan.values.reference == plan.state.reference
            assert plan.values.submitted_at == plan.state.submitted_at


def test_a_submission_at_the_closing_millisecond_is_refused() -> None:
    steps = [(0, False), (1, False), (1, False), (1, False)]
    current, _, _, plan = walk(SURVEY, steps)[-1]
    current = stored(current, plan)
    assert current.state.phase is Phase.REVIEW
    submit = Submit("REF-1", current.state.step)
    just_before = SURVEY.closes_at - timedelta(milliseconds=1)
    accepted = plan_write(
        current,
        transition(SURVEY, current.state, submit, just_before),
        just_before,
        survey=SURVEY,
    )
    assert not accepted.refused_closed and accepted.status == "submitted"
    assert accepted.snapshot is not None and accepted.newly_submitted
    at_closing = SURVEY.closes_at
    refused = plan_write(
        current,
        transition(SURVEY, current.state, submit, just_before),  # the engine saw it open
        at_closing,
        survey=SURVEY,
    )
    assert refused.refused_closed and refused.status == "draft"
    assert refused.state.reference is None and refused.snapshot is None
    # a preview is never refused
    preview = plan_write(
        current,
        transition(SURVEY, current.state, submit, just_before),
        at_closing,
        survey=SURVEY,
        preview=True,
    )
    assert not preview.refused_closed and preview.status == "preview"


def test_nothing_started_writes_the_participant_only() -> None:
    current = Current(None, new_state(SURVEY))
    result = transition(SURVEY, current.state, Status(), OPEN)
    plan = plan_write(current, result, OPEN, survey=SURVEY)
    assert plan.participant == "insert" and plan.response is None and plan.status is None
    known = stored(current, plan)
    again = plan_write(known, transition(SURVEY, known.state, Status(), OPEN), OPEN, survey=SURVEY)
    assert not again.writes


def test_a_blocked_participant_is_unblocked_by_their_next_answer() -> None:
    current = Current(ParticipantRow(1, 1, None, "fr", True), new_state(SURVEY, "fr"))
    plan = plan_write(
        current, transition(SURVEY, current.state, Status(), OPEN), OPEN, survey=SURVEY
    )
    assert plan.participant == "update" and plan.language == "fr"


def test_answers_upserted_and_deleted() -> None:
    seen = walk(SURVEY, [(0, False), (1, False), (1, False)])
    current, _, _, plan = seen[-1]
    assert [row.question_id for row in plan.upserts] == ["q02"] and not plan.deletes
    assert plan.version == current.version + 1


def test_read_current_decodes_the_rows() -> None:
    rows = [
        CurrentRow(5, 9, None, "xx", True, 7, "draft", None, '{"phase":"answering"}', None, 3,
                   "q01", ["a", "b"], "autre"),
        CurrentRow(5, 9, None, "xx", True, 7, "draft", None, '{"phase":"answering"}', None, 3,
                   "q02", "x", None),
    ]  # fmt: skip
    current = read_current(SURVEY, rows)
    assert current.participant == ParticipantRow(5, 9, None, "xx", True)
    assert current.state.language == SURVEY.default_language  # an unknown language
    assert current.version == 3 and current.response_id == 7
    assert current.answers["q01"].value == ("a", "b") and current.answers["q01"].other == "autre"
    assert read_current(SURVEY, [], "en").state == new_state(SURVEY, "en")


def test_a_taken_reference_is_replaced_in_the_state_and_on_the_receipt() -> None:
    steps = [(0, False), (1, False), (1, False), (1, False)]
    current, _, _, plan = walk(SURVEY, steps)[-1]
    review = stored(current, plan).state
    result = transition(SURVEY, review, Submit("TAKEN", review.step), OPEN)
    rekeyed = with_reference(result, "TAKEN", "FRESH")
    assert rekeyed.state.reference == "FRESH"
    receipts = [s for s in rekeyed.output.screens if isinstance(s, ReceiptScreen)]
    assert receipts and all(s.reference == "FRESH" for s in receipts)
    assert with_reference(result, "OTHER", "FRESH") is result
