"""The admins' figures (SPEC §5): counts by status, completion rate, drop-off per question,
responses per day and the distribution of every closed question (from `analysis.tally`).

`StatsBuilder.add` takes each response (drafts included) as `storage` streams it; the figures
that come from elsewhere (people who talked to the bot, answers per day) are given to `finish`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from analysis.tally import Tallies, Tally
from dialogs.model import Question, Survey
from dialogs.state import Answer

REVIEW = "(review)"
"""Drop-off key of the drafts that answered every question but did not submit."""


class ResponseLike(Protocol):
    """What the figures read of a stored response (`storage.repository.ResponseRow` has it)."""

    @property
    def status(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def channel(self) -> str: ...

    @property
    def submitted_at(self) -> datetime | None: ...

    @property
    def answers(self) -> Mapping[str, Answer]: ...

    @property
    def state_data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Distribution:
    question: Question
    counts: list[tuple[str, int]]
    """(category, how many), in the question's order (`Tally.distribution`)."""
    answered: int
    """Responses that answered it (skipped excluded)."""
    tally: Tally


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
    """Every closed question, from the submitted responses."""
    tallies: Tallies | None = None
    """Everything counted from the submitted responses (grouped when asked)."""

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


class StatsBuilder:
    """Counts responses (drafts included, previews excluded) into `Stats`."""

    def __init__(self, survey: Survey, *, by: Question | None = None) -> None:
        self.survey = survey
        self.zone = ZoneInfo(survey.timezone)
        self.tallies = Tallies(survey, by=by)
        self.counts = {"draft": 0, "submitted": 0}
        self.channels = {"telegram": 0, "web": 0}
        self.stopped: Counter[str] = Counter()
        self.submitted_days: Counter[date] = Counter()

    def add(self, rows: Iterable[ResponseLike]) -> None:
        for row in rows:
            status = row.status
            if status == "preview":
                continue
            self.counts[status] = self.counts.get(status, 0) + 1
            self.channels[row.channel] = self.channels.get(row.channel, 0) + 1
            if status == "draft":
                if row.answers:
                    current = row.state_data.get("current")
                    self.stopped[current if isinstance(current, str) else REVIEW] += 1
                continue
            if row.submitted_at is not None:
                self.submitted_days[row.submitted_at.astimezone(self.zone).date()] += 1
            self.tallies.add(row.answers, row.language)

    def finish(
        self, *, participants: int, blocked: int, answers_per_day: Mapping[date, int]
    ) -> Stats:
        survey = self.survey
        return Stats(
            participants=participants,
            blocked=blocked,
            counts=dict(self.counts),
            channels=dict(self.channels),
            drop_off=[(q.id, self.stopped.get(q.id, 0)) for q in survey.questions]
            + [(REVIEW, self.stopped.get(REVIEW, 0))],
            answers_per_day=sorted(answers_per_day.items()),
            submitted_per_day=sorted(self.submitted_days.items()),
            distributions=[
                Distribution(t.question, t.distribution(), t.answered, t)
                for t in self.tallies.closed()
            ],
            tallies=self.tallies,
        )
