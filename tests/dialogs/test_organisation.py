"""The `organisation_id` question: a SIREN or SIRET checked with its check digit, spaces
tolerated, stored as digits; a wrong number is refused with a notice that says why and changes
nothing."""

from __future__ import annotations

import pytest

from dialogs import Survey
from dialogs.answers import parse_organisation_id, siren_of
from dialogs.model import QuestionType
from dialogs.screens import Notice, QuestionScreen
from dialogs.state import Answer
from tests.dialogs.helpers import add_question, bundled_survey, make_survey, started

ORGANISATION = {
    "id": "organisation",
    "type": "organisation_id",
    "required": False,
    "text": {"fr": "Votre SIREN ou SIRET ?", "en": "Your SIREN or SIRET?"},
}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("732 829 320 00074", "73282932000074"),  # a SIRET with spaces
        ("73282932000074", "73282932000074"),
        ("732829320", "732829320"),  # a SIREN
        (" 732 829 320 ", "732829320"),
        ("732\u00a0829\u00a0320", "732829320"),  # no-break spaces, as copied from a web page
        ("732.829.320", "732829320"),
        ("356 000 000 00048", "35600000000048"),  # La Poste: not Luhn, valid by its own rule
    ],
)
def test_valid_numbers_are_stored_as_digits(typed: str, stored: str) -> None:
    assert parse_organisation_id(typed) == Answer(stored)


@pytest.mark.parametrize(
    ("typed", "notice"),
    [
        ("732 829 320 00075", "organisation_id_checksum"),  # one digit wrong
        ("732829321", "organisation_id_checksum"),
        ("732 829 32", "organisation_id_format"),  # 8 digits
        ("7328293200007", "organisation_id_format"),  # 13 digits
        ("732829320000744", "organisation_id_format"),  # 15 digits
        ("SIREN 732829320", "organisation_id_format"),
        ("७३२८२९३२०", "organisation_id_format"),  # Devanagari digits are not digits here
        ("", "organisation_id_format"),
    ],
)
def test_wrong_numbers_are_refused_with_the_reason(typed: str, notice: str) -> None:
    assert parse_organisation_id(typed) == Notice(notice)


def test_siren_of_a_siret_is_its_first_nine_digits() -> None:
    assert siren_of("73282932000074") == "732829320"
    assert siren_of("732829320") == "732829320"
    assert siren_of(None) is None
    assert siren_of("abc") is None


@pytest.fixture
def survey() -> Survey:
    return make_survey(add_question("profile", ORGANISATION))


def on_organisation(survey: Survey):  # type: ignore[no-untyped-def]
    run = started(survey)
    run.answer("accept", "research")
    while run.current != "organisation":
        run.skip()
    return run


def test_a_wrong_number_is_refused_and_changes_nothing(survey: Survey) -> None:
    run = on_organisation(survey)
    before = run.state
    run.type("732 829 320 00075")
    assert run.notices == ["organisation_id_checksum"]
    assert isinstance(run.screen, QuestionScreen) and run.screen.question.id == "organisation"
    assert run.state == before
    run.type("732 829 320 00074")
    assert run.notices == []
    assert run.state.answers["organisation"] == Answer("73282932000074")


def test_the_question_is_optional_and_can_be_skipped(survey: Survey) -> None:
    run = on_organisation(survey)
    run.skip()
    assert run.state.answers["organisation"] == Answer(None)


def test_the_bundled_consultation_asks_it_optionally_in_the_profile() -> None:
    survey = bundled_survey()
    question = survey.by_id["organisation"]
    assert question.type is QuestionType.ORGANISATION_ID
    assert question.section_id == "profile"
    assert not question.required
