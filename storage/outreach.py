"""What the organisers need to reach the right people, read from the database in a few queries:
participants by invitation source, and the submitted answers to the question of the
questionnaire's `targets:` (which `bot.outreach` turns into coverage with `analysis.coverage`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Text, and_, case, cast, exists, func, select

from storage.links import LinkStore
from storage.models import answers, participants, responses
from storage.repository import Store

NO_SOURCE = ""
"""The source of the participants who came through no invitation link."""


@dataclass(frozen=True, slots=True)
class SourceCounts:
    source: str
    participants: int
    started: int
    submitted: int


async def _without_link(store: Store) -> SourceCounts:
    p, r, a = participants, responses, answers
    of_survey = and_(r.c.participant_id == p.c.id, r.c.survey_id == store.survey.id)
    started = exists().where(of_survey, exists().where(a.c.response_id == r.c.id))
    submitted = exists().where(of_survey, r.c.status == "submitted")
    query = select(
        func.count(),
        func.coalesce(func.sum(case((started, 1), else_=0)), 0),
        func.coalesce(func.sum(case((submitted, 1), else_=0)), 0),
    ).where(p.c.link_id.is_(None), p.c.telegram_id.is_not(None))
    row = await store.db.runner.read(lambda c: c.execute(query).one())
    return SourceCounts(NO_SOURCE, int(row[0]), int(row[1]), int(row[2]))


async def source_counts(store: Store) -> list[SourceCounts]:
    by_source = await LinkStore(store.db, store.survey.id).by_source()
    if not by_source:
        return []
    rows = [SourceCounts(source, *counts) for source, counts in by_source.items()]
    rows.sort(key=lambda row: (-row.submitted, -row.participants, row.source))
    return [*rows, await _without_link(store)]


async def submitted_by_option(store: Store, question_id: str) -> Counter[str]:
    """Submitted responses per answer of one single-choice question."""
    r, a = responses, answers
    query = (
        select(cast(a.c.value, Text), func.count())
        .join(r, r.c.id == a.c.response_id)
        .where(
            r.c.survey_id == store.survey.id,
            r.c.status == "submitted",
            a.c.question_id == question_id,
        )
        .group_by(cast(a.c.value, Text))
    )
    rows = await store.db.runner.read(lambda c: c.execute(query).all())
    counts: Counter[str] = Counter()
    for raw, count in rows:
        value = json.loads(raw)
        if isinstance(value, str):
            counts[value] += int(count)
    return counts
