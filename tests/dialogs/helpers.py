"""A small test questionnaire written in YAML, builders of its variants, and a driver that feeds
events to the dialogue engine the way a participant would.

The test questionnaire has every question type, an "other" choice on a single and a multi choice,
optional questions, and two `show_if` branches: `staff` (a whole section) is shown to companies
only, `why` to those who rate their satisfaction 2 or less.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dialogs import Survey, parse_survey
from dialogs.answers import siren_of
from dialogs.engine import Result, new_state, transition
from dialogs.events import (
    Back,
    Choose,
    Confirm,
    Edit,
    Event,
    Skip,
    Start,
    Submit,
    TextInput,
    Toggle,
)
from dialogs.limits import MAX_OTHER_TEXT, OTHER_OPTION_ID
from dialogs.model import Question, QuestionType
from dialogs.screens import QuestionScreen, Screen
from dialogs.state import Answer, Phase, State

REPO = Path(__file__).resolve().parents[2]
BUNDLED_PATH = REPO / "surveys" / "poles-de-competitivite.yaml"

BASE_YAML = """\
id: test-survey
title: {fr: "Enquête de test", en: "Test survey"}
description: {fr: "Une enquête pour les tests.", en: "A survey for the tests."}
languages: [fr, en]
timezone: Europe/Paris
opens_at: "2024-03-01T09:00:00+01:00"
closes_at: "2024-04-01T00:00:00+02:00"
estimated_minutes: 3
allow_amend: false
privacy: {fr: "Vos données restent chez nous.", en: "Your data stays with us."}
sections:
  - id: profile
    title: {fr: "Profil", en: "Profile"}
    questions:
      - id: consent
        type: consent
        text: {fr: "Acceptez-vous ?", en: "Do you agree?"}
        accept_label: {fr: "J’accepte", en: "I agree"}
        decline_label: {fr: "Je refuse", en: "I decline"}
      - id: role
        type: single_choice
        text: {fr: "Qui êtes-vous ?", en: "Who are you?"}
        options:
          - {id: company, label: {fr: "Entreprise", en: "Company"}}
          - {id: research, label: {fr: "Recherche", en: "Research"}}
          - {id: public, label: {fr: "Collectivité", en: "Public body"}}
        other: true
  - id: company
    title: {fr: "Votre entreprise", en: "Your company"}
    questions:
      - id: staff
        type: number
        show_if: 'role == "company"'
        text: {fr: "Combien de salariés ?", en: "How many staff?"}
        min: 1
        max: 100000
        integer: true
  - id: opinion
    title: {fr: "Avis", en: "Opinion"}
    questions:
      - id: sat
        type: scale
        text: {fr: "Êtes-vous satisfait ?", en: "Are you satisfied?"}
        min: 1
        max: 5
        min_label: {fr: "Pas du tout", en: "Not at all"}
        max_label: {fr: "Tout à fait", en: "Fully"}
      - id: why
        type: multi_choice
        show_if: "sat <= 2"
        text: {fr: "Pourquoi ?", en: "Why?"}
        options:
          - {id: cost, label: {fr: "Coût", en: "Cost"}}
          - {id: time, label: {fr: "Délais", en: "Delays"}}
          - {id: quality, label: {fr: "Qualité", en: "Quality"}}
        other: true
        min: 1
        max: 2
      - id: tools
        type: multi_choice
        required: false
        text: {fr: "Quels outils utilisez-vous ?", en: "Which tools do you use?"}
        options:
          - {id: web, label: {fr: "Site web", en: "Website"}}
          - {id: mail, label: {fr: "Courriel", en: "E-mail"}}
          - {id: phone, label: {fr: "Téléphone", en: "Phone"}}
          - {id: visit, label: {fr: "Visite", en: "Visit"}}
        max: 3
      - id: priorities
        type: ranking
        text: {fr: "Vos trois priorités ?", en: "Your three priorities?"}
        options:
          - {id: green, label: {fr: "Écologie", en: "Ecology"}}
          - {id: digital, label: {fr: "Numérique", en: "Digital"}}
          - {id: europe, label: {fr: "Europe", en: "Europe"}}
          - {id: skills, label: {fr: "Compétences", en: "Skills"}}
          - {id: export, label: {fr: "Export", en: "Export"}}
        top: 3
  - id: final
    title: {fr: "Pour finir", en: "To finish"}
    questions:
      - id: comment
        type: text
        required: false
        text: {fr: "Un commentaire ?", en: "Any comment?"}
        min_length: 3
        max_length: 50
        multiline: true
      - id: name
        type: text
        text: {fr: "Votre nom ?", en: "Your name?"}
        min_length: 2
        max_length: 20
      - id: email
        type: email
        required: false
        text: {fr: "Votre adresse e-mail ?", en: "Your e-mail address?"}
      - id: budget
        type: number
        required: false
        text: {fr: "Quel budget (k€) ?", en: "What budget (k€)?"}
        min: 0
        max: 1000
