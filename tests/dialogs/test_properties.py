"""Properties of the dialogue engine over any sequence of events, valid or not (hypothesis).

Events are drawn one at a time against the state reached so far, so that taps on the current
question with the current step (the ones that do something) are frequent, next to random texts,
option ids, question ids and steps, back, skip, edit, submit, language switches and stickers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as record
from hypothesis import strategies as st

from dialogs import Survey
from dialogs.engine import Result, new_state, transition
from dialogs.events import (
    Amend,
    Back,
    Choose,
    Confirm,
    Edit,
    Event,
    Skip,
    Start,
    Status,
    Submit,
    SwitchLanguage,
    TextInput,
    Toggle,
    Unsupported,
)
from dialogs.flow import visible_questions
from dialogs.model import QuestionType
from dialogs.screens import NOTICE_KEYS, ClosedScreen, NotOpenScreen, QuestionScreen, ReceiptScreen
from dialogs.state import Phase, State
from tests.dialogs.helpers import (
    BASE_YAML,
    BUNDLED_NOW,
    NOW,
    answer_problem,
    bundled_survey,
    completing_event,
    load,
    make_survey,
)

SURVEYS: dict[str, tuple[Survey, datetime]] = {
    "test": (load(BASE_YAML), NOW),
    "test-amend": (make_survey(allow_amend=True), NOW),
    "bundled": (bundled_survey(), BUNDLED_NOW),
}
CONTROLLERS = {
    survey.id: frozenset(
        name for q in survey.questions if q.show_if for name in q.show_if.references()
    )
    for survey, _ in SURVEYS.values()
}
"""The questions whose answers decide whether others are shown."""
SAMPLE_TEXTS = [
    "1",
    "2",
    "3",
    "4",
    "5",
    "1 3",
    "3 1 5",
    "1 2 3",
    "2 2",
    "0",
    "99",
    "-1",
    "²",
    "abc",
    "",
    "   ",
    "\n",
    "Jeanne",
    "x" * 60,
    "y" * 600,
    "jeanne@example.org",
    "a@b",
    "3,5",
    "1 500",
    "2012",
    "inf",
    "nan",
    "Recherche",
    "Public body",
    "/back",
    "submit",
    "edit 2",
]
LANGUAGES = ["fr", "en", "de", ""]
EVENT_KINDS = [
    "valid",
    "choose",
    "toggle",
    "confirm",
    "text",
    "vary",
    "back",
    "skip",
    "edit",
    "submit",
    "vary",
    "valid",
    "start",
    "amend",
    "status",
    "language",
    "unsupported",
]
PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


KINDS = {
    # anything at all
    "scattered": st.sampled_from(EVENT_KINDS),
    # mostly answers: the review and the receipt are reached
    "focused": st.sampled_from(["valid"] * 8 + ["vary"] * 14 + ["revisit"] * 8 + EVENT_KINDS),
    # changes their mind: goes back and edits, so that branches open and close
    "fickle": st.sampled_from(["vary"] * 16 + ["revisit"] * 12 + ["valid"] * 2 + EVENT_KINDS),
}
MODE = st.sampled_from(list(KINDS))
INDEX = st.integers(min_value=0, max_value=1 << 16)
CHOICE = st.integers(min_value=0, max_value=2)
STEP_OFFSET = st.integers(min_value=-3, max_value=2)
RANDOM_TEXT = st.text(max_size=30)
RANDOM_ID = st.text(max_size=6)
MAYBE = st.booleans()
UNSUPPORTED = ["sticker", "photo", "voice"]
REFERENCES = ["ABCD-EF23", "WXYZ-2345"]
# Strategies are built once: building them per event costs more than the engine itself.


def pick(data: st.DataObject, items: list[str]) -> str:
    return items[data.draw(INDEX) % len(items)]


def varied_answer(data: st.DataObject, survey: Survey, state: State) -> Event | None:
    """A valid answer to the current question, but any valid one: other options, other points,
    other numbers, so that answers change and `show_if` branches open and close."""
    question = survey.by_id.get(state.current or "")
    if state.phase is not Phase.ANSWERING or question is None or state.awaiting_other:
        return None
    qtype = question.type
    numbers = [str(n) for n in range(1, len(question.choices()) + 1)]
    if qtype is QuestionType.SINGLE_CHOICE:
        return Choose(question.id, pick(data, [o.id for o in question.choices()]), state.step)
    if qtype is QuestionType.SCALE:
        return Choose(
            question.id, pick(data, [str(n) for n in question.scale_points()]), state.step
        )
    if qtype is QuestionType.MULTI_CHOICE and question.searchable:
        # a long list: options are added one at a time (a few at most), then confirmed
        low = max(question.min_choices, 1)
        if len(state.pending) >= low and (data.draw(MAYBE) or len(state.pending) >= low + 2):
            return Confirm(question.id, state.step)
        fresh = [o.id for o in question.choices() if o.id not in state.pending]
        return Toggle(question.id, pick(data, fresh), state.step)
    if qtype is QuestionType.MULTI_CHOICE:
        low, high = max(question.min_choices, 1), question.max_choices
        count = low + data.draw(INDEX) % (high - low + 1)
        chosen = data.draw(st.permutations(numbers))[:count]
        return TextInput(" ".join(chosen))
    if qtype is QuestionType.RANKING:
        return TextInput(" ".join(data.draw(st.permutations(numbers))[: question.top]))
    if qtype is QuestionType.NUMBER:
        low = int(question.min) if question.min is not None else -1000
        high = int(question.max) if question.max is not None else 1000
        return TextInput(str(low + data.draw(INDEX) % (high - low + 1)))
    if qtype is QuestionType.TEXT:
        low, high = max(question.min_length, 1), question.max_length
        return TextInput("é" * (low + data.draw(INDEX) % (high - low + 1)))
    return None


def random_event(
    data: st.DataObject, survey: Survey, state: State, mode: str = "scattered"
) -> Event:
    """One event, often one that makes sense now, often one that does not."""
    kind = data.draw(KINDS[mode])
    answering_kinds = ("valid", "vary", "revisit")
    if mode != "scattered" and kind in answering_kinds:
        if state.phase is Phase.REVIEW and data.draw(CHOICE):
            kind = "revisit"  # not always submit at once: change one's mind first
        elif state.phase is Phase.SUBMITTED:
            kind = pick(data, ["amend", "submit", "start"])
    if kind == "revisit":
        # go back to an earlier answer, the way one changes one's mind
        if state.phase is Phase.REVIEW:
            answered = [q.id for q in visible_questions(survey, state.answers)]
            controlling = [q for q in answered if q in CONTROLLERS[survey.id]]
            prefer_controlling = data.draw(MAYBE)
            if controlling and prefer_controlling:
                answered = controlling  # the answers that open or close a branch
            return Edit(pick(data, answered), state.step)
        if state.phase is Phase.ANSWERING:
            return Back(state.step)
        kind = "vary"
    if kind == "vary":
        varied = varied_answer(data, survey, state)
        if varied is not None:
            return varied
        kind = "valid"
    if kind == "valid":
        event = completing_event(survey, state)
        if event is not None:
            return event
        kind = "submit"
    question_ids = [q.id for q in survey.questions] + ["nope"]
    current = state.current if state.phase is Phase.ANSWERING else None
    question = survey.by_id.get(current or "")

    def question_id() -> str:
        return current if current and data.draw(MAYBE) else pick(data, question_ids)

    def option_id() -> str:
        where = data.draw(CHOICE)
        if where == 0:
            here = ["accept", "decline", "0", "1", "5", "99"]
            if question is not None:
                here += [o.id for o in question.choices()]
                if question.min is not None and question.max is not None:
                    low, high = int(question.min), int(question.max)
                    here += [str(n) for n in range(low - 1, high + 2)]
            return pick(data, here)
        if where == 1:
            return pick(data, [o.id for q in survey.questions for o in q.choices()])
        return data.draw(RANDOM_ID)

    def step() -> int:
        return state.step if data.draw(MAYBE) else max(state.step + data.draw(STEP_OFFSET), -1)

    def maybe_step() -> int | None:
        return None if data.draw(MAYBE) else step()

    if kind == "choose":
        return Choose(question_id(), option_id(), step())
    if kind == "toggle":
        return Toggle(question_id(), option_id(), step())
    if kind == "confirm":
        return Confirm(question_id(), step())
    if kind == "text":
        return TextInput(pick(data, SAMPLE_TEXTS) if data.draw(MAYBE) else data.draw(RANDOM_TEXT))
    if kind == "back":
        return Back(maybe_step())
    if kind == "skip":
        return Skip(maybe_step())
    if kind == "edit":
        return Edit(pick(data, question_ids), maybe_step())
    if kind == "submit":
        return Submit(pick(data, REFERENCES), maybe_step())
    if kind == "language":
        return SwitchLanguage(pick(data, LANGUAGES))
    if kind == "unsupported":
        return Unsupported(pick(data, UNSUPPORTED))
    simple: dict[str, Event] = {"start": Start(), "amend": Amend(), "status": Status()}
    return simple[kind]


def check_transition(survey: Survey, before: State, event: Event, result: Result) -> None:
    """The invariants of one transition while the survey is open."""
    after = result.state
    visible = {q.id for q in visible_questions(survey, after.answers)}
    # (e) the step counter never decreases
    assert after.step >= before.step
    # (b) never loses the answer of a still-visible question; changes only the one answered
    answering = before.phase is Phase.ANSWERING and isinstance(
        event, TextInput | Choose | Confirm | Skip
    )
    for question_id, answer in before.answers.items():
        if question_id in visible:
            assert question_id in after.answers, f"lost the answer to {question_id}"
            if after.answers[question_id] != answer:
                assert answering and before.current == question_id, f"{question_id} changed"
    if set(before.answers) - set(after.answers):
        record("an answer pruned")
    for question_id in set(after.answers) - set(before.answers):
        assert answering and before.current == question_id, f"{question_id} appeared"
    # (c) answers only of visible questions, each valid for its question
    assert set(after.answers) <= visible, f"hidden answers kept: {set(after.answers) - visible}"
    for question_id, answer in after.answers.items():
        problem = answer_problem(survey.by_id[question_id], answer)
        assert problem is None, f"{question_id}: {problem}"
    # the question on screen is one this participant should see, with the current step
    if after.phase is Phase.ANSWERING:
        assert after.current in visible
    for screen in result.output.screens:
        if isinstance(screen, QuestionScreen):
            assert screen.step == after.step
            assert screen.question.id == after.current
    # a submission happens once, from the review, and keeps its reference
    if result.output.submitted:
        assert before.phase is Phase.REVIEW
        assert after.phase is Phase.SUBMITTED
    if before.reference is not None:
        assert after.reference == before.reference
    if before.phase is Phase.SUBMITTED and not isinstance(event, Amend | SwitchLanguage):
        assert after == before
    assert {n.key for n in result.output.notices} <= NOTICE_KEYS


def complete(survey: Survey, state: State, now: datetime) -> Result:
    """Answer each question validly, go to the review and submit: the receipt within a bound."""
    bound = 2 * len(survey.questions) + 5
    result: Result | None = None
    for _ in range(bound):
        event = completing_event(survey, state)
        if event is None:
            break
        result = transition(survey, state, event, now)
        check_transition(survey, state, event, result)
        state = result.state
    assert state.phase is Phase.SUBMITTED, f"not submitted after {bound} steps: {state}"
    if result is None:  # submitted already: the receipt is one tap away
        result = transition(survey, state, Start(), now)
    assert isinstance(result.output.screens[-1], ReceiptScreen)
    return result


@pytest.mark.parametrize("name", list(SURVEYS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_events_while_open(name: str, data: st.DataObject) -> None:
    survey, now = SURVEYS[name]
    state = new_state(survey, data.draw(st.sampled_from(["fr", "en"]), label="language"))
    count = data.draw(st.integers(min_value=0, max_value=60), label="events")
    mode = data.draw(MODE, label="mode")
    checkpoint = data.draw(st.integers(min_value=0, max_value=count), label="checkpoint")
    for index in range(count):
        if index == checkpoint:
            complete(survey, state, now)  # (d) from a state in the middle
        event = random_event(data, survey, state, mode)
        later = now + timedelta(seconds=index)
        result = transition(survey, state, event, later)  # (a) never raises
        check_transition(survey, state, event, result)
        state = result.state
    record(f"reached: {state.phase.value}")
    complete(survey, state, now + timedelta(seconds=count))  # (d) from the last state


def outside(survey: Survey) -> st.SearchStrategy[datetime]:
    second = timedelta(seconds=1)
    return st.sampled_from(
        [
            survey.opens_at - second,
            survey.opens_at - timedelta(days=40),
            survey.closes_at,
            survey.closes_at + second,
            survey.closes_at + timedelta(days=400),
        ]
    )


@pytest.mark.parametrize("name", list(SURVEYS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_outside_the_window_nothing_changes_but_the_language(
    name: str, data: st.DataObject
) -> None:
    survey, now = SURVEYS[name]
    state = new_state(survey)
    mode = data.draw(MODE, label="mode")
    for _ in range(data.draw(st.integers(min_value=0, max_value=40), label="open events")):
        event = random_event(data, survey, state, mode)
        state = transition(survey, state, event, now).state
    record(f"reached: {state.phase.value}")
    when = data.draw(outside(survey), label="now")
    window = (
        NotOpenScreen(survey.opens_at)
        if when < survey.opens_at
        else ClosedScreen(survey.closes_at, state.reference)
    )
    for _ in range(data.draw(st.integers(min_value=1, max_value=15), label="closed events")):
        event = random_event(data, survey, state)
        result = transition(survey, state, event, when)
        assert not result.output.submitted
        if isinstance(event, SwitchLanguage) and event.language in survey.languages:
            assert result.state == replace(state, language=event.language)
        else:
            assert result.state == state
        if state.phase is not Phase.NEW or not isinstance(event, SwitchLanguage | Status):
            assert result.output.screens == (window,)
        state = result.state


def full_review(survey: Survey, now: datetime) -> State:
    """The review after answering with the first option everywhere: every branch open."""
    state = new_state(survey)
    while state.phase is not Phase.REVIEW:
        event = completing_event(survey, state)
        assert event is not None
        state = transition(survey, state, event, now).state
    assert len(state.answers) == len(survey.questions), "a branch stayed closed"
    return state


@pytest.mark.parametrize("name", ["test", "bundled"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changing_answers_drops_exactly_the_answers_now_hidden(
    name: str, data: st.DataObject
) -> None:
    """From the review, edit answers again and again (any valid answer, newly shown questions
    answered too): each time, what is kept is exactly the earlier answers still visible."""
    survey, now = SURVEYS[name]
    state = full_review(survey, now)
    for _ in range(data.draw(st.integers(min_value=1, max_value=6), label="edits")):
        visible = [q.id for q in visible_questions(survey, state.answers)]
        controlling = [q for q in visible if q in CONTROLLERS[survey.id]]
        edited = data.draw(st.sampled_from(controlling or visible), label="edit")
        before = state
        result = transition(survey, state, Edit(edited, state.step), now)
        check_transition(survey, state, Edit(edited), result)
        state = result.state
        changed: set[str] = set()
        for _ in range(3 * len(survey.questions)):
            if state.phase is Phase.REVIEW:
                break
            event = varied_answer(data, survey, state) or completing_event(survey, state)
            assert event is not None
            if state.current is not None:
                changed.add(state.current)
            result = transition(survey, state, event, now)
            check_transition(survey, state, event, result)
            state = result.state
        assert state.phase is Phase.REVIEW, "back to the review after the edit"
        still_visible = {q.id for q in visible_questions(survey, state.answers)}
        kept = {q: a for q, a in before.answers.items() if q in still_visible and q not in changed}
        assert {q: a for q, a in state.answers.items() if q not in changed} == kept
        if set(before.answers) - set(state.answers):
            record("an answer pruned")
    result = transition(survey, state, Submit("ABCD-EF23", state.step), now)
    assert result.output.submitted
