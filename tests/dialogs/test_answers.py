"""Each question type's answer validation, as a participant meets it: what is accepted and stored,
what is refused with which notice, and that a refusal leaves the participant where they were."""

from __future__ import annotations

import pytest

from dialogs import Survey
from dialogs.answers import parse_email, parse_number, parse_text
from dialogs.limits import MAX_OTHER_TEXT
from dialogs.screens import Notice, QuestionScreen
from dialogs.state import Answer
from tests.dialogs.helpers import FULL_ANSWERS, Run, started


def on(survey: Survey, question_id: str) -> Run:
    """A participant who answered everything before `question_id` as in FULL_ANSWERS."""
    run = started(survey)
    for reply in FULL_ANSWERS:
        if run.current == question_id:
            return run
        run.answer(reply)
    raise AssertionError(f"{question_id} never asked")


def refused(run: Run, notice: str) -> None:
    """The last event was refused with `notice`; the participant is still on the same question."""
    assert run.notices == [notice]
    assert isinstance(run.screen, QuestionScreen)
    assert run.screen.question.id == run.current


def assert_refused(survey: Survey, question_id: str, text: str, notice: str) -> Run:
    run = on(survey, question_id)
    before = run.state
    run.type(text)
    refused(run, notice)
    assert run.state == before, "a refused answer changed the state"
    assert question_id not in run.state.answers
    return run


def assert_stored(survey: Survey, question_id: str, text: str, expected: object) -> Run:
    run = on(survey, question_id)
    run.type(text)
    assert run.notices == [], f"{text!r} refused"
    assert run.state.answers[question_id] == Answer(expected)  # type: ignore[arg-type]
    assert run.current != question_id, "an accepted answer moves on"
    return run


# -- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "notice"),
    [
        ("", "text_empty"),
        ("   ", "text_empty"),
        ("\n\t \n", "text_empty"),
        ("J", "text_too_short"),  # min_length 2
        ("  J  ", "text_too_short"),  # measured after trimming
        ("J" * 21, "text_too_long"),  # max_length 20
        ("Jeanne " + "x" * 14, "text_too_long"),
    ],
)
def test_text_refused(survey: Survey, text: str, notice: str) -> None:
    assert_refused(survey, "name", text, notice)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("Jo", "Jo"),
        ("J" * 20, "J" * 20),
        ("  Jeanne   Martin  ", "Jeanne Martin"),
        # a single-line question folds line breaks and tabs into spaces
        ("Jeanne\nMartin", "Jeanne Martin"),
        ("Jeanne\tMartin", "Jeanne Martin"),
        ("Zoé Ørsted-Łukasz", "Zoé Ørsted-Łukasz"),
    ],
)
def test_text_accepted(survey: Survey, text: str, stored: str) -> None:
    assert_stored(survey, "name", text, stored)


def test_multiline_text_keeps_its_lines(survey: Survey) -> None:
    assert_stored(survey, "comment", "  Ligne une\nLigne deux  ", "Ligne une\nLigne deux")


def test_multiline_text_limits(survey: Survey) -> None:
    assert_refused(survey, "comment", "ab", "text_too_short")  # min_length 3
    assert_refused(survey, "comment", "x" * 51, "text_too_long")  # max_length 50
    assert_stored(survey, "comment", "x" * 50, "x" * 50)


def test_text_notices_say_the_limit(survey: Survey) -> None:
    question = survey.by_id["name"]
    assert parse_text(question, "x" * 25) == Notice("text_too_long", {"max": 20, "length": 25})
    assert parse_text(question, "x") == Notice("text_too_short", {"min": 2, "length": 1})


# -- e-mail ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("jeanne@example.org", "jeanne@example.org"),
        ("  jeanne.martin@example.org  ", "jeanne.martin@example.org"),
        ("Jeanne+poles@Sub.Example.FR", "Jeanne+poles@sub.example.fr"),  # domain lower-cased
        ("j_m-1@regions-france.org", "j_m-1@regions-france.org"),
        ("o'neil@example.co.uk", "o'neil@example.co.uk"),
    ],
)
def test_email_accepted(survey: Survey, text: str, stored: str) -> None:
    assert_stored(survey, "email", text, stored)


@pytest.mark.parametrize(
    "text",
    [
        "jeanne",
        "jeanne@",
        "@example.org",
        "jeanne@example",  # no dot in the domain
        "jeanne martin@example.org",
        "jeanne@exam ple.org",
        "jeanne..martin@example.org",
        "jeanne@example..org",
        "jeanne@@example.org",
        "jeanne@-example.org",
        "jeanne@example.org.",
        "jeanne@exa_mple.org",
        "<jeanne@example.org>",
        "x" * 250 + "@example.org",  # longer than 254 characters
    ],
)
def test_email_refused(survey: Survey, text: str) -> None:
    assert_refused(survey, "email", text, "invalid_email")
    assert parse_email(text) == Notice("invalid_email")