"""

# In the middle of the test survey's window (1 March 09:00 to 1 April 00:00, Paris time).
NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
# In the middle of the bundled consultation's window (17 January to 7 March 2022).
BUNDLED_NOW = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
REFERENCE = "ABCD-EF23"

Change = Callable[[dict[str, Any]], None]
"""Edits the questionnaire's data (the parsed YAML) in place."""


def base_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BASE_YAML)
    return data


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def questions_of(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for section in data["sections"]:
        yield from section["questions"]


def question_data(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    return next(q for q in questions_of(data) if q["id"] == question_id)


def set_question(question_id: str, **fields: Any) -> Change:
    """A change that sets (or, with None, removes) fields of one question."""

    def change(data: dict[str, Any]) -> None:
        question = question_data(data, question_id)
        for key, value in fields.items():
            if value is None:
                question.pop(key, None)
            else:
                question[key] = value

    return change


def add_question(section_id: str, question: dict[str, Any]) -> Change:
    def change(data: dict[str, Any]) -> None:
        section = next(s for s in data["sections"] if s["id"] == section_id)
        section["questions"].append(copy.deepcopy(question))

    return change


def variant_yaml(*changes: Change, **top: Any) -> str:
    """The test questionnaire's YAML with top-level keys replaced and `changes` applied."""
    data = base_data()
    data.update(top)
    for change in changes:
        change(data)
    return dump(data)


def load(text: str, filename: str = "test-survey.yaml", folder: Path | None = None) -> Survey:
    """Parse a questionnaire; its options files are read from `folder` (the bundled one's)."""
    where = folder or BUNDLED_PATH.parent
    return parse_survey(text, filename, lambda name: (where / name).read_text(encoding="utf-8"))


def make_survey(*changes: Change, **top: Any) -> Survey:
    return load(variant_yaml(*changes, **top))


def bundled_survey() -> Survey:
    return load(BUNDLED_PATH.read_text(encoding="utf-8"), str(BUNDLED_PATH))


# -- driving the engine ----------------------------------------------------------------------


class Run:
    """One participant talking to the engine: sends events, keeps the state and the last output."""

    def __init__(
        self,
        survey: Survey,
        now: datetime = NOW,
        state: State | None = None,
        *,
        preview: bool = False,
    ) -> None:
        self.survey = survey
        self.now = now
        self.state = state if state is not None else new_state(survey)
        self.preview = preview
        self.result: Result | None = None

    def send(self, event: Event, now: datetime | None = None) -> Result:
        self.result = transition(
            self.survey, self.state, event, now or self.now, preview=self.preview
        )
        self.state = self.result.state
        return self.result

    # what the participant sees

    @property
    def screens(self) -> tuple[Screen, ...]:
        assert self.result is not None
        return self.result.output.screens

    @property
    def screen(self) -> Screen:
        assert self.screens, "the last event showed no screen"
        return self.screens[-1]

    @property
    def question_screen(self) -> QuestionScreen:
        screen = self.screen
        assert isinstance(screen, QuestionScreen), f"not a question: {screen!r}"
        return screen

    def ticked(self) -> tuple[str, ...]:
        """The options ticked (multi-choice) or ranked (ranking) on the question on screen."""
        return self.question_screen.pending

    @property
    def notices(self) -> list[str]:
        assert self.result is not None
        return [n.key for n in self.result.output.notices]

    @property
    def current(self) -> str | None:
        return self.state.current if self.state.phase is Phase.ANSWERING else None

    def value(self, question_id: str) -> Any:
        return self.state.answers[question_id].value

    # what the participant does

    def start(self) -> Result:
        return self.send(Start())

    def type(self, text: str) -> Result:
        return self.send(TextInput(text))

    def tap(
        self, option_id: str, question_id: str | None = None, step: int | None = None
    ) -> Result:
        return self.send(
            Choose(question_id or self._current(), option_id, self._step(step)),
        )

    def toggle(
        self, option_id: str, question_id: str | None = None, step: int | None = None
    ) -> Result:
        return self.send(Toggle(question_id or self._current(), option_id, self._step(step)))

    def confirm(self, question_id: str | None = None, step: int | None = None) -> Result:
        return self.send(Confirm(question_id or self._current(), self._step(step)))

    def back(self) -> Result:
        return self.send(Back(self.state.step))

    def skip(self) -> Result:
        return self.send(Skip(self.state.step))

    def edit(self, question_id: str) -> Result:
        return self.send(Edit(question_id, self.state.step))

    def submit(self, reference: str = REFERENCE) -> Result:
        return self.send(Submit(reference, self.state.step))

    def answer(self, *replies: str) -> Run:
        """Answer the current questions in turn: an option id to tap, or text to type.

        `+a+b` ticks options a and b (multi-choice or ranking, in that order) and confirms.
        """
        for reply in replies:
            question = self.survey.by_id[self._current()]
            if reply.startswith("+"):
                for option_id in reply[1:].split("+"):
                    self.toggle(option_id)
                self.confirm()
            elif question.type in (QuestionType.SINGLE_CHOICE, QuestionType.SCALE) or (
                question.type is QuestionType.CONSENT
            ):
                self.tap(reply)
            else:
                self.type(reply)
            assert not self.notices, f"{reply!r} to {question.id} refused: {self.notices}"
        return self

    def _current(self) -> str:
        assert self.state.current is not None, f"no current question in {self.state!r}"
        return self.state.current

    def _step(self, step: int | None) -> int:
        return self.state.step if step is None else step


def started(survey: Survey, now: datetime = NOW) -> Run:
    run = Run(survey, now)
    run.start()
    return run


# The test survey answered as a company (staff shown), dissatisfied (why shown), to the review.
FULL_ANSWERS = (
    "accept",  # consent
    "company",  # role
    "250",  # staff
    "2",  # sat
    "+cost+quality",  # why
    "+web+phone",  # tools
    "+digital+green+europe",  # priorities
    "Très bien.",  # comment
    "Jeanne Martin",  # name
    "jeanne@example.org",  # email
    "12,5",  # budget
)
# Research, satisfied: staff and why stay hidden.
SHORT_ANSWERS = (
    "accept",
    "research",
    "4",
    "+mail",
    "+europe+skills+export",
    "Rien.",
    "Paul",
    "paul@example.org",
    "0",
)


def at_review(survey: Survey, answers: tuple[str, ...] = FULL_ANSWERS, now: datetime = NOW) -> Run:
    run = started(survey, now)
    run.answer(*answers)
    assert run.state.phase is Phase.REVIEW, run.state
    return run


# -- valid answers, for the completer and the property tests -----------------------------------


def valid_number(question: Question) -> str:
    if question.min is not None:
        value = question.min
    elif question.max is not None and question.max < 0:
        value = question.max
    else:
        value = 0
    return str(int(value)) if float(value).is_integer() else str(value)


def completing_event(survey: Survey, state: State) -> Event | None:
    """One event a participant who wants to finish would send now; None once submitted."""
    if state.phase is Phase.SUBMITTED:
        return None
    if state.phase is Phase.NEW:
        return Start()
    if state.phase is Phase.REVIEW:
        return Submit(REFERENCE, state.step)
    question = survey.by_id.get(state.current or "")
    if question is None:
        return Start()
    if state.awaiting_other:
        return TextInput("Autre chose")
    step = state.step
    qtype = question.type
    if qtype is QuestionType.CONSENT:
        return Choose(question.id, "accept", step)
    if qtype is QuestionType.SINGLE_CHOICE:
        return Choose(question.id, question.options[0].id, step)
    if qtype is QuestionType.SCALE:
        return Choose(question.id, str(question.scale_points()[0]), step)
    if qtype is QuestionType.MULTI_CHOICE:
        count = max(question.min_choices, 1)
        if question.searchable:
            # A long list: choices are added one by one, then confirmed.
            if len(state.pending) < count:
                missing = next(o for o in question.options if o.id not in state.pending)
                return Toggle(question.id, missing.id, step)
            return Confirm(question.id, step)
        return TextInput(" ".join(str(n) for n in range(1, count + 1)))
    if qtype is QuestionType.RANKING:
        return TextInput(" ".join(str(n) for n in range(1, question.top + 1)))
    if qtype is QuestionType.NUMBER:
        return TextInput(valid_number(question))
    if qtype is QuestionType.TEXT:
        return TextInput("x" * max(question.min_length, 1))
    if qtype is QuestionType.ORGANISATION_ID:
        return TextInput("732 829 320 00074")
    return TextInput("participant@example.org")


def answer_problem(question: Question, answer: Answer) -> str | None:
    """Why `answer` could not have been given to `question` by the rules of SPEC §3, or None."""
    value = answer.value
    if value is None:
        return "a required question skipped" if question.required else None
    qtype = question.type
    ids = [o.id for o in question.choices()]
    if qtype is QuestionType.CONSENT:
        return None if value is True else f"consent {value!r}"
    if qtype is QuestionType.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in ids:
            return f"not an option: {value!r}"
        return _other_problem(question, answer, value == OTHER_OPTION_ID)
    if qtype in (QuestionType.MULTI_CHOICE, QuestionType.RANKING):
        if not isinstance(value, tuple) or not all(v in ids for v in value):
            return f"not a tuple of options: {value!r}"
        if len(set(value)) != len(value):
            return f"an option twice: {value!r}"
        if qtype is QuestionType.RANKING:
            return None if len(value) == question.top else f"ranked {len(value)}"
        if not question.min_choices <= len(value) <= question.max_choices:
            return f"{len(value)} options ticked"
        if list(value) != sorted(value, key=ids.index):
            return f"not in option order: {value!r}"
        return _other_problem(question, answer, OTHER_OPTION_ID in value)
    if qtype is QuestionType.ORGANISATION_ID:
        if not (isinstance(value, str) and siren_of(value) is not None):
            return f"not a SIREN or SIRET: {value!r}"
        return None
    if qtype is QuestionType.SCALE:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"scale {value!r}"
        return None if value in question.scale_points() else f"off the scale: {value}"
    if qtype is QuestionType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"number {value!r}"
        if not math.isfinite(value):
            return f"not finite: {value}"
        if question.integer and not isinstance(value, int):
            return f"not an integer: {value!r}"
        if question.min is not None and value < question.min:
            return f"under min: {value}"
        if question.max is not None and value > question.max:
            return f"over max: {value}"
        return None
    if not isinstance(value, str):
        return f"text {value!r}"
    if qtype is QuestionType.TEXT:
        if value != value.strip() or not value:
            return f"not stripped or empty: {value!r}"
        if not question.min_length <= len(value) <= question.max_length:
            return f"length {len(value)}"
        if not question.multiline and any(c in value for c in "\n\r\t"):
            return f"a line break in a single-line text: {value!r}"
        return None
    local, at, domain = value.rpartition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in value):
        return f"not an e-mail address: {value!r}"
    return None if domain == domain.lower() else f"domain not lower-cased: {value!r}"


def _other_problem(question: Question, answer: Answer, chose_other: bool) -> str | None:
    if chose_other:
        if not question.other or not answer.other or not answer.other.strip():
            return "'other' without its text"
        if len(answer.other) > MAX_OTHER_TEXT:
            return f"'other' text of {len(answer.other)} characters"
        return None
    return None if answer.other is None else "an 'other' text without the 'other' option"
