"""Anonymisation at the end of the retention period (`retention:` in the questionnaire file).

Once `Survey.anonymise_time()` has passed, `purge` cuts every Telegram participant of the survey
off from their person (and every web participant: their `web_key`, which their cookie and links
carry, is removed the same way, so those links open nothing any more):

- `participants.telegram_id` is set to NULL, after their export pseudonym (an HMAC of that id,
  `storage.pseudonyms`) has been stored in `participants.pseudonym`: exports and reports keep
  showing the same `P-…` for the same response; `anonymised_at` records when;
- the answers to `email` questions are deleted (`email_answers: true`, the default);
- with `free_texts: true`, the answers to `text` questions are deleted and the "other" texts of
  choice questions blanked (the choice "other" itself stays);
- with `drafts: delete`, the responses never submitted are deleted with their answers;
- the broadcast deliveries still pending to them are marked failed ("anonymised"): nobody is
  written to after the link to their account is gone.

Responses stay countable and exportable under their pseudonym. A former participant who writes
to the bot afterwards is somebody new: nothing links them to their old response any more (and
`/delete` cannot find it either). Terminal previews (`preview_name`) are not touched, nor
participants who also answered another survey of the same database.

It is idempotent (anonymised participants no longer match) and runs in batches of
`batch_size` participants, one transaction each, so that the bot's own writes are never kept
waiting long. `dry_run=True` counts what would be removed and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dialogs import QuestionType
from dialogs.model import DraftsPolicy, Retention
from storage.models import answers, deliveries, participants, response_versions, responses
from storage.pseudonyms import Pseudonymizer, load_pseudonymizer
from storage.repository import Store

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
CANCELLED_REASON = "anonymised: retention period over"


@dataclass(frozen=True)
class PurgeCounts:
    """What an anonymisation removed (or, in a dry run, would remove)."""

    participants: int = 0
    """Participants whose Telegram id (the link to their account) is removed."""
    email_answers: int = 0
    free_texts: int = 0
    """Text answers deleted plus "other" texts blanked."""
    drafts: int = 0
    """Unsubmitted responses deleted."""
    deliveries: int = 0
    """Pending broadcast deliveries cancelled."""

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(
            self.participants + other.participants,
            self.email_answers + other.email_answers,
            self.free_texts + other.free_texts,
            self.drafts + other.drafts,
            self.deliveries + other.deliveries,
        )


@dataclass(frozen=True)
class PurgeResult:
    due_at: datetime | None
    """When anonymisation is due; None when the file has no `retention:` block."""
    ran: bool
    """False before `due_at` (or without retention): nothing was looked at or changed."""
    dry_run: bool = False
    counts: PurgeCounts = field(default_factory=PurgeCounts)


class _Plan:
    """The statements of one survey's anonymisation, built once."""

    def __init__(self, store: Store, retention: Retention) -> None:
        survey = store.survey
        self.retention = retention
        p, r = participants, responses
        other_survey = exists().where(r.c.participant_id == p.c.id, r.c.survey_id != survey.id)
        self.target: ColumnElement[bool] = and_(
            or_(p.c.telegram_id.is_not(None), p.c.web_key.is_not(None)), ~other_survey
        )
        """Participants to anonymise: Telegram users and web participants of this survey only."""
        self.email_ids = [q.id for q in survey.questions if q.type is QuestionType.EMAIL]
        self.text_ids = [q.id for q in survey.questions if q.type is QuestionType.TEXT]
        self.survey_id = survey.id
        self.anonymise = (
            update(p)
            .where(p.c.id == bindparam("participant"))
            .values(
                telegram_id=None,
                web_key=None,
                pseudonym=bindparam("kept"),
                anonymised_at=bindparam("at"),
            )
        )
        """The link to the account removed, the pseudonym kept (executemany, one row each)."""

    def responses_of(self, people: Any) -> Select[Any]:
        r = responses
        return select(r.c.id).where(
            r.c.survey_id == self.survey_id,
            r.c.status != "preview",
            r.c.participant_id.in_(people),
        )

    def email_rows(self, people: Any) -> ColumnElement[bool]:
        a = answers
        return and_(
            a.c.response_id.in_(self.responses_of(people)), a.c.question_id.in_(self.email_ids)
        )

    def text_rows(self, people: Any) -> ColumnElement[bool]:
        a = answers
        return and_(
            a.c.response_id.in_(self.responses_of(people)), a.c.question_id.in_(self.text_ids)
        )

    def other_rows(self, people: Any) -> ColumnElement[bool]:
        a = answers
        return and_(
            a.c.response_id.in_(self.responses_of(people)),
            a.c.question_id.not_in(self.text_ids),
            a.c.other.is_not(None),
        )

    def draft_rows(self, people: Any) -> ColumnElement[bool]:
        r = responses
        return and_(
            r.c.survey_id == self.survey_id, r.c.status == "draft", r.c.participant_id.in_(people)
        )

    def pending_rows(self, people: Any) -> ColumnElement[bool]:
        d = deliveries
        return and_(d.c.status == "pending", d.c.participant_id.in_(people))

    # -- counting (dry run) ----------------------------------------------------------------

    def count(self, connection: Connection) -> PurgeCounts:
        people = select(participants.c.id).where(self.target)

        def number(table: Any, condition: ColumnElement[bool]) -> int:
            found = connection.execute(
                select(func.count()).select_from(table).where(condition)
            ).scalar()
            return int(found or 0)

        retention = self.retention
        free = 0
        if retention.free_texts:
            free = number(answers, self.text_rows(people)) + number(
                answers, self.other_rows(people)
            )
        return PurgeCounts(
            participants=number(participants, self.target),
            email_answers=number(answers, self.email_rows(people))
            if retention.email_answers
            else 0,
            free_texts=free,
            drafts=number(responses, self.draft_rows(people))
            if retention.drafts is DraftsPolicy.DELETE
            else 0,
            deliveries=number(deliveries, self.pending_rows(people)),
        )

    # -- one batch ---------------------------------------------------------------------------

    def purge_versions(self, connection: Connection, people: list[int]) -> None:
        """What is deleted from `answers` is deleted from the submitted versions too."""
        retention = self.retention
        gone = set(self.email_ids) if retention.email_answers else set()
        if retention.free_texts:
            gone |= set(self.text_ids)
        if not gone and not retention.free_texts:
            return
        v = response_versions
        found = connection.execute(
            select(v.c.response_id, v.c.version_number, v.c.answers).where(
                v.c.response_id.in_(self.responses_of(people))
            )
        ).all()
        for response_id, number, snapshot in found:
            kept = {qid: dict(answer) for qid, answer in snapshot.items() if qid not in gone}
            if retention.free_texts:
                for answer in kept.values():
                    answer["other"] = None
            if kept != snapshot:
                connection.execute(
                    update(v)
                    .where(v.c.response_id == response_id, v.c.version_number == number)
                    .values(answers=kept)
                )

    def batch(
        self, connection: Connection, *, pseudonyms: Pseudonymizer, now: datetime, size: int
    ) -> PurgeCounts:
        p = participants
        found = connection.execute(
            select(p.c.id, p.c.telegram_id, p.c.web_key)
            .where(self.target)
            .order_by(p.c.id)
            .limit(size)
        ).all()
        if not found:
            return PurgeCounts()
        people = [row[0] for row in found]
        retention = self.retention
        emails = free = drafts = 0
        if retention.email_answers and self.email_ids:
            emails = connection.execute(delete(answers).where(self.email_rows(people))).rowcount
        if retention.free_texts:
            if self.text_ids:
                free += connection.execute(delete(answers).where(self.text_rows(people))).rowcount
            free += connection.execute(
                update(answers).where(self.other_rows(people)).values(other=None)
            ).rowcount
        self.purge_versions(connection, people)
        if retention.drafts is DraftsPolicy.DELETE:
            draft_ids = select(responses.c.id).where(self.draft_rows(people))
            connection.execute(delete(answers).where(answers.c.response_id.in_(draft_ids)))
            drafts = connection.execute(delete(responses).where(self.draft_rows(people))).rowcount
        cancelled = connection.execute(
            update(deliveries)
            .where(self.pending_rows(people))
            .values(status="failed", last_error=CANCELLED_REASON, updated_at=now)
        ).rowcount
        connection.execute(
            self.anonymise,
            [
                {
                    "participant": participant_id,
                    "kept": pseudonyms.for_key(telegram_id, None, web_key),
                    "at": now,
                }
                for participant_id, telegram_id, web_key in found
            ],
        )
        return PurgeCounts(len(found), emails, free, drafts, cancelled)


