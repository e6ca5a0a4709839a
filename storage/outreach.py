"""What the organisers need to reach the right people, read from the database in a few queries:
participants by invitation source, the organisations behind the submitted responses (and those
with several), and (`analysis.coverage`) the coverage of the questionnaire's `targets:`.

`/stats`, `consultbot stats` and the report show it (`bot.outreach_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, case, exists, func, select

from storage.database import runner_for
from storage.links import LinkStore
from storage.models import answers, participants, responses
from storage.organisations import Organisations, find_organisations
from storage.repository import Store

NO_SOURCE = ""
"""The source of the participants who came through no invitation link."""


@dataclass(frozen=True, slots=True)
class SourceCounts:
    source: str
    participants: int
    started: int
    submitted: int


@dataclass(frozen=True, slots=True)
class Outreach:
    sources: list[SourceCounts] = field(default_factory=list)
    """Every source with a link (most submitted first), then NO_SOURCE; empty without links."""
    organisations: Organisations = field(default_factory=Organisations)


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
    row = await runner_for(store.engine).read(lambda c: c.execute(query).one())
    return SourceCounts(NO_SOURCE, int(row[0]), int(row[1]), int(row[2]))


async def source_counts(store: Store) -> list[SourceCounts]:
    by_source = await LinkStore(store.engine, store.survey.id).by_source()
    if not by_source:
        return []
    rows = [SourceCounts(source, *counts) for source, counts in by_source.items()]
    rows.sort(key=lambda row: (-row.submitted, -row.participants, row.source))
    return [*rows, await _without_link(store)]


async def compute_outreach(store: Store) -> Outreach:
    return Outreach(await source_counts(store), await find_organisations(store))
