"""Figures for the admins (SPEC §5): counts by status, completion rate, drop-off per question,
answers per day and the distribution of every closed question.

Computed in one pass over the responses (`Store.stream_responses`, batches: flat memory) plus one
grouped query on the answers' timestamps. Terminal previews (`consultbot try`) are left out.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from dialogs.model import CLOSED_TYPES, Question, QuestionType
from storage.database import runner_for
from storage.models import answers, participants, responses
from storage.repository import Store

log = logging.getLogger(__name__)

REVIEW = "(review)"
"""Drop-off key of the drafts that answered every question but did not submit."""


@dataclass(frozen=True, slots=True)
class Distribution:
    question: Question
    counts: list[tuple[str, int]]
    """(option id or value, how many), in the question's order."""
    answered: int
    """Responses that answered it (skipped excluded)."""


@dataclass(slots=True)
class Stats:
    participants: int = 0
    """People who talked to the bot (Telegram ids), the blocked ones included."""
    blocked: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """Responses by status: draft, submitted (previews excluded)."""
    channels: dict[str, int] = field(default_factory=dict)
    """Responses (drafts and submitted) by channel: telegram, web."""
    drop_off: list[tuple[str, int]] = field(default_factory=list)
    """For each question (in order, then REVIEW): the drafts stopped there."""
    answers_per_day: list[tuple[date, int]] = field(default_factory=list)
    """Answers given each day (the survey's time zone), drafts included."""
    submitted_per_day: list[tuple[date, int]] = field(default_factory=list)
    distributions: list[Distribution] = field(default_factory=list)
    """Every closed question, from the submitted responses (ranking: the first choice)."""

    @property
    def started(self) -> int:
        return self.counts.get("draft", 0) + self.counts.get("submitted", 0)

    @property
    def submitted(self) -> int:
        return self.counts.get("submitted", 0)

    @property
    def not_started(self) -> int:
        return max(0, self.participants - self.started)

    @property
    def completion_rate(self) -> float | None:
        """Submitted / started; None before anyone started."""
        return self.submitted / self.started if self.started else None


def _values(question: Question, value: object) -> list[str]:
    """The keys an answer counts under."""
    if value is None:
        return []
    if question.type is QuestionType.MULTI_CHOICE and isinstance(value, tuple):
        return [str(v) for v in value]
    if question.type is QuestionType.RANKING and isinstance(value, tuple):
        return [str(value[0])] if value else []
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    return [str(value)]


def _keys(question: Question) -> list[str]:
    """Every possible key of a closed question, in order (so that zeros show)."""
    if question.type is QuestionType.SCALE:
        return [str(v) for v in question.scale_points()]
    if question.type is QuestionType.CONSENT:
        return ["yes"]
    return [option.id for option in question.choices()]


async def compute_stats(store: Store) -> Stats:
    survey = store.survey
    zone = ZoneInfo(survey.timezone)
    closed = [q for q in survey.questions if q.type in CLOSED_TYPES]
    counters: dict[str, Counter[str]] = {q.id: Counter() for q in closed}
    answered: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    submitted_days: Counter[date] = Counter()
    counts = {"draft": 0, "submitted": 0}
    channels = {"telegram": 0, "web": 0}
    async for batch in store.stream_responses(include_drafts=True):
        for row in batch:
            counts[row.status] = counts.get(row.status, 0) + 1
            channels[row.channel] = channels.get(row.channel, 0) + 1
            if row.status == "draft":
                if row.answers:
                    current = row.state_data.get("current")
                    stopped[current if isinstance(current, str) else REVIEW] += 1
                continue
            if row.submitted_at is not None:
                submitted_days[row.submitted_at.astimezone(zone).date()] += 1
            for question in closed:
                answer = row.answers.get(question.id)
                if answer is None or answer.value is None:
                    continue
                answered[question.id] += 1
                counters[question.id].update(_values(question, answer.value))

    r, a, p = responses, answers, participants
    times_query = (
        select(a.c.answered_at)
        .join(r, r.c.id == a.c.response_id)
        .where(r.c.survey_id == survey.id, r.c.status != "preview")
    )

    def read(connection: Connection) -> tuple[Counter[date], int, int]:
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
        return days, int(people or 0), int(blocked or 0)

    days, people, blocked = await runner_for(store.engine).read(read)
    stats = Stats(
        participants=people,
        blocked=blocked,
        counts=counts,
        channels=channels,
        drop_off=[(q.id, stopped.get(q.id, 0)) for q in survey.questions]
        + [(REVIEW, stopped.get(REVIEW, 0))],
        answers_per_day=sorted(days.items()),
        submitted_per_day=sorted(submitted_days.items()),
        distributions=[
            Distribution(
                q,
                [(key, counters[q.id].get(key, 0)) for key in _keys(q)]
                + [(k, n) for k, n in counters[q.id].items() if k not in _keys(q)],
                answered[q.id],
            )
            for q in closed
        ],
    )
    log.info(
        "stats of survey %s: %d participants, %d started, %d submitted",
        survey.id,
        stats.participants,
        stats.started,
        stats.submitted,
    )
    return stats