async def purge(
    store: Store,
    *,
    now: datetime,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> PurgeResult:
    """Anonymise the survey's participants if the retention period is over (module docstring).

    `now` is the clock's reading: before `Survey.anonymise_time()` nothing is done."""
    survey = store.survey
    retention = survey.retention
    due_at = survey.anonymise_time()
    if retention is None or due_at is None or now < due_at:
        return PurgeResult(due_at, ran=False, dry_run=dry_run)
    plan = _Plan(store, retention)
    runner = store.db.runner
    if dry_run:
        counts = await runner.read(plan.count)
        return PurgeResult(due_at, ran=True, dry_run=True, counts=counts)
    pseudonyms = await load_pseudonymizer(store)
    total = PurgeCounts()
    while True:
        counts = await runner.write(
            lambda c: plan.batch(c, pseudonyms=pseudonyms, now=now, size=batch_size),
            what="anonymise participants",
        )
        total += counts
        if counts.participants < batch_size:
            break
        await asyncio.sleep(0)  # let waiting answers in between batches
    if total.participants:
        log.info(
            "survey %s: anonymised %d participants (e-mail answers %d, free texts %d, drafts %d, "
            "deliveries cancelled %d)",
            survey.id,
            total.participants,
            total.email_answers,
            total.free_texts,
            total.drafts,
            total.deliveries,
        )
    return PurgeResult(due_at, ran=True, counts=total)
