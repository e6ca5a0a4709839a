"""The broadcast queue: broadcasts, one delivery row per recipient, claimed and recorded by workers.

Crash safety (at-most-once delivery)
------------------------------------

1. When a broadcast is confirmed, the broadcast row and one `pending` delivery row per recipient
   of the segment are inserted in ONE transaction (`create`): either the whole queue exists or
   nothing does.
2. A worker claims the rows it is about to send RIGHT NOW (`claim`: as many as its token bucket
   allows at this instant) in a committed transaction that sets `claimed_at`, `claimed_by` and
   `attempts + 1`. On PostgreSQL the rows are chosen with `SELECT … FOR UPDATE SKIP LOCKED`, so
   several processes can drain one broadcast without ever claiming the same row; on SQLite the
   claim runs in a `BEGIN IMMEDIATE` transaction (one writer at a time), which gives the same
   guarantee.
3. The worker calls sendMessage, then records the outcome (`record`): `sent` with the Telegram
   `message_id`, `blocked`, `failed`, or - after a 429 or a transient error, when Telegram did not
   deliver the message - the claim is released (`claimed_at = NULL`) with a `next_attempt_at`.
   Outcomes are committed in small batches, a few milliseconds after Telegram answered.

A row is "in doubt" only while it is claimed and its outcome is not committed. If the process
dies (SIGKILL, OOM, power) at that moment we cannot know whether Telegram delivered the message:
Telegram offers no way to ask. The window that matters is between Telegram accepting the message
and the commit of `sent`: the HTTP answer's way back plus the recorder's flush (under 20 ms, see
`bot.broadcaster.RECORD_INTERVAL`) plus one commit (about 1 ms on SQLite in WAL mode). Only the
messages in flight at the instant of the crash can be in doubt: rows are claimed only when the
token bucket allows sending them at once, so that is about `rate x (HTTP round trip + 20 ms)`
rows - 0 to 2 at 25 messages per second - plus, right after a pause, the bucket's short burst
(`bot.broadcaster.BURST_SECONDS`). Everything claimed earlier has its outcome committed.

We choose at-most-once: a row in doubt is NEVER sent again. `resolve_in_doubt` (run by every
worker at start and periodically) marks the rows still pending whose claim is older than a lease
(well above the longest HTTP call) as `failed` with `last_error = 'unknown outcome: …'`, so
nobody gets a second message; the admin sees them in the failed count. A live worker is never
taken for a dead one because its loop is slow (a busy CPU, a slow commit): it renews the claims
it holds (`renew_claims`, every quarter of the lease), and `resolve_in_doubt` never touches the
claims of the worker that runs it - a worker knows which of its own sends are still in flight.
Only the claims of a process that stopped renewing them (it died) go stale.

A graceful stop (SIGTERM, task cancelled) lets the sends in flight finish and records them, and
gives back (`release`) the rows of a claim that committed while the stop arrived but were not
sent yet, so it leaves no row in doubt.

Narrower targets (`Targeting`): `source` keeps the participants whose first invitation link
(`storage.links`) has that source (`pole:aerospace-valley`), or any source of a kind
(`pole:`); `where` keeps those whose stored answers make a condition of the `show_if` language
true (`dialogs.where`), evaluated in Python over their answers when the broadcast is created. The
recipients are fixed then, in the delivery rows: a broadcast resumed after a crash goes to the
same people, whoever answered since. Both are kept on the broadcast row for the record.

Segments: `all` (every participant with a Telegram id who did not block the bot); `not-started`
(no response to this survey, or one without any answer); `in-progress` (a draft with at least one
answer); `submitted`. Blocked participants are never part of a segment, and a row whose
participant blocked the bot after the broadcast was created is marked `blocked` unsent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from dialogs.conditions import Condition
from dialogs.model import Segment, Survey
from dialogs.state import Answer
from dialogs.where import matches
from storage.database import Database, Runner
from storage.models import (
    answers,
    broadcasts,
    deliveries,
    invitation_links,
    participants,
    responses,
)

log = logging.getLogger(__name__)

SEGMENTS: tuple[str, ...] = tuple(s.value for s in Segment)
UNKNOWN_OUTCOME = "unknown outcome: the process stopped while the message was being sent"

Outcome = Literal["sent", "blocked", "failed", "retry"]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed by a worker, with what it needs to send it."""

    broadcast_id: int
    participant_id: int
    telegram_id: int
    language: str
    text: str
    attempts: int
    blocked: bool
    document: str | None = None
    """The path of the file to send (`text` is its caption), or None for a text message."""


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one claimed delivery."""

    broadcast_id: int
    participant_id: int
    telegram_id: int
    outcome: Outcome
    message_id: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    count_attempt: bool = True
    """False for a 429: Telegram refused before trying, it does not count toward the limit."""


@dataclass(frozen=True, slots=True)
class BroadcastInfo:
    id: int
    segment: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    reminder_id: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sent + self.blocked + self.failed

    @property
    def done(self) -> int:
        return self.sent + self.blocked + self.failed


@dataclass(frozen=True, slots=True)
class Targeting:
    """Who, within a segment, a broadcast reaches: by invitation source, by answers, or both."""

    where: Condition | None = None
    source: str | None = None
    """A source (`pole:aerospace-valley`), or a kind of source ending with ':' (`pole:`)."""

    @property
    def narrowed(self) -> bool:
        return self.where is not None or bool(self.source)

    def describe(self) -> str:
        parts = [f"source {self.source}"] if self.source else []
        if self.where is not None:
            parts.append(f"where {self.where.source}")
        return ", ".join(parts)


def encode_texts(texts: Mapping[str, str]) -> str:
    """Texts by language (a scheduled reminder) as stored in `broadcasts.text`."""
    return json.dumps({"by_language": dict(texts)}, ensure_ascii=False)


def text_for(stored: str, language: str, default_language: str) -> str:
    """The text a participant of `language` gets: a plain text, or one of `encode_texts`."""
    if stored.startswith('{"by_language"'):
        try:
            texts: dict[str, str] = json.loads(stored)["by_language"]
        except (ValueError, KeyError):
            return stored
        return texts.get(language) or texts.get(default_language) or next(iter(texts.values()))
    return stored


def segment_query(survey_id: str, segment: str) -> Select[Any]:
    """The participants (id, telegram_id, language) of a segment, not blocked, by id."""
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}: one of {', '.join(SEGMENTS)}")
    p, r, a = participants, responses, answers
    query = select(p.c.id, p.c.telegram_id, p.c.language).where(
        p.c.telegram_id.is_not(None), p.c.blocked.is_(False)
    )
    has_answer = exists().where(a.c.response_id == r.c.id)
    of_survey = and_(r.c.participant_id == p.c.id, r.c.survey_id == survey_id)
    if segment == Segment.NOT_STARTED:
        started = exists().where(of_survey, has_answer)
        query = query.where(~started)
    elif segment == Segment.IN_PROGRESS:
        query = query.where(exists().where(of_survey, r.c.status == "draft", has_answer))
    elif segment == Segment.SUBMITTED:
        query = query.where(exists().where(of_survey, r.c.status == "submitted"))
    return query.order_by(p.c.id)


class BroadcastStore:
    """The broadcast tables of one survey. Safe to share between tasks and processes.
    `survey` is needed only to target by answers (`Targeting.where`)."""

    def __init__(
        self,
        db: Database,
        survey_id: str,
        default_language: str = "fr",
        *,
        survey: Survey | None = None,
    ) -> None:
        self.db = db
        self.survey_id = survey_id
        self.default_language = default_language
        self.survey = survey
        self._sqlite = db.is_sqlite

    @property
    def _runner(self) -> Runner:
        return self.db.runner

    # -- creating -------------------------------------------------------------------------------

    async def count_recipients(self, segment: str, targeting: Targeting | None = None) -> int:
        if targeting is not None and targeting.narrowed:
            return len(await self.recipients(segment, targeting))
        query = select(func.count()).select_from(segment_query(self.survey_id, segment).subquery())
        count: int = await self._runner.read(lambda c: c.scalar(query) or 0)
        return count

    def _targeted_query(self, segment: str, source: str | None) -> Select[Any]:
        query = segment_query(self.survey_id, segment)
        if source:
            i = invitation_links
            by_source = (
                i.c.source.startswith(source) if source.endswith(":") else i.c.source == source
            )
            query = query.where(
                participants.c.link_id.in_(
                    select(i.c.id).where(i.c.survey_id == self.survey_id, by_source)
                )
            )
        return query

    async def recipients(self, segment: str, targeting: Targeting) -> list[int]:
        """The participant ids a targeted broadcast reaches, by id (one read transaction)."""
        query = self._targeted_query(segment, targeting.source)
        condition = targeting.where
        survey = self.survey
        if condition is not None and survey is None:
            raise ValueError("targeting by answers needs the survey (BroadcastStore(survey=...))")
        r, a = responses, answers
        people = query.subquery()
        answer_rows = (
            select(r.c.participant_id, a.c.question_id, cast(a.c.value, Text), a.c.other)
            .join(a, a.c.response_id == r.c.id)
            .where(
                r.c.survey_id == self.survey_id,
                r.c.participant_id.in_(select(people.c.id)),
                a.c.question_id.in_(sorted(condition.references()) if condition else []),
            )
        )

        def work(connection: Connection) -> list[int]:
            ids = [row[0] for row in connection.execute(query)]
            if condition is None or survey is None:
                return ids
            given: dict[int, dict[str, Answer]] = {}
            for participant_id, question_id, raw, other in connection.execute(answer_rows):
                value = json.loads(raw)
                if isinstance(value, list):
                    value = tuple(str(v) for v in value)
                given.setdefault(participant_id, {})[question_id] = Answer(value, other)
            return [i for i in ids if matches(survey, condition, given.get(i, {}))]

        return await self._runner.read(work)

    async def create(
        self,
        segment: str,
        text: str,
        *,
        now: datetime,
        created_by: str | None = None,
        reminder_id: str | None = None,
        cancelled: bool = False,
        targeting: Targeting | None = None,
        document: str | None = None,
    ) -> int | None:
        """Queue a broadcast: the broadcast and its delivery rows in one transaction.

        Returns its id; for a reminder already created (by this or another process) None.
        `cancelled`: record it (a skipped reminder) without any delivery. `targeting`: the
        recipients are chosen first (`recipients`, a read), then written with the broadcast."""
        recipients = segment_query(self.survey_id, segment).subquery()
        chosen: list[int] | None = None
        if targeting is not None and targeting.narrowed and not cancelled:
            chosen = await self.recipients(segment, targeting)
        values = {
            "survey_id": self.survey_id,
            "segment": segment,
            "text": text,
            "status": "cancelled" if cancelled else "running",
            "created_by": created_by,
            "created_at": now,
            "reminder_id": reminder_id,
            "target_where": targeting.where.source if targeting and targeting.where else None,
            "target_source": targeting.source if targeting and targeting.source else None,
            "document": document,
        }
        insert_fn = sqlite_insert if self._sqlite else pg_insert

        def work(connection: Connection) -> int | None:
            statement = insert_fn(broadcasts).values(values)
            if reminder_id is not None:
                statement = statement.on_conflict_do_nothing(
                    index_elements=[broadcasts.c.survey_id, broadcasts.c.reminder_id]
                )
            result = connection.execute(statement.returning(broadcasts.c.id))
            broadcast_id = result.scalar()
            if broadcast_id is None or cancelled:
                return None if broadcast_id is None else int(broadcast_id)
            if chosen is not None:
                if chosen:
                    connection.execute(
                        insert(deliveries),
                        [
                            {
                                "broadcast_id": broadcast_id,
                                "participant_id": participant_id,
                                "status": "pending",
                                "attempts": 0,
                                "updated_at": now,
                            }
                            for participant_id in chosen
                        ],
                    )
                return int(broadcast_id)
            connection.execute(
                insert(deliveries).from_select(
                    ["broadcast_id", "participant_id", "status", "attempts", "updated_at"],
                    select(
                        literal(broadcast_id),
                        recipients.c.id,
                        literal("pending"),
                        literal(0),
                        literal(now, type_=deliveries.c.updated_at.type),
                    ),
                )
            )
            return int(broadcast_id)

        broadcast_id = await self._runner.write(work, what="create broadcast")
        if broadcast_id is not None:
            log.info(
                "broadcast %d queued: segment %s%s, reminder %s, by %s",
                broadcast_id,
                segment,
                f" ({targeting.describe()})" if targeting and targeting.narrowed else "",
                reminder_id,
                created_by,
            )
        return broadcast_id

    # -- draining -------------------------------------------------------------------------------

    async def claim(
        self,
        worker: str,
        now: datetime,
        limit: int,
        *,
        broadcast_id: int | None = None,
    ) -> list[Claimed]:
        """Claim up to `limit` due pending deliveries of running broadcasts (oldest first)."""
        d, b, p = deliveries, broadcasts, participants
        candidates = (
            select(d.c.broadcast_id, d.c.participant_id)
            .join(b, b.c.id == d.c.broadcast_id)
            .where(
                *self._waiting(),
                (d.c.next_attempt_at.is_(None)) | (d.c.next_attempt_at <= now),
            )
            .order_by(d.c.broadcast_id, d.c.participant_id)
            .limit(limit)
            .with_for_update(of=d, skip_locked=True)
        )
        if broadcast_id is not None:
            candidates = candidates.where(d.c.broadcast_id == broadcast_id)

        def work(connection: Connection) -> list[Claimed]:
            keys = [tuple(row) for row in connection.execute(candidates).all()]
            if not keys:
                return []
            pairs = tuple_(d.c.broadcast_id, d.c.participant_id).in_(keys)
            connection.execute(
                update(d)
                .where(pairs)
                .values(
                    claimed_at=now,
                    claimed_by=worker,
                    attempts=d.c.attempts + 1,
                    updated_at=now,
                )
            )
            rows = connection.execute(
                select(
                    d.c.broadcast_id,
                    d.c.participant_id,
                    p.c.telegram_id,
                    p.c.language,
                    b.c.text,
                    d.c.attempts,
                    p.c.blocked,
                    b.c.document,
                )
                .join(p, p.c.id == d.c.participant_id)
                .join(b, b.c.id == d.c.broadcast_id)
                .where(pairs)
                .order_by(d.c.broadcast_id, d.c.participant_id)
            ).all()
            return [
                Claimed(
                    broadcast_id=row[0],
                    participant_id=row[1],
                    telegram_id=row[2],
                    language=row[3],
                    text=text_for(row[4], row[3], self.default_language),
                    attempts=row[5],
                    blocked=bool(row[6]),
                    document=row[7],
                )
                for row in rows
            ]

        return await self._runner.write(work, what="claim deliveries")

    async def record(self, results: Sequence[Result], now: datetime) -> None:
        """Commit the outcomes of claimed deliveries (one transaction)."""
        if not results:
            return
        d, p = deliveries, participants
        key = and_(
            d.c.broadcast_id == bindparam("b_id"),
            d.c.participant_id == bindparam("p_id"),
            d.c.status == "pending",
        )
        final = (
            update(d)
            .where(key)
            .values(
                status=bindparam("new_status"),
                message_id=bindparam("new_message_id"),
                last_error=bindparam("new_error"),
                updated_at=now,
            )
        )
        release = (
            update(d)
            .where(key)
            .values(
                claimed_at=None,
                claimed_by=None,
                attempts=d.c.attempts - bindparam("uncount"),
                next_attempt_at=bindparam("retry_at"),
                last_error=bindparam("new_error"),
                updated_at=now,
            )
        )
        finals = [
            {
                "b_id": r.broadcast_id,
                "p_id": r.participant_id,
                "new_status": r.outcome,
                "new_message_id": r.message_id,
                "new_error": r.error,
            }
            for r in results
            if r.outcome != "retry"
        ]
        releases = [
            {
                "b_id": r.broadcast_id,
                "p_id": r.participant_id,
                "uncount": 0 if r.count_attempt else 1,
                "retry_at": r.retry_at or now,
                "new_error": r.error,
            }
            for r in results
            if r.outcome == "retry"
        ]
        blocked_ids = sorted({r.participant_id for r in results if r.outcome == "blocked"})

        def work(connection: Connection) -> None:
            if finals:
                connection.execute(final, finals)
            if releases:
                connection.execute(release, releases)
            if blocked_ids:
                connection.execute(
                    update(p)
                    .where(p.c.id.in_(blocked_ids), p.c.blocked.is_(False))
                    .values(blocked=True, blocked_at=now)
                )

        await self._runner.write(work, what="record deliveries")

    async def release(self, worker: str, rows: Sequence[Claimed], now: datetime) -> None:
        """Give back claimed rows that were never sent (a stop arrived while they were being
        claimed): pending and unclaimed again, their attempt not counted."""
        if not rows:
            return
        d = deliveries
        keys = [(r.broadcast_id, r.participant_id) for r in rows]
        statement = (
            update(d)
            .where(
                tuple_(d.c.broadcast_id, d.c.participant_id).in_(keys),
                d.c.status == "pending",
                d.c.claimed_by == worker,
            )
            .values(claimed_at=None, claimed_by=None, attempts=d.c.attempts - 1, updated_at=now)
        )
        await self._runner.write(lambda c: c.execute(statement), what="release deliveries")

    async def renew_claims(self, worker: str, now: datetime) -> int:
        """Move the claims `worker` holds (pending rows) to `now`: the worker is alive, its
        sends in flight are not in doubt. Returns how many rows."""
        d = deliveries
        statement = (
            update(d)
            .where(
                d.c.broadcast_id.in_(self._running_ids()),
                d.c.status == "pending",
                d.c.claimed_by == worker,
                d.c.claimed_at.is_not(None),
            )
            .values(claimed_at=now)
        )

        def work(connection: Connection) -> int:
            return connection.execute(statement).rowcount

        count: int = await self._runner.write(work, what="renew claims")
        return count

    async def resolve_in_doubt(
        self, now: datetime, lease: timedelta, *, worker: str | None = None
    ) -> int:
        """Mark `failed` (never resend) the rows whose claim is older than `now - lease` and not
        recorded: the process that claimed them stopped while sending (see the module's
        docstring). The claims of `worker` (the caller) are left alone: it is alive."""
        d = deliveries
        statement = (
            update(d)
            .where(
                d.c.status == "pending",
                d.c.claimed_at.is_not(None),
                d.c.claimed_at < now - lease,
                d.c.broadcast_id.in_(
                    select(broadcasts.c.id).where(broadcasts.c.survey_id == self.survey_id)
                ),
            )
            .values(status="failed", last_error=UNKNOWN_OUTCOME, updated_at=now)
        )
        if worker is not None:
            statement = statement.where(d.c.claimed_by.is_(None) | (d.c.claimed_by != worker))

        def work(connection: Connection) -> int:
            return connection.execute(statement).rowcount

        count = await self._runner.write(work, what="resolve deliveries in doubt")
        if count:
            log.warning(
                "%d deliveries were interrupted while being sent: marked failed, not resent "
                "(at-most-once)",
                count,
            )
        return count

    async def finish_done(self, now: datetime) -> list[int]:
        """Mark `done` the running broadcasts with no pending delivery; returns their ids."""
        b, d = broadcasts, deliveries
        pending = exists().where(d.c.broadcast_id == b.c.id, d.c.status == "pending")

        def work(connection: Connection) -> list[int]:
            ids = list(
                connection.execute(
                    select(b.c.id).where(
                        b.c.survey_id == self.survey_id, b.c.status == "running", ~pending
                    )
                ).scalars()
            )
            if ids:
                connection.execute(
                    update(b).where(b.c.id.in_(ids)).values(status="done", finished_at=now)
                )
            return ids

        ids = await self._runner.write(work, what="finish broadcasts")
        for broadcast_id in ids:
            log.info("broadcast %d done", broadcast_id)
        return ids

    def _running_ids(self) -> Select[Any]:
        b = broadcasts
        return select(b.c.id).where(b.c.survey_id == self.survey_id, b.c.status == "running")

    def _waiting(self) -> tuple[ColumnElement[bool], ...]:
        """Pending, unclaimed deliveries of this survey's running broadcasts (joined with
        `broadcasts`)."""
        d, b = deliveries, broadcasts
        return (
            b.c.survey_id == self.survey_id,
            b.c.status == "running",
            d.c.status == "pending",
            d.c.claimed_at.is_(None),
        )

    async def next_due(self) -> datetime | None:
        """The earliest `next_attempt_at` of a pending unclaimed row of a running broadcast."""
        d, b = deliveries, broadcasts
        query = (
            select(func.min(d.c.next_attempt_at))
            .join(b, b.c.id == d.c.broadcast_id)
            .where(*self._waiting())
        )
        value: datetime | None = await self._runner.read(lambda c: c.scalar(query))
        return value

    # -- reading --------------------------------------------------------------------------------

    async def counts(self, broadcast_id: int) -> Counts:
        d = deliveries
        query = (
            select(d.c.status, func.count())
            .where(d.c.broadcast_id == broadcast_id)
            .group_by(d.c.status)
        )
        rows = await self._runner.read(lambda c: c.execute(query).all())
        found = {status: count for status, count in rows}
        return Counts(
            pending=found.get("pending", 0),
            sent=found.get("sent", 0),
            blocked=found.get("blocked", 0),
            failed=found.get("failed", 0),
        )

    async def get(self, broadcast_id: int) -> BroadcastInfo | None:
        b = broadcasts
        query = select(
            b.c.id, b.c.segment, b.c.status, b.c.created_at, b.c.finished_at, b.c.reminder_id
        ).where(b.c.id == broadcast_id)
        row = await self._runner.read(lambda c: c.execute(query).first())
        return BroadcastInfo(*row) if row is not None else None

    async def reminder_ids(self) -> set[str]:
        query = select(broadcasts.c.reminder_id).where(
            broadcasts.c.survey_id == self.survey_id, broadcasts.c.reminder_id.is_not(None)
        )
        rows = await self._runner.read(lambda c: c.execute(query).scalars().all())
        return {str(r) for r in rows}
