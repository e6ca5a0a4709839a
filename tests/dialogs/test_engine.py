"""The dialogue engine as a participant lives it: welcome, progress, back, skip, edit, pruning of
hidden answers, resuming, stale buttons, languages, submission and amendment, and the opening
window at its edges (also across daylight-saving changes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from dialogs import Survey
from dialogs.engine import current_screen, is_open, new_state, transition
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
from dialogs.screens import (
    ClosedScreen,
    NotOpenScreen,
    ReceiptScreen,
    ReviewScreen,
    WelcomeScreen,
)
from dialogs.state import Answer, Phase, State
from tests.dialogs.helpers import (
    FULL_ANSWERS,
    NOW,
    REFERENCE,
    SHORT_ANSWERS,
    Run,
    at_review,
    completing_event,
    make_survey,
    started,
)

PARIS = ZoneInfo("Europe/Paris")


def position(run: Run) -> tuple[int, int, int, int]:
    """(section i, of n, question j, of m) as "Section i/n · Question j/m" shows it."""
    p = run.question_screen.progress
    return (p.section_number, p.section_count, p.question_number, p.question_count)


def review_ids(run: Run) -> list[str]:
    screen = run.screen
    assert isinstance(screen, ReviewScreen), screen
    return [item.question.id for item in screen.items]


# -- start, welcome, progress --------------------------------------------------------------------


def test_start_shows_the_welcome_then_the_first_question(survey: Survey) -> None:
    run = Run(survey)
    assert run.state == new_state(survey)
    run.start()
    assert isinstance(run.screens[0], WelcomeScreen)
    assert run.question_screen.question.id == "consent"
    assert run.state.phase is Phase.ANSWERING
    assert not run.question_screen.can_back
    assert not run.question_screen.can_skip


def test_any_first_message_starts_without_being_taken_as_an_answer(survey: Survey) -> None:
    run = Run(survey)
    run.type("1")
    assert isinstance(run.screens[0], WelcomeScreen)
    assert run.current == "consent"
    assert run.state.answers == {}


def test_new_state_language(survey: Survey) -> None:
    assert new_state(survey).language == "fr"
    assert new_state(survey, "en").language == "en"
    assert new_state(survey, "de").language == "fr"


def test_progress_counts_visible_questions_and_changes_with_the_branches(survey: Survey) -> None:
    run = started(survey)
    # staff (a whole section) and why are hidden: 9 questions in 3 sections
    assert position(run) == (1, 3, 1, 9)
    run.answer("accept")
    assert position(run) == (1, 3, 2, 9)
    run.answer("company")  # opens the "company" section
    assert run.current == "staff"
    assert position(run) == (2, 4, 3, 10)
    run.answer("250")
    assert position(run) == (3, 4, 4, 10)
    run.answer("2")  # opens "why"
    assert run.current == "why"
    assert position(run) == (3, 4, 5, 11)
    run.back()
    assert run.current == "sat"
    assert position(run) == (3, 4, 4, 11)
    run.answer("5")  # closes "why" again
    assert run.current == "tools"
    assert position(run) == (3, 4, 5, 10)
    assert run.question_screen.progress.answered == 4


def test_progress_without_the_branches(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "research")
    assert run.current == "sat"
    assert position(run) == (2, 3, 3, 9)
    run.answer("3", "+web", "+green+digital+europe", "Bien.", "Jo", "jo@example.org")
    assert run.current == "budget"
    assert position(run) == (3, 3, 9, 9)


# -- back ----------------------------------------------------------------------------------------


def test_back_goes_to_the_previous_question_with_its_answer(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company", "250")
    assert run.current == "sat"
    run.back()
    assert run.current == "staff"
    assert run.question_screen.answer == Answer(250)
    run.back()
    assert run.current == "role"
    assert run.question_screen.answer == Answer("company")
    run.back()
    assert run.current == "consent"
    assert not run.question_screen.can_back
    assert run.state.answers.keys() == {"consent", "role", "staff"}, "back keeps the answers"


def test_nothing_before_the_first_question(survey: Survey) -> None:
    run = started(survey)
    before = run.state
    run.back()
    assert run.notices == ["no_previous"]
    assert run.state == before
    assert run.question_screen.question.id == "consent"


def test_back_skips_questions_that_became_hidden(survey: Survey) -> None:
    run = at_review(survey)
    run.edit("role")
    run.tap("research")  # staff is now hidden
    assert isinstance(run.screen, ReviewScreen)
    visited = []
    while True:
        run.back()
        if run.notices:
            break
        visited.append(run.current)
    assert run.notices == ["no_previous"]
    assert visited == [
        "budget",
        "email",
        "name",
        "comment",
        "priorities",
        "tools",
        "why",
        "sat",
        "role",
        "consent",
    ]


def test_back_then_answering_again_changes_only_that_answer(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company", "250", "4", "+web")
    run.back()
    run.back()
    assert run.current == "sat"
    run.answer("5")
    assert run.value("sat") == 5
    assert run.value("tools") == ("web",)
    assert run.current == "priorities", "goes on to the first unanswered question"


def test_back_from_the_review(survey: Survey) -> None:
    run = at_review(survey)
    run.back()
    assert run.current == "budget"
    assert run.state.phase is Phase.ANSWERING
    run.answer("13")
    assert isinstance(run.screen, ReviewScreen)
    assert run.value("budget") == 13


# -- skip ----------------------------------------------------------------------------------------


def test_skip_is_refused_on_a_required_question(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept")
    assert not run.question_screen.can_skip
    before = run.state
    run.skip()
    assert run.notices == ["required"]
    assert run.state == before


def test_skip_an_optional_question(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "research", "4")
    assert run.current == "tools"
    assert run.question_screen.can_skip
    run.toggle("web")  # ticks not confirmed are not an answer
    run.skip()
    assert run.notices == []
    assert run.state.answers["tools"] == Answer(None)
    assert run.current == "priorities"
    run.answer("+green+europe+skills")
    run.skip()  # comment
    assert run.current == "name"
    run.answer("Jo")
    run.skip()
    run.skip()  # email and budget
    assert isinstance(run.screen, ReviewScreen)
    skipped = [i.question.id for i in run.screen.items if i.answer.skipped]
    assert skipped == ["tools", "comment", "email", "budget"]
    run.submit()
    assert isinstance(run.screen, ReceiptScreen)


def test_skip_from_an_old_message_is_refused(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "research", "4")
    before = run.state
    run.send(Skip(run.state.step - 1))
    assert run.notices == ["stale_button"]
    assert run.state == before


# -- edit from the review ------------------------------------------------------------------------


def test_edit_from_the_review_returns_to_the_review(survey: Survey) -> None:
    run = at_review(survey)
    answers = dict(run.state.answers)
    run.edit("name")
    assert run.current == "name"
    assert run.question_screen.answer == Answer("Jeanne Martin")
    assert run.question_screen.can_back
    run.type("Jeanne Dupont")
    assert isinstance(run.screen, ReviewScreen)
    assert run.value("name") == "Jeanne Dupont"
    assert {k: v for k, v in run.state.answers.items() if k != "name"} == {
        k: v for k, v in answers.items() if k != "name"
    }


def test_edit_a_multi_choice_starts_from_its_ticks(survey: Survey) -> None:
    run = at_review(survey)
    run.edit("tools")
    assert run.ticked() == ("web", "phone")
    run.toggle("phone")
    run.toggle("visit")
    run.confirm()
    assert isinstance(run.screen, ReviewScreen)
    assert run.value("tools") == ("web", "visit")


def test_back_while_editing_returns_to_the_review_unchanged(survey: Survey) -> None:
    run = at_review(survey)
    answers = run.state.answers
    run.edit("priorities")
    run.toggle("digital")  # untick, then give up
    run.back()
    assert isinstance(run.screen, ReviewScreen)
    assert run.state.answers == answers


@pytest.mark.parametrize("question_id", ["staff", "why", "nope"])
def test_edit_of_a_hidden_or_unknown_question_is_refused(survey: Survey, question_id: str) -> None:
    run = at_review(survey, SHORT_ANSWERS)
    before = run.state
    run.edit(question_id)
    assert run.notices == ["stale_button"]
    assert run.state == before
    assert isinstance(run.screen, ReviewScreen)


def test_edit_from_an_old_review_or_while_answering_is_refused(survey: Survey) -> None:
    run = at_review(survey)
    before = run.state
    run.send(Edit("name", run.state.step - 1))
    assert run.notices == ["stale_button"]
    assert run.state == before
    run.edit("name")
    editing = run.state
    run.send(Edit("email", None))
    assert run.notices == ["stale_button"]
    assert run.state == editing


# -- pruning of hidden answers -------------------------------------------------------------------


def test_changing_a_controlling_answer_drops_the_now_hidden_answers_only(survey: Survey) -> None:
    run = at_review(survey)
    full = dict(run.state.answers)
    run.edit("sat")
    run.tap("4")  # why is hidden now
    assert isinstance(run.screen, ReviewScreen)
    expected = {k: v for k, v in full.items() if k != "why"} | {"sat": Answer(4)}
    assert run.state.answers == expected
    assert "why" not in review_ids(run)

    run.edit("role")
    run.tap("public")  # staff is hidden now
    assert isinstance(run.screen, ReviewScreen)
    expected = {k: v for k, v in expected.items() if k != "staff"} | {"role": Answer("public")}
    assert run.state.answers == expected
    run.submit()
    assert isinstance(run.screen, ReceiptScreen)


def test_an_answer_that_keeps_the_branch_open_drops_nothing(survey: Survey) -> None:
    run = at_review(survey)
    full = dict(run.state.answers)
    run.edit("sat")
    run.tap("1")  # still <= 2
    assert run.state.answers == full | {"sat": Answer(1)}


def test_pruning_while_answering_after_back(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company", "250", "1", "+time", "+web")
    run.back()
    run.back()
    run.back()
    assert run.current == "sat"
    run.answer("3")
    assert run.state.answers.keys() == {"consent", "role", "staff", "sat", "tools"}
    assert run.current == "priorities"


def test_a_branch_opened_by_an_edit_is_asked_then_back_to_the_review(survey: Survey) -> None:
    run = at_review(survey, SHORT_ANSWERS)
    run.edit("role")
    run.tap("company")
    assert run.current == "staff"
    run.answer("12")
    assert isinstance(run.screen, ReviewScreen), "not sent through the whole questionnaire again"
    assert run.value("staff") == 12
    run.edit("sat")
    run.tap("2")
    assert run.current == "why"
    assert run.question_screen.answer is None
    run.answer("+quality")
    assert isinstance(run.screen, ReviewScreen)
    assert review_ids(run)[:5] == ["consent", "role", "staff", "sat", "why"]


def test_a_dropped_answer_does_not_come_back_with_its_branch(survey: Survey) -> None:
    run = at_review(survey)
    run.edit("sat")
    run.tap("4")
    run.edit("sat")
    run.tap("2")
    assert run.current == "why"
    assert run.question_screen.answer is None
    assert run.ticked() == ()


# -- resuming ------------------------------------------------------------------------------------


def test_start_resumes_at_the_first_unanswered_question(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company", "250", "2")
    assert run.current == "why"
    run.back()
    run.back()
    assert run.current == "staff"
    run.start()
    assert run.notices == ["welcome_back"]
    assert not any(isinstance(s, WelcomeScreen) for s in run.screens)
    assert run.current == "why"
    assert run.state.answers.keys() == {"consent", "role", "staff", "sat"}
    run.back()
    assert run.current == "staff", "back from the resumed question"


def test_resume_days_later_from_the_stored_state(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "research", "3")
    stored = run.state.to_json()
    answers = {k: Answer.from_json(v.to_json()) for k, v in run.state.answers.items()}
    later = State.from_json(stored, language="fr", answers=answers)
    assert later == run.state
    resumed = Run(survey, NOW + timedelta(days=5), later)
    resumed.start()
    assert resumed.current == "tools"
    assert resumed.state.answers == run.state.answers


def test_start_in_the_review_and_after_submitting(survey: Survey) -> None:
    run = at_review(survey)
    run.start()
    assert isinstance(run.screen, ReviewScreen)
    run.submit()
    run.start()
    assert isinstance(run.screen, ReceiptScreen)
    assert run.screen.reference == REFERENCE


def test_start_while_editing_goes_back_to_the_review(survey: Survey) -> None:
    run = at_review(survey)
    run.edit("name")
    run.start()
    assert isinstance(run.screen, ReviewScreen)
    assert run.value("name") == "Jeanne Martin"


# -- stale buttons, unexpected input -------------------------------------------------------------


def test_a_button_from_an_old_message_is_refused(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept")
    old_step = run.state.step
    run.tap("company")
    assert run.current == "staff"
    before = run.state
    # a double tap: the same button again, processed after the first one
    run.send(Choose("role", "research", old_step))
    assert run.notices == ["stale_button"]
    assert run.state == before
    assert run.value("role") == "company"
    assert run.question_screen.question.id == "staff", "the current question is shown again"


@pytest.mark.parametrize(
    "event",
    [
        Choose("consent", "accept", 0),  # another question's button
        Choose("role", "company", 99),  # a step that never was
        Toggle("why", "cost", 0),
        Confirm("priorities", 0),
        Back(0),
    ],
    ids=["other-question", "future-step", "toggle", "confirm", "back"],
)
def test_stale_buttons_leave_the_state_unchanged(survey: Survey, event: Event) -> None:
    run = started(survey)
    run.answer("accept")
    assert run.current == "role"
    before = run.state
    if isinstance(event, Choose | Toggle | Confirm) and event.step == 0:
        # same step as now, but another question: it must be refused too
        event = replace(event, step=run.state.step)
    run.send(event)
    assert run.notices == ["stale_button"]
    assert run.state == before
    assert run.question_screen.question.id == "role"


def test_a_button_of_the_question_in_the_review_is_refused(survey: Survey) -> None:
    run = at_review(survey)
    before = run.state
    run.send(Choose("name", "x", run.state.step))
    assert run.notices == ["stale_button"]
    run.type("Jeanne")
    assert run.notices == ["use_buttons"]
    assert run.state == before


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
def test_unsupported_messages(survey: Survey, kind: str) -> None:
    run = started(survey)
    run.answer("accept", "company")
    before = run.state
    result = run.send(Unsupported(kind))
    assert run.notices == ["unsupported"]
    assert result.output.notices[0].params == {"kind": kind}
    assert run.state == before
    assert run.question_screen.question.id == "staff"
    review = at_review(survey)
    before = review.state
    review.send(Unsupported(kind))
    assert review.state == before
    assert isinstance(review.screen, ReviewScreen)


def test_status(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company")
    before = run.state
    result = run.send(Status())
    assert run.state == before
    assert result.output.notices[0].key == "status"
    assert result.output.notices[0].params["answered"] == 2
    assert result.output.notices[0].params["total"] == 10


# -- languages -----------------------------------------------------------------------------------


def test_switching_language_keeps_the_answers_and_the_place(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company", "250", "2")
    before = run.state
    run.send(SwitchLanguage("en"))
    assert run.notices == ["language_switched"]
    assert run.state.language == "en"
    assert run.state.answers == before.answers
    assert run.current == "why"
    assert run.state == replace(before, language="en")
    run.answer("+cost")
    run.send(SwitchLanguage("fr"))
    assert run.state.language == "fr"
    assert run.value("why") == ("cost",)


def test_unknown_language_is_refused(survey: Survey) -> None:
    run = started(survey)
    before = run.state
    result = run.send(SwitchLanguage("de"))
    assert run.notices == ["unknown_language"]
    assert result.output.notices[0].params == {"languages": "fr, en"}
    assert run.state == before


def test_choosing_the_language_before_starting(survey: Survey) -> None:
    run = Run(survey)
    run.send(SwitchLanguage("en"))
    assert run.state.language == "en"
    assert run.state.phase is Phase.NEW
    run.start()
    assert isinstance(run.screens[0], WelcomeScreen)
    assert run.state.language == "en"


# -- submitting ----------------------------------------------------------------------------------


def test_submit_from_the_review_gives_a_receipt(survey: Survey) -> None:
    run = at_review(survey)
    answers = run.state.answers
    assert review_ids(run) == [q.id for q in survey.questions]
    result = run.submit()
    assert result.output.submitted
    assert run.screen == ReceiptScreen(REFERENCE, NOW, can_amend=False)
    assert run.state.phase is Phase.SUBMITTED
    assert run.state.reference == REFERENCE
    assert run.state.submitted_at == NOW
    assert run.state.answers == answers


def test_a_second_submit_does_not_submit_again(survey: Survey) -> None:
    run = at_review(survey)
    run.submit()
    submitted = run.state
    result = run.send(Submit("ZZZZ-9999", submitted.step - 1))  # the same Submit button again
    assert run.notices == ["already_submitted"]
    assert not result.output.submitted
    assert run.state == submitted
    assert isinstance(run.screen, ReceiptScreen)
    assert run.screen.reference == REFERENCE
    result = run.send(Submit("ZZZZ-9999"))
    assert not result.output.submitted
    assert run.state.reference == REFERENCE


def test_nothing_changes_after_submitting(survey: Survey) -> None:
    run = at_review(survey)
    run.submit()
    submitted = run.state
    for event in (
        TextInput("Autre nom"),
        Back(),
        Skip(),
        Edit("name"),
        Choose("name", "x", submitted.step),
    ):
        run.send(event)
        assert run.state == submitted, event
        assert isinstance(run.screen, ReceiptScreen)


def test_submit_is_only_on_the_review(survey: Survey) -> None:
    run = started(survey)
    run.answer("accept", "company")
    before = run.state
    result = run.send(Submit(REFERENCE))
    assert not result.output.submitted
    assert run.notices == ["stale_button"]
    assert run.state == before


def test_submit_with_missing_answers_goes_to_the_first_missing(survey: Survey) -> None:
    run = at_review(survey, SHORT_ANSWERS)
    run.edit("role")
    run.tap("company")  # opens staff
    assert run.current == "staff"
    run.back()  # back to the review without answering it
    assert isinstance(run.screen, ReviewScreen)
    assert "staff" not in run.state.answers
    result = run.submit()
    assert not result.output.submitted
    assert run.notices == ["missing_answers"]
    assert result.output.notices[0].params == {"count": 1}
    assert run.current == "staff"
    assert run.state.phase is Phase.ANSWERING
    run.answer("3")
    assert isinstance(run.screen, ReviewScreen)
    assert run.submit().output.submitted


def test_submit_of_a_stored_review_missing_required_answers(survey: Survey) -> None:
    answers = {"consent": Answer(True), "role": Answer("research"), "sat": Answer(5)}
    state = State(language="fr", phase=Phase.REVIEW, answers=answers, step=12)
    run = Run(survey, NOW, state)
    result = run.submit()
    assert not result.output.submitted
    assert result.output.notices[0].params == {"count": 6}  # tools ... budget, optional included
    assert run.current == "tools"
    assert run.state.answers == answers


def test_amend_not_allowed(survey: Survey) -> None:
    run = at_review(survey)
    run.submit()
    assert isinstance(run.screen, ReceiptScreen) and not run.screen.can_amend
    submitted = run.state
    run.send(Amend())
    assert run.notices == ["amend_not_allowed"]
    assert run.state == submitted


def test_amend_allowed_keeps_the_reference() -> None:
    survey = make_survey(allow_amend=True)
    run = at_review(survey)
    run.submit()
    assert isinstance(run.screen, ReceiptScreen) and run.screen.can_amend
    run.send(Amend())
    assert run.notices == ["amended"]
    assert isinstance(run.screen, ReviewScreen)
    assert run.state.phase is Phase.REVIEW
    run.edit("name")
    run.type("Jeanne Dupont")
    later = NOW + timedelta(hours=2)
    result = run.send(Submit("ZZZZ-9999", run.state.step), later)
    assert result.output.submitted
    assert run.screen == ReceiptScreen(REFERENCE, later, can_amend=True)
    assert run.value("name") == "Jeanne Dupont"


def test_amend_before_submitting_is_refused() -> None:
    run = at_review(make_survey(allow_amend=True))
    before = run.state
    run.send(Amend())
    assert run.notices == ["stale_button"]
    assert run.state == before


# -- the window ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def windows(bundled: Survey) -> dict[str, Survey]:
    return {
        "bundled": bundled,
        # 23 hours: the clocks go forward on 27 March 2022 at 02:00 in Paris
        "dst-march": make_survey(
            opens_at="2022-03-26T12:00:00+01:00", closes_at="2022-03-27T12:00:00+02:00"
        ),
        # 25 hours: the clocks go back on 30 October 2022 at 03:00 in Paris
        "dst-october": make_survey(
            opens_at="2022-10-29T12:00:00+02:00", closes_at="2022-10-30T12:00:00+01:00"
        ),
    }


def test_the_windows_as_loaded(windows: dict[str, Survey]) -> None:
    bundled = windows["bundled"]
    assert bundled.opens_at == datetime(2022, 1, 17, 8, 0, tzinfo=UTC)
    # closed on 7 March 2022 at the end of the day, Paris time
    assert bundled.closes_at == datetime(2022, 3, 7, 23, 0, tzinfo=UTC)
    assert bundled.closes_at == datetime(2022, 3, 8, 0, 0, tzinfo=PARIS)
    march, october = windows["dst-march"], windows["dst-october"]
    assert march.closes_at - march.opens_at == timedelta(hours=23)
    assert october.closes_at - october.opens_at == timedelta(hours=25)


ZONES: dict[str, tzinfo] = {
    "utc": UTC,
    "paris": PARIS,
    "new-york": ZoneInfo("America/New_York"),
    "plus-0530": timezone(timedelta(hours=5, minutes=30)),
    "minus-11": timezone(timedelta(hours=-11)),
}
EDGES = [
    # (edge, seconds from it, expected)
    ("opens", -1, "not_open"),
    ("opens", 0, "open"),
    ("opens", 1, "open"),
    ("closes", -1, "open"),
    ("closes", 0, "closed"),
    ("closes", 1, "closed"),
]


def _walk(survey: Survey, now: datetime, until: Phase) -> State:
    """A participant's state, answered while the survey is open, up to `until`."""
    run = Run(survey, now)
    while run.state.phase is not until or not run.state.answers:
        event = completing_event(survey, run.state)
        assert event is not None
        run.send(event)
    return run.state