def test_empty_email_is_refused_but_can_be_skipped(survey: Survey) -> None:
    run = assert_refused(survey, "email", "   ", "invalid_email")
    run.skip()
    assert run.state.answers["email"] == Answer(None)
    assert run.current == "budget"


# -- number ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question_id", "text", "stored"),
    [
        ("staff", "250", 250),
        ("staff", "1", 1),  # min
        ("staff", "100000", 100000),  # max
        ("staff", "1 500", 1500),  # a space between thousands
        ("staff", "1\u202f500", 1500),  # the narrow no-break space of French formatting
        ("staff", "1\u00a0500", 1500),
        ("staff", " 42 ", 42),
        ("staff", "12,0", 12),  # a whole number written with a decimal part
        ("budget", "3,5", 3.5),  # French decimal comma
        ("budget", "3.5", 3.5),
        ("budget", "0", 0),
        ("budget", ",5", 0.5),
        ("budget", "1 000", 1000),
        ("budget", "+7", 7),
    ],
)
def test_number_accepted(survey: Survey, question_id: str, text: str, stored: float) -> None:
    run = assert_stored(survey, question_id, text, stored)
    assert type(run.state.answers[question_id].value) is type(stored)


@pytest.mark.parametrize(
    ("question_id", "text", "notice"),
    [
        ("staff", "abc", "not_a_number"),
        ("staff", "", "not_a_number"),
        ("staff", "douze", "not_a_number"),
        ("staff", "12 salariés", "not_a_number"),
        ("staff", "inf", "not_a_number"),
        ("staff", "Infinity", "not_a_number"),
        ("staff", "nan", "not_a_number"),
        ("staff", "1e3", "not_a_number"),
        ("staff", "0x10", "not_a_number"),
        ("staff", "1.2.3", "not_a_number"),
        ("staff", "9" * 400, "not_a_number"),  # overflows a float: not a number, no crash
        ("staff", "3,5", "not_an_integer"),
        ("staff", "0", "too_small"),
        ("staff", "-3", "too_small"),
        ("staff", "100001", "too_large"),
        ("budget", "-0,5", "too_small"),
        ("budget", "1000,01", "too_large"),
        ("budget", "1 000 000", "too_large"),
    ],
)
def test_number_refused(survey: Survey, question_id: str, text: str, notice: str) -> None:
    assert_refused(survey, question_id, text, notice)


def test_number_notices_say_the_bound(survey: Survey) -> None:
    assert parse_number(survey.by_id["staff"], "0") == Notice("too_small", {"min": "1"})
    assert parse_number(survey.by_id["budget"], "2000") == Notice("too_large", {"max": "1000"})


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["1", "3", "5"])
def test_scale_by_button(survey: Survey, point: str) -> None:
    run = on(survey, "sat")
    run.tap(point)
    assert run.notices == []
    assert run.value("sat") == int(point)


@pytest.mark.parametrize("point", ["0", "6", "-1", "abc", "", "3.0"])
def test_scale_button_off_the_scale_is_refused(survey: Survey, point: str) -> None:
    run = on(survey, "sat")
    before = run.state
    run.tap(point)
    refused(run, "stale_button")
    assert run.state == before


@pytest.mark.parametrize(("text", "stored"), [("1", 1), (" 4 ", 4), ("5", 5)])
def test_scale_typed(survey: Survey, text: str, stored: int) -> None:
    assert_stored(survey, "sat", text, stored)


@pytest.mark.parametrize(
    "text",
    ["0", "6", "-2", "3,5", "3.0", "trois", "", "1 2", "²", "٣٣", "9" * 5000],
)
def test_scale_typed_out_of_range(survey: Survey, text: str) -> None:
    # "²" and 5,000 digits used to make the engine raise (str.isdigit, then int()).
    assert_refused(survey, "sat", text, "scale_range")


# -- single choice -----------------------------------------------------------------------------


def test_single_choice_by_button(survey: Survey) -> None:
    run = on(survey, "role")
    run.tap("research")
    assert run.value("role") == "research"
    assert run.current == "sat"  # not a company: the staff question stays hidden


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1", "company"),
        (" 2 ", "research"),
        ("Recherche", "research"),  # its label
        ("  collectivité ", "public"),  # ignoring case and spaces
        ("Public body", "public"),  # the English label works in French too
    ],
)
def test_single_choice_typed(survey: Survey, text: str, stored: str) -> None:
    run = on(survey, "role")
    run.type(text)
    assert run.notices == []
    assert run.value("role") == stored


