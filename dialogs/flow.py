"""Which questions a participant sees, given their answers; pruning and progress."""

from __future__ import annotations

from collections.abc import Mapping

from dialogs.conditions import ConditionValue
from dialogs.model import Question, QuestionType, Survey
from dialogs.screens import Progress
from dialogs.state import Answer


def condition_value(question: Question, answer: Answer | None) -> ConditionValue:
    """An answer as the `show_if` language sees it."""
    if answer is None or answer.value is None:
        return None
    value = answer.value
    if question.type is QuestionType.MULTI_CHOICE and isinstance(value, tuple):
        return frozenset(value)
    return value


_last_walk: tuple[Survey, tuple[tuple[str, Answer], ...], list[Question], dict[str, Answer]] | None
_last_walk = None
"""The last walk's survey, answers and result: one step of the engine asks for the same answers
two or three times (pruning, the next question, the progress)."""


def _walk(
    survey: Survey, answers: Mapping[str, Answer]
) -> tuple[list[Question], dict[str, Answer]]:
    """The visible questions and the answers they keep (copies: callers may change them)."""
    global _last_walk
    content = tuple(answers.items())
    last = _last_walk
    if last is not None and last[0] is survey and last[1] == content:
        return list(last[2]), dict(last[3])
    visible, kept = _walk_once(survey, answers)
    _last_walk = (survey, content, visible, kept)
    return list(visible), dict(kept)


def _walk_once(
    survey: Survey, answers: Mapping[str, Answer]
) -> tuple[list[Question], dict[str, Answer]]:
    """One pass in file order: the visible questions and the answers they keep."""
    visible: list[Question] = []
    kept: dict[str, Answer] = {}
    values: dict[str, ConditionValue] = {}
    for question in survey.questions:
        if question.show_if is not None and not question.show_if.evaluate(values):
            continue
        visible.append(question)
        answer = answers.get(question.id)
        if answer is not None:
            kept[question.id] = answer
            values[question.id] = condition_value(question, answer)
    return visible, kept


def visible_questions(survey: Survey, answers: Mapping[str, Answer]) -> list[Question]:
    return _walk(survey, answers)[0]


def prune(survey: Survey, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """The answers without those of questions that are now hidden."""
    return _walk(survey, answers)[1]


def is_visible(survey: Survey, answers: Mapping[str, Answer], question_id: str) -> bool:
    return any(q.id == question_id for q in visible_questions(survey, answers))


def first_unanswered(
    survey: Survey, answers: Mapping[str, Answer], after: Question | None = None
) -> Question | None:
    """The first visible question without an answer after `after` (or anywhere, if none after)."""
    visible = visible_questions(survey, answers)
    unanswered = [q for q in visible if q.id not in answers]
    if after is not None:
        later = [q for q in unanswered if q.index > after.index]
        if later:
            return later[0]
    return unanswered[0] if unanswered else None


def missing_required(survey: Survey, answers: Mapping[str, Answer]) -> list[Question]:
    """Visible required questions still without an answer: what stops a submission."""
    missing = []
    for question in visible_questions(survey, answers):
        answer = answers.get(question.id)
        if answer is None or (question.required and answer.value is None):
            missing.append(question)
    return missing


def reach(survey: Survey, answers: Mapping[str, Answer]) -> tuple[int, int]:
    """(answered, reachable): the questions answered, and those answered or still reachable.

    A question is reachable while its `show_if` is true, or cannot be told yet because it names a
    question still unanswered. Answering one more question moving forward adds one to the first
    count and can only shrink the second: the share answered never goes backwards."""
    values: dict[str, ConditionValue] = {}
    settled: set[str] = set()
    answered = reachable = 0
    for question in survey.questions:
        condition = question.show_if
        decided = condition is None or condition.references() <= settled
        if decided and condition is not None and not condition.evaluate(values):
            settled.add(question.id)
            continue
        reachable += 1
        answer = answers.get(question.id)
        if decided and answer is not None:
            answered += 1
            settled.add(question.id)
            values[question.id] = condition_value(question, answer)
    return answered, reachable


def progress(survey: Survey, answers: Mapping[str, Answer], question: Question) -> Progress:
    done, reachable = reach(survey, answers)
    visible = visible_questions(survey, answers)
    sections = list(dict.fromkeys(q.section_id for q in visible))
    position = next((i for i, q in enumerate(visible) if q.id == question.id), len(visible) - 1)
    section_number = (
        sections.index(question.section_id) + 1 if question.section_id in sections else 1
    )
    return Progress(
        section_number=section_number,
        section_count=len(sections),
        question_number=position + 1,
        question_count=len(visible),
        answered=sum(1 for q in visible if q.id in answers),
        percent=100 * done // reachable if reachable else 100,
    )
