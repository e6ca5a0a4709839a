"""Who a broadcast or a reminder reaches, by their answers: a `where` condition in the `show_if`
language (`actor_type in ["company_sme", "company_midcap"] and region == "bretagne"`), checked
against the survey (`dialogs.loader.parse_where`) and evaluated over one participant's answers."""

from __future__ import annotations

from collections.abc import Mapping

from dialogs.conditions import Condition, ConditionValue
from dialogs.flow import condition_value
from dialogs.loader import parse_where
from dialogs.model import Survey
from dialogs.state import Answer

__all__ = ["matches", "parse_where", "where_of"]


def where_of(survey: Survey, source: str) -> Condition:
    """`source` parsed and checked against `survey`'s questions; ValueError says what is wrong."""
    return parse_where(source, survey.by_id)


def matches(survey: Survey, condition: Condition, answers: Mapping[str, Answer]) -> bool:
    """Whether a participant with these stored answers is reached (no answer: never reached by
    a comparison, as in `show_if`)."""
    values: dict[str, ConditionValue] = {}
    for question_id in condition.references():
        question = survey.by_id.get(question_id)
        if question is not None:
            values[question_id] = condition_value(question, answers.get(question_id))
    return condition.evaluate(values)