@pytest.mark.parametrize("text", ["0", "5", "1 2", "abc", "", "-1", "²", "9" * 5000])
def test_single_choice_typed_wrong(survey: Survey, text: str) -> None:
    assert_refused(survey, "role", text, "choice_number")


def test_single_choice_unknown_button_is_refused(survey: Survey) -> None:
    run = on(survey, "role")
    before = run.state
    run.tap("nobody")
    refused(run, "stale_button")
    assert run.state == before


def test_single_choice_other_then_its_text(survey: Survey) -> None:
    run = on(survey, "role")
    run.tap("other")
    assert run.notices == []
    assert run.current == "role"
    assert run.question_screen.awaiting_other
    assert "role" not in run.state.answers, "nothing stored before the text"
    run.type("  Association   loi 1901 ")
    assert run.state.answers["role"] == Answer("other", "Association loi 1901")
    assert run.current == "sat"


def test_single_choice_other_typed_as_its_number(survey: Survey) -> None:
    run = on(survey, "role")
    run.type("4")
    assert run.question_screen.awaiting_other
    run.type("Fondation")
    assert run.state.answers["role"] == Answer("other", "Fondation")


@pytest.mark.parametrize(
    ("text", "notice"), [("   ", "text_empty"), ("x" * (MAX_OTHER_TEXT + 1), "other_too_long")]
)
def test_single_choice_other_text_refused(survey: Survey, text: str, notice: str) -> None:
    run = on(survey, "role")
    run.tap("other")
    waiting = run.state
    run.type(text)
    refused(run, notice)
    assert run.state == waiting
    assert run.question_screen.awaiting_other
    run.type("x" * MAX_OTHER_TEXT)
    assert run.state.answers["role"] == Answer("other", "x" * MAX_OTHER_TEXT)


def test_single_choice_other_can_be_changed_for_an_option(survey: Survey) -> None:
    run = on(survey, "role")
    run.tap("other")
    run.tap("company")
    assert run.state.answers["role"] == Answer("company")
    assert run.current == "staff"


# -- multi choice ------------------------------------------------------------------------------


def test_multi_choice_toggle_on_and_off(survey: Survey) -> None:
    run = on(survey, "why")
    run.toggle("quality")
    assert run.ticked() == ("quality",)
    assert run.result is not None and run.result.output.replace, "ticks edit the same message"
    run.toggle("cost")
    assert run.ticked() == ("cost", "quality"), "kept in option order"
    run.toggle("quality")
    assert run.ticked() == ("cost",)
    assert "why" not in run.state.answers, "nothing stored before the confirmation"
    run.confirm()
    assert run.state.answers["why"] == Answer(("cost",))
    assert run.current == "tools"


def test_multi_choice_max_reached(survey: Survey) -> None:
    run = on(survey, "why")
    run.toggle("cost")
    run.toggle("time")
    ticked = run.state
    run.toggle("quality")  # max 2
    refused(run, "too_many_choices")
    assert run.result is not None and run.result.output.notices[0].params == {"max": 2}
    assert run.state == ticked


def test_multi_choice_confirm_below_min(survey: Survey) -> None:
    run = on(survey, "why")
    before = run.state
    run.confirm()
    refused(run, "too_few_choices")
    assert run.state == before
    assert "why" not in run.state.answers


def test_optional_multi_choice_confirmed_empty(survey: Survey) -> None:
    run = on(survey, "tools")  # optional, no min: confirming nothing is an answer
    run.confirm()
    assert run.state.answers["tools"] == Answer(())


@pytest.mark.parametrize(
    ("text", "stored"),
    [("1 3", ("cost", "quality")), ("3,1", ("cost", "quality")), ("2", ("time",))],
)
def test_multi_choice_typed(survey: Survey, text: str, stored: tuple[str, ...]) -> None:
    assert_stored(survey, "why", text, stored)


@pytest.mark.parametrize(
    ("text", "notice"),
    [
        ("1 2 3", "too_many_choices"),
        ("1 1", "duplicate_choice"),
        ("5", "choice_number"),
        ("0", "choice_number"),
        ("un", "choice_number"),
        ("", "choice_number"),
        ("1 ²", "choice_number"),
    ],
)
def test_multi_choice_typed_wrong(survey: Survey, text: str, notice: str) -> None:
    assert_refused(survey, "why", text, notice)