def _inside(survey: Survey) -> datetime:
    return survey.opens_at + (survey.closes_at - survey.opens_at) / 2


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(("edge", "delta", "expected"), EDGES)
@pytest.mark.parametrize("name", ["bundled", "dst-march", "dst-october"])
def test_window_edges(
    windows: dict[str, Survey], name: str, edge: str, delta: int, expected: str, zone: str
) -> None:
    survey = windows[name]
    at = survey.opens_at if edge == "opens" else survey.closes_at
    now = (at + timedelta(seconds=delta)).astimezone(ZONES[zone])
    inside = _inside(survey)
    fresh = new_state(survey)
    draft = _walk(survey, inside, Phase.ANSWERING)
    review = _walk(survey, inside, Phase.REVIEW)
    assert is_open(survey, now) is (expected == "open")

    started_ = transition(survey, fresh, Start(), now)
    answered = transition(survey, draft, completing_event(survey, draft) or Start(), now)
    submitted = transition(survey, review, Submit(REFERENCE, review.step), now)

    if expected == "open":
        assert isinstance(started_.output.screens[0], WelcomeScreen)
        assert started_.state.phase is Phase.ANSWERING
        assert len(answered.state.answers) == len(draft.answers) + 1
        assert submitted.output.submitted
        assert submitted.state.phase is Phase.SUBMITTED
        assert submitted.state.submitted_at == now
        assert isinstance(submitted.output.screens[-1], ReceiptScreen)
        return
    window = (
        NotOpenScreen(survey.opens_at)
        if expected == "not_open"
        else ClosedScreen(survey.closes_at, None)
    )
    assert started_.output.screens == (window,)
    assert started_.state == fresh
    assert answered.output.screens == (window,)
    assert answered.state == draft, "the draft is kept as it was"
    assert submitted.output.screens == (window,)
    assert not submitted.output.submitted, "one second late is late"
    assert submitted.state == review
    assert submitted.state.reference is None
    assert current_screen(survey, review, now) == window


