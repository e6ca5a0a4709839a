"""The admins' figures, from the database: `storage` streams the responses, `analysis` counts.

stats = await compute_stats(store)                      # /stats and `consultbot stats`
stats = await compute_stats(store, by="actor_type")    # `consultbot stats --by actor_type`
"""

from __future__ import annotations

import logging

from analysis.stats import Stats, StatsBuilder
from dialogs.model import Question, QuestionType, Survey
from storage.repository import Store
from storage.stats import read_activity

log = logging.getLogger(__name__)


def grouping_question(survey: Survey, question_id: str | None) -> Question | None:
    """The single-choice question of `--by` (ValueError with a clear message otherwise)."""
    if question_id is None:
        return None
    question = survey.by_id.get(question_id)
    if question is None:
        singles = [q.id for q in survey.questions if q.type is QuestionType.SINGLE_CHOICE]
        raise ValueError(
            f"--by {question_id}: no such question (single-choice questions: {', '.join(singles)})"
        )
    if question.type is not QuestionType.SINGLE_CHOICE:
        raise ValueError(
            f"--by {question_id}: a {question.type.value} question; groups come from a "
            "single-choice question"
        )
    return question


async def compute_stats(store: Store, *, by: str | None = None) -> Stats:
    """Every figure of /stats, from one pass over the responses (drafts included)."""
    survey = store.survey
    builder = StatsBuilder(survey, by=grouping_question(survey, by))
    async for batch in store.stream_responses(include_drafts=True):
        builder.add(batch)
    activity = await read_activity(store)
    stats = builder.finish(
        participants=activity.participants,
        blocked=activity.blocked,
        answers_per_day=activity.answers_per_day,
    )
    log.info(
        "stats of survey %s: %d participants, %d started, %d submitted",
        survey.id,
        stats.participants,
        stats.started,
        stats.submitted,
    )
    return stats
