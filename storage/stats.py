"""What the admins' figures read beyond the responses themselves: the people who talked to the bot
(blocked ones counted apart) and the answers given each day (the survey's time zone), previews
left out. The figures themselves are computed by `analysis.stats` (wired in `bot.figures`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.models import answers, participants, responses
from storage.repository import Store


@dataclass(frozen=True, slots=True)
class Activity:
    participants: int
    """People who talked to the bot (Telegram ids), the blocked ones included."""
    blocked: int
    answers_per_day: dict[date, int]
    """Answers given each day (the survey's time zone), drafts included."""


async def read_activity(store: Store) -> Activity:
    survey = store.survey
    zone = ZoneInfo(survey.timezone)
    r, a, p = responses, answers, participants
    times_query = (
        select(a.c.answered_at)
        .join(r, r.c.id == a.c.response_id)
        .where(r.c.survey_id == survey.id, r.c.status != "preview")
    )

    def read(connection: Connection) -> Activity:
        days: Counter[date] = Counter()
        for (moment,) in connection.execute(times_query):
            days[moment.astimezone(zone).date()] += 1
        # Telegram participants, anonymised ones included (no Telegram id, no preview name).
        people = connection.execute(
            select(func.count()).select_from(p).where(p.c.preview_name.is_(None))
        ).scalar()
        blocked = connection.execute(
            select(func.count())
            .select_from(p)
            .where(p.c.preview_name.is_(None), p.c.blocked.is_(True))
        ).scalar()
        return Activity(int(people or 0), int(blocked or 0), dict(days))

    return await store.db.runner.read(read)