@pytest.mark.parametrize("name", ["dst-march", "dst-october"])
def test_wall_clock_times_around_the_change(windows: dict[str, Survey], name: str) -> None:
    survey = windows[name]
    day = survey.closes_at.astimezone(PARIS)
    just_before = datetime(day.year, day.month, day.day, 11, 59, 59, tzinfo=PARIS)
    at_noon = datetime(day.year, day.month, day.day, 12, 0, 0, tzinfo=PARIS)
    assert at_noon == survey.closes_at
    assert is_open(survey, just_before)
    assert not is_open(survey, at_noon)
    # an hour either side, in the offset of the opening day (the other side of the change)
    opening_offset = survey.opens_at.utcoffset()
    assert opening_offset is not None and opening_offset != at_noon.utcoffset()
    naive_noon = at_noon.replace(tzinfo=timezone(opening_offset))
    # forward in March: 12:00+01:00 is 13:00 in Paris, closed; back in October: 12:00+02:00
    # is 11:00 in Paris, still open
    assert is_open(survey, naive_noon) is (name == "dst-october")
    if name == "dst-october":
        # 02:30 happens twice that night: both are inside the window
        first = datetime(2022, 10, 30, 2, 30, tzinfo=PARIS, fold=0)
        second = datetime(2022, 10, 30, 2, 30, tzinfo=PARIS, fold=1)
        assert second - first == timedelta(0)  # same wall time, compared naively...
        assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
        for instant in (first, second):
            result = transition(survey, new_state(survey), Start(), instant)
            assert isinstance(result.output.screens[0], WelcomeScreen)


