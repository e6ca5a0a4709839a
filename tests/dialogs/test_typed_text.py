"""Typed text that no backend can store or no screen can show is refused at the edge, the same way
for every question that takes text (text, e-mail, number, scale and choices typed, the "other"
text): a lone UTF-16 surrogate, NUL and other control characters, Unicode non-characters. Text
made only of invisible characters counts as empty."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import Survey
from dialogs.answers import check_text, is_blank
from dialogs.screens import Notice, QuestionScreen
from dialogs.state import Answer
from tests.dialogs.helpers import FULL_ANSWERS, Run, started

BAD_CHARACTERS = [
    "\ud800",  # a lone high surrogate (a forged webhook body's "\ud800" decodes to it)
    "\udfff",  # a lone low surrogate
    "\x00",  # NUL: PostgreSQL text refuses it
    "\x07",  # BEL
    "\x1b",  # ESC
    "\r",  # a lone carriage return
    "\x7f",  # DEL
    "\x85",  # a C1 control
    "\ufdd0",  # non-characters
    "\ufdef",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
]

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\ufeff",  # BOM
    "\u00ad",  # soft hyphen
    "\u00a0",  # no-break space
    "\u2800",  # braille pattern blank
    "\u3164",  # Hangul filler
    "\u115f",  # Hangul choseong filler
    "\u1160",  # Hangul jungseong filler
    "\uffa0",  # halfwidth Hangul filler
    "\u202e",  # right-to-left override
    "\u3000",  # ideographic space
    "\u2028",  # line separator
    "\ufe0f",  # variation selector 16
]


def on(survey: Survey, question_id: str) -> Run:
    run = started(survey)
    for reply in FULL_ANSWERS:
        if run.current == question_id:
            return run
        run.answer(reply)
    raise AssertionError(f"{question_id} never asked")


def waiting_for_other(survey: Survey, question_id: str) -> Run:
    run = on(survey, question_id)
    if question_id == "role":
        run.tap("other")
    else:
        run.toggle("other")
        run.confirm()
    assert run.question_screen.awaiting_other
    return run


def assert_refused(run: Run, text: str, notice: str) -> None:
    before = run.state
    run.type(text)
    assert run.notices == [notice], (text, run.notices)
    assert run.state == before, "a refused text changed the state"
    screen = run.screen
    assert isinstance(screen, QuestionScreen) and screen.question.id == run.current


# question id, a valid answer with a place to put the bad character
TYPED = [
    ("name", "Jeanne{}Martin"),
    ("comment", "Très{}bien"),
    ("email", "jeanne{}@example.org"),
    ("staff", "25{}0"),
    ("budget", "12{},5"),
    ("sat", "2{}"),
    ("role", "1{}"),
]


@pytest.mark.parametrize("char", BAD_CHARACTERS, ids=[f"U+{ord(c):04X}" for c in BAD_CHARACTERS])
@pytest.mark.parametrize(("question_id", "template"), TYPED, ids=[q for q, _ in TYPED])
def test_a_bad_character_is_refused_with_a_clear_notice(
    survey: Survey, question_id: str, template: str, char: str
) -> None:
    run = on(survey, question_id)
    assert_refused(run, template.format(char), "invalid_character")
    notice = run.result.output.notices[0] if run.result else None
    assert notice == Notice("invalid_character", {"position": template.index("{}") + 1})
    run.type(template.format(""))  # and the participant goes on with a clean text
    assert run.notices == []
    assert question_id in run.state.answers


@pytest.mark.parametrize(
    "char", BAD_CHARACTERS[:4], ids=["hi-surrogate", "lo-surrogate", "NUL", "BEL"]
)
@pytest.mark.parametrize("question_id", ["role", "why"])
def test_a_bad_character_in_the_other_text_is_refused(
    survey: Survey, question_id: str, char: str
) -> None:
    run = waiting_for_other(survey, question_id)
    assert_refused(run, f"Fondation{char}", "invalid_character")
    assert run.question_screen.awaiting_other
    run.type("Fondation")
    assert run.state.answers[question_id].other == "Fondation"


@pytest.mark.parametrize("blank", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
@pytest.mark.parametrize("question_id", ["name", "comment"])  # required, optional
def test_invisible_text_is_empty(survey: Survey, question_id: str, blank: str) -> None:
    run = on(survey, question_id)
    assert_refused(run, blank * 5, "text_empty")
    assert_refused(run, f" {blank}\n{blank} ", "text_empty")


@pytest.mark.parametrize("blank", INVISIBLE[:6])
def test_an_invisible_other_text_is_empty(survey: Survey, blank: str) -> None:
    run = waiting_for_other(survey, "role")
    assert_refused(run, blank * 3, "text_empty")


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("Très bien 👩‍💻", "Très bien 👩‍💻"),  # a joiner inside an emoji sequence
        ("Ligne 1\r\nLigne 2", "Ligne 1\nLigne 2"),  # CR LF read as LF
        ("Col\tonne", "Col\tonne"),
        ("Privé\ue000", "Privé\ue000"),  # private use: allowed
        ("mot\u00adcoupé", "mot\u00adcoupé"),  # a soft hyphen inside a word
    ],
)
def test_ordinary_text_is_stored(survey: Survey, text: str, stored: str) -> None:
    run = on(survey, "comment")
    run.type(text)
    assert run.notices == []
    assert run.state.answers["comment"] == Answer(stored)


def test_check_text_and_is_blank() -> None:
    assert check_text("a\r\nb") == "a\nb"
    assert check_text("x\ud83dy") == Notice("invalid_character", {"position": 2})
    assert check_text("😀") == "😀"  # a real astral character is not a surrogate pair in Python
    assert is_blank("\u200b \u2800\ufeff")
    assert not is_blank("\u200b.")


ALPHABET = st.one_of(
    st.characters(),
    st.sampled_from(BAD_CHARACTERS + INVISIBLE + [" ", "\n", "a", "@", ".", "1"]),
    st.integers(0xD800, 0xDFFF).map(chr),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    question_id=st.sampled_from(["name", "comment", "email", "budget", "other"]),
    text=st.text(ALPHABET, max_size=30),
)
def test_any_text_is_refused_unchanged_or_stored_encodable_and_visible(
    survey: Survey, question_id: str, text: str
) -> None:
    run = waiting_for_other(survey, "role") if question_id == "other" else on(survey, question_id)
    asked = "role" if question_id == "other" else question_id
    before = run.state
    run.type(text)
    if run.notices:
        assert run.state == before
        return
    answer = run.state.answers[asked]
    stored = answer.other if question_id == "other" else answer.value
    if isinstance(stored, str):
        stored.encode("utf-8")  # no lone surrogate
        assert "\x00" not in stored
        assert not is_blank(stored)