def test_multi_choice_other_by_button(survey: Survey) -> None:
    run = on(survey, "why")
    run.toggle("other")
    run.toggle("time")
    run.confirm()
    assert run.question_screen.awaiting_other
    assert "why" not in run.state.answers
    run.type("Trop de réunions")
    assert run.state.answers["why"] == Answer(("time", "other"), "Trop de réunions")
    assert run.current == "tools"


def test_multi_choice_other_typed(survey: Survey) -> None:
    run = on(survey, "why")
    run.type("4 1")
    assert run.question_screen.awaiting_other
    run.type("x" * (MAX_OTHER_TEXT + 1))
    refused(run, "other_too_long")
    run.type("Le bruit")
    assert run.state.answers["why"] == Answer(("cost", "other"), "Le bruit")


def test_multi_choice_returning_shows_the_earlier_ticks(survey: Survey) -> None:
    run = on(survey, "why")
    run.answer("+time+quality")
    run.back()
    assert run.current == "why"
    assert run.ticked() == ("time", "quality")
    run.toggle("time")
    run.confirm()
    assert run.value("why") == ("quality",)


# -- ranking -----------------------------------------------------------------------------------


def test_ranking_in_tap_order(survey: Survey) -> None:
    run = on(survey, "priorities")
    for option in ("europe", "green", "export"):
        run.toggle(option)
    assert run.ticked() == ("europe", "green", "export")
    run.confirm()
    assert run.value("priorities") == ("europe", "green", "export")


def test_ranking_untap_shifts_the_ranks(survey: Survey) -> None:
    run = on(survey, "priorities")
    for option in ("europe", "green", "export"):
        run.toggle(option)
    run.toggle("green")  # rank 2 leaves: export moves up to 2
    assert run.ticked() == ("europe", "export")
    run.toggle("skills")  # takes rank 3
    run.confirm()
    assert run.value("priorities") == ("europe", "export", "skills")


def test_ranking_full(survey: Survey) -> None:
    run = on(survey, "priorities")
    for option in ("europe", "green", "export"):
        run.toggle(option)
    full = run.state
    run.toggle("skills")
    refused(run, "ranking_full")
    assert run.state == full


def test_ranking_confirm_incomplete(survey: Survey) -> None:
    run = on(survey, "priorities")
    run.toggle("europe")
    run.toggle("green")
    before = run.state
    run.confirm()
    refused(run, "ranking_incomplete")
    assert run.state == before
    assert "priorities" not in run.state.answers


def test_ranking_typed(survey: Survey) -> None:
    assert_stored(survey, "priorities", "3 1 5", ("europe", "green", "export"))


@pytest.mark.parametrize(
    ("text", "notice"),
    [
        ("3 1", "ranking_incomplete"),
        ("3 1 5 2", "ranking_incomplete"),
        ("3 3 1", "duplicate_choice"),
        ("3 1 6", "choice_number"),
        ("a b c", "choice_number"),
    ],
)
def test_ranking_typed_wrong(survey: Survey, text: str, notice: str) -> None:
    assert_refused(survey, "priorities", text, notice)


def test_ranking_unknown_option_refused(survey: Survey) -> None:
    run = on(survey, "priorities")
    before = run.state
    run.toggle("other")  # a ranking has no "other"
    refused(run, "stale_button")
    assert run.state == before


# -- consent -----------------------------------------------------------------------------------


def test_consent_accepted(survey: Survey) -> None:
    run = started(survey)
    run.tap("accept")
    assert run.state.answers == {"consent": Answer(True)}
    assert run.current == "role"


def test_consent_declined_keeps_the_participant_there(survey: Survey) -> None:
    run = started(survey)
    before = run.state
    run.tap("decline")
    refused(run, "consent_required")
    assert run.current == "consent"
    assert run.state.answers == {}
    assert run.state == before
    run.type("2")  # typed: the decline button's number
    refused(run, "consent_required")
    assert run.state.answers == {}


@pytest.mark.parametrize("text", ["oui", "yes", "3", ""])
def test_consent_typed_wrong(survey: Survey, text: str) -> None:
    run = started(survey)
    run.type(text)
    refused(run, "choice_number")
    assert run.state.answers == {}


def test_consent_typed(survey: Survey) -> None:
    run = started(survey)
    run.type("1")
    assert run.state.answers == {"consent": Answer(True)}


def test_consent_cannot_be_skipped(survey: Survey) -> None:
    run = started(survey)
    run.skip()
    refused(run, "required")
    assert run.state.answers == {}