def test_closed_screen_shows_the_reference_of_an_earlier_submission(bundled: Survey) -> None:
    submitted = transition(
        bundled,
        _walk(bundled, _inside(bundled), Phase.REVIEW),
        Submit(REFERENCE),
        bundled.closes_at - timedelta(seconds=1),
    ).state
    assert submitted.phase is Phase.SUBMITTED
    result = transition(bundled, submitted, Start(), bundled.closes_at)
    assert result.output.screens == (ClosedScreen(bundled.closes_at, REFERENCE),)
    assert result.state == submitted


def test_outside_the_window_only_the_language_changes(survey: Survey) -> None:
    run = at_review(survey)
    before = run.state
    closed = survey.closes_at
    result = transition(survey, before, SwitchLanguage("en"), closed)
    assert result.state == replace(before, language="en")
    assert result.output.screens == (ClosedScreen(closed, None),)
    for event in (Status(), Unsupported("photo"), Back(), Edit("name"), Amend()):
        result = transition(survey, before, event, closed)
        assert result.state == before
        assert result.output.screens == (ClosedScreen(closed, None),)


@pytest.mark.parametrize("name", ["bundled", "dst-march", "dst-october"])
def test_preview_ignores_the_window(windows: dict[str, Survey], name: str) -> None:
    survey = windows[name]
    for now in (survey.opens_at - timedelta(seconds=1), survey.closes_at + timedelta(days=400)):
        run = Run(survey, now, preview=True)
        while (event := completing_event(survey, run.state)) is not None:
            run.send(event)
        assert isinstance(run.screen, ReceiptScreen)
        assert run.state.submitted_at == now
        assert current_screen(survey, run.state, now, preview=True) == run.screen


def test_full_answers_cover_every_question(survey: Survey) -> None:
    """The fixtures themselves: FULL_ANSWERS shows every question of the test survey."""
    assert len(FULL_ANSWERS) == len(survey.questions)
    assert {q.type for q in survey.questions} == {
        "consent",
        "single_choice",
        "number",
        "scale",
        "multi_choice",
        "ranking",
        "text",
        "email",
    }
