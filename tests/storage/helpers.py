"""Helpers of the storage tests: surveys, clocks, steps and a walk through the bundled survey."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from dialogs import Result, State, Survey, parse_survey, transition
from dialogs.events import Choose, Confirm, Event, Skip, Start, TextInput, Toggle
from dialogs.model import QuestionType
from dialogs.state import Phase
from storage.repository import ParticipantKey, Store

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "surveys" / "poles-de-competitivite.yaml"

TEXT_QUESTIONS = 60


def texts_yaml(count: int = TEXT_QUESTIONS, *, allow_amend: bool = False) -> str:
    """A survey of `count` free-text questions: every typed text is an answer that moves on."""
    questions = "\n".join(
        f"      - {{id: q{i:02d}, type: text, text: 'Question {i}', min_length: 1,"
        " max_length: 200}"
        for i in range(1, count + 1)
    )
    return f"""\
id: texts
title: {{fr: "Textes", en: "Texts"}}
languages: [fr, en]
timezone: Europe/Paris
opens_at: "2022-01-17T09:00:00+01:00"
closes_at: "2022-03-08T00:00:00+01:00"
allow_amend: {"true" if allow_amend else "false"}
sections:
  - id: all
    title: "Tout"
    questions:
{questions}
"""


def bundled_survey() -> Survey:
    return parse_survey(
        BUNDLED.read_text(encoding="utf-8"),
        str(BUNDLED),
        lambda name: (BUNDLED.parent / name).read_text(encoding="utf-8"),
    )


def texts_survey(count: int = TEXT_QUESTIONS, *, allow_amend: bool = False) -> Survey:
    return parse_survey(texts_yaml(count, allow_amend=allow_amend), "texts.yaml")


def during(survey: Survey) -> datetime:
    """A moment when the survey is open."""
    return survey.opens_at + timedelta(days=3)


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def stepper(
    survey: Survey, event: Event | Callable[[State], Event], now: datetime, *, preview: bool = False
) -> Callable[[State], Result]:
    """The pure step `apply` takes: the engine on the state it is given."""

    def step(state: State) -> Result:
        concrete = event(state) if callable(event) else event
        return transition(survey, state, concrete, now, preview=preview)

    return step


def tg(telegram_id: int) -> ParticipantKey:
    return ParticipantKey.telegram(telegram_id)


# -- a walk through the bundled survey that gives every question type an answer --------------

PLAN: dict[str, list[Callable[[State], Event]]] = {
    "consent": [lambda s: Choose("consent", "accept", s.step)],
    # single_choice with its "other" text
    "actor_type": [
        lambda s: Choose("actor_type", "other", s.step),
        lambda s: TextInput("Fondation d’entreprise"),
    ],
    "region": [lambda s: Choose("region", "bretagne", s.step)],
    "organisation": [lambda s: TextInput("732 829 320 00074")],
    "cluster_member": [lambda s: Choose("cluster_member", "yes", s.step)],
    "cluster_name": [
        lambda s: TextInput("Pôle Mer Bretagne Atlantique"),  # exact: added at once
        lambda s: Confirm("cluster_name", s.step),
    ],
    "member_since": [lambda s: TextInput("2012")],
    "satisfaction_overall": [lambda s: Choose("satisfaction_overall", "2", s.step)],
    # multi_choice with "other"
    "dissatisfaction": [
        lambda s: Toggle("dissatisfaction", "red_tape", s.step),
        lambda s: Toggle("dissatisfaction", "other", s.step),
        lambda s: Confirm("dissatisfaction", s.step),
        lambda s: TextInput("Trop de réunions"),
    ],
    "services_used": [
        lambda s: Toggle("services_used", "eu_projects", s.step),
        lambda s: Toggle("services_used", "collab_projects", s.step),
        lambda s: Confirm("services_used", s.step),
    ],
    "services_value": [lambda s: Choose("services_value", "4", s.step)],
    # ranking: the order of the taps is the answer
    "priorities": [
        lambda s: Toggle("priorities", "skills", s.step),
        lambda s: Toggle("priorities", "ecological_transition", s.step),
        lambda s: Toggle("priorities", "collab_rd", s.step),
        lambda s: Confirm("priorities", s.step),
    ],
    "regions_role": [lambda s: TextInput("4")],
    # an optional number, skipped
    "fee_acceptable": [lambda s: Skip(s.step)],
    "comments": [lambda s: TextInput("Première ligne\nDeuxième ligne = +1 @moi")],
    "contact_email": [lambda s: TextInput("Jeanne.Dupont@Example.FR")],
}


def default_event(survey: Survey, state: State) -> Event:
    """The first option or a plain answer, for questions the plan does not mention."""
    assert state.current is not None
    question = survey.by_id[state.current]
    if question.type in (QuestionType.SINGLE_CHOICE,):
        return Choose(question.id, question.options[0].id, state.step)
    if question.type is QuestionType.SCALE:
        return Choose(question.id, str(int(question.min or 0)), state.step)
    if question.type is QuestionType.CONSENT:
        return Choose(question.id, "accept", state.step)
    return TextInput("1")


async def walk_to_review(
    store: Store,
    key: ParticipantKey,
    now: datetime,
    plan: dict[str, list[Callable[[State], Event]]] | None = None,
) -> State:
    """Answer the bundled survey up to the review, one apply per event, as the bot would."""
    survey = store.survey
    plan = PLAN if plan is None else plan
    clock = fixed(now)
    state = (await store.apply(key, stepper(survey, Start(), now), clock=clock)).state
    for _ in range(200):
        if state.phase is Phase.REVIEW:
            return state
        assert state.phase is Phase.ANSWERING and state.current is not None
        events = plan.get(state.current) or [lambda s: default_event(survey, s)]
        for make in events:
            applied = await store.apply(key, stepper(survey, make, now), clock=clock)
            assert applied.result is not None
            assert not any(n.key not in ("welcome_back",) for n in applied.result.output.notices), (
                applied.result.output.notices
            )
            state = applied.state
    raise AssertionError("the walk did not reach the review")
