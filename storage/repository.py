"""The repository the bot calls: load a participant's state, apply an engine step atomically, erase.

`Store.apply` is on the path of every answer: read → `step` (the pure engine) → `plan_write` (pure:
what to write, `storage.plan`) → write the plan, with few statements:

    SQLite (BEGIN IMMEDIATE, one transaction)   PostgreSQL (autocommit, `storage.pg_apply`)
    INSERT processed update (if any)            1. SELECT participant ⟕ response ⟕ answers,
    SELECT participant ⟕ response ⟕ answers        and whether the update id was processed
    -- step, plan_write --                       -- step, plan_write --
    INSERT/UPDATE only what changed: the        2. ONE statement (a CTE) that writes the same
    participant (new, or its language), the        rows and records the update id, guarded by
    response row, the answer rows that             the response's version read in 1: when
    changed (one upsert) and those that            someone wrote in between, nothing is
    disappeared (one delete), the submitted        written and it is read again (a few times,
    version. COMMIT                                then under the participant's row lock)

One participant's transactions never interleave: on SQLite the write lock is taken at BEGIN (and
one writer at a time per process, see `storage.database`); on PostgreSQL a write only happens if
nothing of the participant changed since it was read. The SQLite transaction, `step` included (it
is pure), is retried on "database is locked"; the locked PostgreSQL path (SQLAlchemy Core, which
also serves in-memory SQLite) on serialization failures and deadlocks.

The statements themselves are in `storage.apply_ops`: SQLAlchemy Core, or plain SQL on the
SQLite writer thread's connection (the same rows either way), and in `storage.pg_apply`.

The store remembers the state it wrote last for each of the `RECENT_STATES` most recent
participants. At their next answer it reads only the participant ⟕ response row (SQLite), or
PostgreSQL's read leaves out the state and the answers, and the remembered state is used when the
row still says the same (ids, version, status, reference, `updated_at` to the microsecond:
`storage.plan.reuse`); otherwise everything is read as above. Any other writer (another process,
the erasure of a participant whose row ids are then reused) changes one of those, so an answer is
always applied to what is stored.

The closing date is checked by `plan_write`, with `clock()` read after `step`, at the moment of
writing: a submission written at or after `closes_at` is refused and the draft stays as it was.
A receipt reference already used by another response is replaced by a new one drawn by the store
and the whole apply run again (`REFERENCE_DRAWS`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import (
    CursorResult,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import Insert as PGInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Table
from sqlalchemy.util import greenlet_spawn

from dialogs import Answer, Phase, Result, State, Survey, new_state
from dialogs.reference import new_reference
from storage import pg_apply
from storage.apply_ops import (
    ApplyOps,
    CoreOps,
    CoreStatements,
    ReferenceConflict,
    SQLiteOps,
    execute_plan,
)
from storage.database import Database, Runner, ThreadedSQLiteRunner
from storage.models import (
    RESPONSE_STATUSES,
    answers,
    deliveries,
    invitation_links,
    link_starts,
    participants,
    processed_updates,
    response_versions,
    responses,
    settings,
    surveys,
)
from storage.plan import (
    Current,
    Key,
    ParticipantRow,
    ResponseStatus,
    WritePlan,
    plan_write,
    read_current,
    remember,
    reuse,
    with_reference,
)
from storage.plan import decode_answer as _answer
from storage.plan import dumps as _dumps
from storage.plan import value_to_json as _value_to_json

log = logging.getLogger(__name__)

Step = Callable[[State], Result]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def survey_file_hash(content: str | bytes) -> str:
    """The SHA-256 of a survey file, as stored in `surveys.file_hash`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


REFERENCE_DRAWS = 5
"""Receipt references `Store.apply` tries for one submission (one in 10^12 is taken: 5 is
plenty)."""
RECENT_STATES = 2048
"""Participants whose state `Store.apply` remembers after writing it (a few kB each): the next
answer reads a short row that says whether the stored state is still that one, instead of the
response's state and every answer."""


def _rekeyed(step: Step, taken: str, fresh: str) -> Step:
    """`step`, its result given the reference `fresh` instead of `taken`."""

    def rekeyed(state: State) -> Result:
        return with_reference(step(state), taken, fresh)

    return rekeyed


class ReferenceTaken(Exception):
    """The receipt reference of a Submit is already used by another response.

    Nothing was written (the update id is not consumed either). `Store.apply` draws another
    reference and applies the Submit again; it raises this only when every draw was taken.
    """

    def __init__(self, reference: str) -> None:
        super().__init__(f"the reference {reference!r} is already taken")
        self.reference = reference


@dataclass(frozen=True, slots=True)
class ParticipantKey:
    """Who: a Telegram user (`telegram_id`), a named terminal preview (`preview_name`) or a web
    participant (`web_key`, the random id their cookie or link carries): exactly one of them."""

    telegram_id: int | None = None
    preview_name: str | None = None
    web_key: str | None = None

    def __post_init__(self) -> None:
        given = [self.telegram_id, self.preview_name, self.web_key]
        if sum(value is not None for value in given) != 1:
            raise ValueError(
                "a ParticipantKey has exactly one of telegram_id, preview_name and web_key"
            )

    @classmethod
    def telegram(cls, telegram_id: int) -> ParticipantKey:
        return cls(telegram_id=telegram_id)

    @classmethod
    def preview(cls, name: str) -> ParticipantKey:
        return cls(preview_name=name)

    @classmethod
    def web(cls, web_key: str) -> ParticipantKey:
        return cls(web_key=web_key)

    def __str__(self) -> str:
        if self.telegram_id is not None:
            return f"telegram:{self.telegram_id}"
        if self.web_key is not None:
            return f"web:{self.web_key[:6]}…"
        return f"preview:{self.preview_name}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A participant's state as stored (read-only)."""

    state: State
    participant: ParticipantRow | None
    """None: never seen (the state is `new_state`)."""
    response_id: int | None = None
    status: ResponseStatus | None = None
    version: int = 0
    """How many writes changed the response (0: no response yet)."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What `Store.apply` did."""

    state: State
    """The state as stored now. On a refused submission: the state before the Submit."""
    result: Result | None
    """The engine's result (None for a duplicate update: `step` was not called)."""
    duplicate: bool = False
    """This update id had been processed already: nothing was done."""
    refused_closed: bool = False
    """The engine accepted a submission but the clock said the consultation had closed when it
    was written: the draft was kept, not submitted. Show the closed screen, not the receipt."""
    status: ResponseStatus | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One response as the export and stats read it."""

    id: int
    participant_id: int
    telegram_id: int | None
    preview_name: str | None
    language: str
    status: ResponseStatus
    reference: str | None
    started_at: datetime
    submitted_at: datetime | None
    updated_at: datetime
    version: int
    state_json: str
    answers: dict[str, Answer]
    pseudonym: str | None = None
    """The pseudonym stored when the participant was anonymised (`storage.retention`)."""
    channel: str = "telegram"
    """Where the participant answered: `telegram` or `web`."""
    web_key: str | None = None
    source: str | None = None
    """The invitation source the participant first came through (`storage.links`)."""

    @property
    def state_data(self) -> dict[str, Any]:
        """`State.to_json()` as stored (phase, current question...), decoded on demand."""
        data: dict[str, Any] = json.loads(self.state_json)
        return data


@dataclass(frozen=True, slots=True)
class SubmittedVersion:
    """One submission of a response (`response_versions`)."""

    number: int
    submitted_at: datetime
    answers: dict[str, Any]
    """{question_id: {"value": JSON value, "other": text or None}}"""


@dataclass(frozen=True, slots=True)
class ResponseHistory:
    """`Store.submitted_versions`: whose response (to pseudonymise) and its versions."""

    pseudonym: str | None
    key: tuple[int | None, str | None, str | None]
    """(telegram_id, preview_name, web_key) of the participant."""
    versions: list[SubmittedVersion]


@dataclass(frozen=True, slots=True)
class AnswerBatch:
    """Responses as `Store.stream_answer_batches` reads them."""

    responses: list[
        tuple[
            int,
            int | None,
            str | None,
            str,
            str | None,
            str,
            datetime,
            datetime | None,
            str | None,
            str,
            str | None,
            str | None,
            int | None,
        ]
    ]
    """(id, telegram_id, preview_name, status, reference, language, started_at, submitted_at,
    stored pseudonym of an anonymised participant, channel, web_key, invitation source), by
    increasing id."""
    answers: list[tuple[int, str, str, str | None]]
    """(response_id, question_id, value as JSON text, other), by response_id; may hold answers
    of responses in the id range that the batch leaves out (other statuses): skip those."""


@dataclass(frozen=True, slots=True)
class NewResponse:
    """A complete response for `Store.bulk_insert_responses` (benchmarks, synthetic data)."""

    participant: ParticipantKey
    state: State
    """Its answers, phase, language, reference and submitted_at are stored as given."""
    started_at: datetime
    updated_at: datetime | None = None
    status: ResponseStatus | None = None
    """By default 'submitted' when the state is submitted, else 'draft'."""


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    new_id: int = key[0]
    return new_id


def _key(key: ParticipantKey) -> Key:
    return Key(key.telegram_id, key.preview_name, key.web_key)


_ANSWERS_IN_RANGE = (
    select(
        answers.c.response_id, answers.c.question_id, cast(answers.c.value, Text), answers.c.other
    )
    .where(answers.c.response_id.between(bindparam("first"), bindparam("last")))
    .order_by(answers.c.response_id, answers.c.question_id)
)
"""The answers of the responses with ids from `first` to `last`, values as JSON text."""


def _exported_statuses(include_drafts: bool, include_preview: bool) -> list[str]:
    statuses = ["submitted"]
    if include_drafts:
        statuses.append("draft")
    if include_preview:
        statuses.append("preview")
    return statuses


class Store:
    """Storage for one survey. Safe to share between tasks; one per process and survey is enough."""

    def __init__(self, db: Database, survey: Survey, *, file_hash: str, bot_id: int = 0) -> None:
        self.db = db
        self.survey = survey
        self.file_hash = file_hash
        self.bot_id = bot_id
        """Whose update ids `apply` records (Telegram numbers updates per bot)."""
        self._sqlite = db.is_sqlite
        self._registered = False
        self._registering = asyncio.Lock()
        self._recent: dict[Key, Current] = {}
        """The state last written per participant (`_remember`, `reuse`), least recent first."""
        self._fresh_json = _dumps(new_state(survey).to_json())
        self._insert: Callable[[Table], SQLiteInsert | PGInsert] = (
            sqlite_insert if self._sqlite else pg_insert
        )
        self._direct_pg = not self._sqlite
        """PostgreSQL: `apply` in two statements on the asyncpg connection (`storage.pg_apply`);
        False: through SQLAlchemy Core in one transaction (the parity test compares the two)."""
        self._build_statements()

    # -- statements, built once ----------------------------------------------------------------

    def _build_statements(self) -> None:
        self._core = CoreStatements(self.survey.id, sqlite=self._sqlite)

    def _key_params(self, key: ParticipantKey) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
        return self._core.by_key(_key(key))

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    @property
    def _runner(self) -> Runner:
        return self.db.runner

    # -- survey ---------------------------------------------------------------------------------

    async def register_survey(self, *, now: datetime | None = None) -> str | None:
        """Record the survey and the hash of its file; returns the hash stored before, if any.

        A different hash means the file changed since the last start: logged as a warning, so
        that an operator can see it (answers are kept; questions removed from the file are no
        longer shown or exported).
        """
        title = self.survey.title.values.get(self.survey.default_language) or self.survey.id
        loaded_at = now or utc_now()

        def work(connection: Connection) -> str | None:
            previous: str | None = connection.scalar(
                select(surveys.c.file_hash).where(surveys.c.id == self.survey.id)
            )
            upsert = self._insert(surveys).values(
                id=self.survey.id, file_hash=self.file_hash, title=title, loaded_at=loaded_at
            )
            connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=[surveys.c.id],
                    set_={
                        "file_hash": upsert.excluded.file_hash,
                        "title": upsert.excluded.title,
                        "loaded_at": upsert.excluded.loaded_at,
                    },
                )
            )
            return previous

        previous = await self._runner.write(work, what="register survey")
        self._registered = True
        if previous is not None and previous != self.file_hash:
            log.warning(
                "survey %s: the file changed since it was last loaded (hash %s…, was %s…)",
                self.survey.id,
                self.file_hash[:12],
                previous[:12],
            )
        elif previous is None:
            log.info("survey %s registered (hash %s…)", self.survey.id, self.file_hash[:12])
        return previous

    async def _ensure_registered(self) -> None:
        if self._registered:
            return
        async with self._registering:
            if not self._registered:
                await self.register_survey()

    # -- reading --------------------------------------------------------------------------------

    def _read_current(
        self, ops: ApplyOps, key: ParticipantKey, language_hint: str | None
    ) -> Current:
        return read_current(self.survey, list(ops.current_rows(_key(key))), language_hint)

    async def load(self, participant: ParticipantKey, language_hint: str | None = None) -> Snapshot:
        """The participant's stored state (read-only); `new_state` for someone never seen."""
        current = await self._runner.read(
            lambda connection: self._read_current(
                CoreOps(self._core, connection), participant, language_hint
            )
        )
        return Snapshot(
            current.state, current.participant, current.response_id, current.status, current.version
        )

    # -- applying an engine step ----------------------------------------------------------------

    async def apply(
        self,
        participant: ParticipantKey,
        step: Step,
        *,
        clock: Clock,
        update_id: int | None = None,
        language_hint: str | None = None,
        preview: bool = False,
        draw_reference: Callable[[], str] = new_reference,
    ) -> Applied:
        """Run `step` on the stored state and store its result, in one transaction.

        `step` is pure (typically `lambda s: transition(survey, s, event, now)`) and may run more
        than once when the transaction is retried. `clock` is read when the result is written:
        a submission at or after `closes_at` is refused (`Applied.refused_closed`) unless
        `preview`. With `update_id` (an update of the bot `self.bot_id`), an update seen before
        is not applied again (`Applied.duplicate`). When a Submit's receipt reference is used by
        another response, a new one is drawn (`draw_reference`) and the whole transaction run
        again, up to `REFERENCE_DRAWS` times; then `ReferenceTaken`.
        """
        await self._ensure_registered()
        for _draw in range(REFERENCE_DRAWS):
            try:
                return await self._apply_once(
                    participant, step, clock, update_id, language_hint, preview
                )
            except ReferenceTaken as taken:
                fresh = draw_reference()
                log.warning(
                    "%s: receipt reference %s taken; drawing another (%s)",
                    participant,
                    taken.reference,
                    fresh,
                )
                step = _rekeyed(step, taken.reference, fresh)
        raise ReferenceTaken(f"no free receipt reference after {REFERENCE_DRAWS} draws")

    async def _apply_once(
        self,
        participant: ParticipantKey,
        step: Step,
        clock: Clock,
        update_id: int | None,
        language_hint: str | None,
        preview: bool,
    ) -> Applied:
        what = f"apply for {participant}"
        key = _key(participant)
        if self._direct_pg:
            return await self._apply_pg(participant, step, clock, update_id, language_hint, preview)
        runner = self._runner

        def run(ops: ApplyOps) -> tuple[Applied, Current | None]:
            return self._apply(ops, participant, step, clock, update_id, language_hint, preview)

        try:
            if isinstance(runner, ThreadedSQLiteRunner):
                survey_id = self.survey.id
                applied, after = await runner.write_raw(
                    lambda c: run(SQLiteOps(c, survey_id)), what=what
                )
            else:
                applied, after = await runner.write(
                    lambda c: run(CoreOps(self._core, c)), what=what
                )
        except BaseException:
            self._recent.pop(key, None)
            raise
        self._remember(key, after)
        return applied

    def _remember(self, key: Key, after: Current | None) -> None:
        """Keep what a read would now give for `key` (after its transaction committed); only
        ever changed on the event loop's thread (`_apply` may read it on the writer thread)."""
        recent = self._recent
        recent.pop(key, None)
        if after is None:
            return
        if len(recent) >= RECENT_STATES:
            del recent[next(iter(recent))]  # the least recently written
        recent[key] = after

    def _duplicate(self, key: ParticipantKey, update_id: int, current: Current) -> Applied:
        log.info("update %d for %s already processed: skipped", update_id, key)
        return Applied(
            current.state, None, duplicate=True, status=current.status, version=current.version
        )

    def _plan(
        self, key: ParticipantKey, current: Current, step: Step, clock: Clock, preview: bool
    ) -> WritePlan:
        result = step(current.state)
        plan = plan_write(
            current,
            result,
            clock(),
            survey=self.survey,
            preview=preview,
            fresh_json=self._fresh_json,
        )
        if plan.refused_closed:
            log.warning(
                "%s: submission refused, the survey %s closed at %s (written at %s)",
                key,
                self.survey.id,
                self.survey.closes_at.isoformat(),
                plan.now.isoformat(),
            )
        return plan

    def _applied(self, key: ParticipantKey, plan: WritePlan) -> Applied:
        if plan.newly_submitted:
            log.info(
                "%s submitted survey %s: reference %s", key, self.survey.id, plan.state.reference
            )
        return Applied(
            plan.state,
            plan.result,
            refused_closed=plan.refused_closed,
            status=plan.status,
            version=plan.version,
        )

    def _apply(
        self,
        ops: ApplyOps,
        key: ParticipantKey,
        step: Step,
        clock: Clock,
        update_id: int | None,
        language_hint: str | None,
        preview: bool,
    ) -> tuple[Applied, Current | None]:
        """One transaction on SQLite, or through SQLAlchemy Core: record the update id, lock
        (PostgreSQL), read, step, plan, write. With it, what a read would give after it (None:
        nothing to remember), for `_remember` once committed."""
        if update_id is not None and not ops.record_update(self.bot_id, update_id, clock()):
            current = self._read_current(ops, key, language_hint)
            return self._duplicate(key, update_id, current), current
        row_key = _key(key)
        if not self._sqlite:
            ops.lock_participant(row_key, new_state(self.survey, language_hint).language, clock())
        current = self._recalled(ops, row_key) or self._read_current(ops, key, language_hint)
        plan = self._plan(key, current, step, clock, preview)
        try:
            participant_id, response_id = execute_plan(ops, plan, row_key, current, self.survey.id)
        except ReferenceConflict as conflict:
            assert plan.state.reference is not None
            raise ReferenceTaken(plan.state.reference) from conflict
        after = None
        if isinstance(ops, SQLiteOps):
            # The Core path's times come back through SQLAlchemy's types: not remembered.
            after = remember(
                current, plan, row_key, participant_id, response_id, ops.time(plan.now)
            )
        return self._applied(key, plan), after

    def _recalled(self, ops: ApplyOps, key: Key) -> Current | None:
        """The state remembered for `key`, if the database still holds it (one short read
        instead of the response's state and every answer)."""
        remembered = self._recent.get(key)
        if remembered is None or not isinstance(ops, SQLiteOps):
            return None
        head = ops.head(key)
        return None if head is None else reuse(remembered, head)

    async def _apply_pg(
        self,
        key: ParticipantKey,
        step: Step,
        clock: Clock,
        update_id: int | None,
        language_hint: str | None,
        preview: bool,
    ) -> Applied:
        """PostgreSQL: two statements on the asyncpg connection (see `storage.pg_apply`), read
        and written again when another transaction wrote the participant in between."""
        survey_id, bot_id, pg_key = self.survey.id, self.bot_id, _key(key)
        # A connection of the engine's pool, used as asyncpg's own: no transaction of
        # SQLAlchemy's is begun on it, so none is rolled back when it goes back to the pool.
        raw = await self.engine.raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        remembered = self._recent.get(pg_key)
        try:
            for _attempt in range(pg_apply.OPTIMISTIC_ATTEMPTS):
                known = None
                if remembered is not None and remembered.response_id is not None:
                    known = (remembered.response_id, remembered.version)
                found = await pg_apply.read(driver, pg_key, survey_id, bot_id, update_id, known)
                current = None
                if found.rows is None:
                    assert remembered is not None and found.head is not None
                    current = reuse(remembered, found.head)
                    if current is None:  # that version, but not as this process wrote it
                        found = await pg_apply.read(driver, pg_key, survey_id, bot_id, update_id)
                if current is None:
                    assert found.rows is not None
                    current = read_current(self.survey, found.rows, language_hint)
                if found.seen:
                    assert update_id is not None
                    return self._duplicate(key, update_id, current)
                plan = self._plan(key, current, step, clock, preview)
                if not plan.writes and update_id is None:
                    return self._applied(key, plan)
                try:
                    participant_id, response_id = await pg_apply.write(
                        driver, plan, current, pg_key, survey_id, bot_id, update_id
                    )
                except (pg_apply.Conflict, pg_apply.Duplicate):
                    remembered = None
                    continue
                except ReferenceConflict as conflict:
                    assert plan.state.reference is not None
                    raise ReferenceTaken(plan.state.reference) from conflict
                self._remember(
                    pg_key, remember(current, plan, pg_key, participant_id, response_id, plan.now)
                )
                return self._applied(key, plan)
        except ReferenceTaken:
            raise
        except BaseException as error:
            self._recent.pop(pg_key, None)
            # An error of the server leaves the connection usable (autocommit); anything else
            # (lost connection, cancelled mid-statement) may not: the pool must not reuse it.
            if not isinstance(error, asyncpg.PostgresError) or driver.is_closed():
                await greenlet_spawn(raw.invalidate, error)
            raise
        finally:
            await greenlet_spawn(raw.close)  # closing an overflow connection awaits
        # Others keep writing this participant (many taps at once): queue on their row's lock.
        log.info("%s: concurrent writes; applying under the participant's lock", key)

        def run(connection: Connection) -> tuple[Applied, Current | None]:
            ops = CoreOps(self._core, connection)
            return self._apply(ops, key, step, clock, update_id, language_hint, preview)

        self._recent.pop(pg_key, None)
        applied, _after = await self._runner.write(run, what=f"apply for {key}")
        return applied

    # -- participants ---------------------------------------------------------------------------

    async def erase(self, participant: ParticipantKey) -> bool:
        """Delete everything of this participant (every survey): answers, submitted versions,
        responses, deliveries and the participant. Processed update ids stay (they hold no
        personal data). Returns whether there was anything to erase."""

        def work(connection: Connection) -> int | None:
            _, lock, params = self._key_params(participant)
            found: int | None = connection.scalar(lock, params)
            if found is None:
                return None
            ids = select(responses.c.id).where(responses.c.participant_id == found)
            connection.execute(delete(answers).where(answers.c.response_id.in_(ids)))
            connection.execute(
                delete(response_versions).where(response_versions.c.response_id.in_(ids))
            )
            connection.execute(delete(responses).where(responses.c.participant_id == found))
            connection.execute(delete(deliveries).where(deliveries.c.participant_id == found))
            connection.execute(delete(link_starts).where(link_starts.c.participant_id == found))
            connection.execute(delete(participants).where(participants.c.id == found))
            return found

        self._recent.pop(_key(participant), None)
        erased = await self._runner.write(work, what=f"erase {participant}")
        if erased is None:
            log.info("erase %s: nothing stored", participant)
            return False
        log.info("erased participant %d (%s) and all their data", erased, participant)
        return True

    async def add_web_participants(
        self, web_keys: Sequence[str], language: str, *, now: datetime | None = None
    ) -> int:
        """Create web participants who have not started (invitations: one key per invitee).
        Returns how many were created."""
        if not web_keys:
            return 0
        at = now or utc_now()
        rows = [
            {
                "web_key": key,
                "channel": "web",
                "language": language,
                "blocked": False,
                "created_at": at,
            }
            for key in web_keys
        ]

        def work(connection: Connection) -> int:
            connection.execute(participants.insert(), rows)
            return len(rows)

        return await self._runner.write(work, what="add web participants")

    async def mark_blocked(
        self, telegram_id: int, blocked: bool, *, now: datetime | None = None
    ) -> bool:
        """Record that this user blocked the bot (Telegram answered 403), or no longer does.
        Returns whether the participant exists."""
        values = {"blocked": blocked, "blocked_at": (now or utc_now()) if blocked else None}

        def work(connection: Connection) -> int:
            result = connection.execute(
                update(participants).where(participants.c.telegram_id == telegram_id).values(values)
            )
            return result.rowcount

        count = await self._runner.write(work, what="mark blocked")
        if count:
            log.info(
                "telegram user %d marked %s", telegram_id, "blocked" if blocked else "unblocked"
            )
        return count > 0

    # -- settings -------------------------------------------------------------------------------

    async def get_setting(self, key: str) -> str | None:
        statement = select(settings.c.value).where(settings.c.key == key)
        value: str | None = await self._runner.read(lambda c: c.scalar(statement))
        return value

    async def setdefault_setting(self, key: str, value: str) -> str:
        """The stored value of `key`, storing `value` first if there is none (race-free: of two
        processes doing this at once, both get the value that won)."""

        def work(connection: Connection) -> str:
            connection.execute(
                self._insert(settings).on_conflict_do_nothing(), {"key": key, "value": value}
            )
            stored = connection.scalar(select(settings.c.value).where(settings.c.key == key))
            assert isinstance(stored, str)
            return stored

        return await self._runner.write(work, what=f"setting {key}")

    async def forget_processed_updates(self, before: datetime, *, batch: int = 5_000) -> int:
        """Delete the processed update ids recorded before `before` (Telegram redelivers an update
        within hours, not weeks); returns how many were deleted. Deletes `batch` rows per
        transaction, so that answers are never kept waiting long behind it."""
        pu = processed_updates
        oldest = select(pu.c.bot_id, pu.c.update_id).where(pu.c.processed_at < before).limit(batch)
        statement = delete(pu).where(tuple_(pu.c.bot_id, pu.c.update_id).in_(oldest))

        def work(connection: Connection) -> int:
            return connection.execute(statement).rowcount

        total = 0
        while True:
            deleted = await self._runner.write(work, what="forget processed updates")
            total += deleted
            if deleted < batch:
                return total
            await asyncio.sleep(0)  # let waiting answers in between batches

    # -- admin and export -----------------------------------------------------------------------

    async def counts_by_status(self) -> dict[str, int]:
        """Responses to this survey by status, every status present (0 if none)."""
        statement = (
            select(responses.c.status, func.count())
            .where(responses.c.survey_id == self.survey.id)
            .group_by(responses.c.status)
        )
        counts = dict.fromkeys(RESPONSE_STATUSES, 0)
        rows = await self._runner.read(lambda c: c.execute(statement).all())
        for status, count in rows:
            counts[status] = count
        return counts

    def _page_filter(self, statuses: list[str]) -> tuple[ColumnElement[bool], ...]:
        """Where a page of exported responses comes from: this survey, these statuses, ids after
        the bound parameter `after` (keyset pagination)."""
        r = responses
        return (
            r.c.survey_id == self.survey.id,
            r.c.status.in_(statuses),
            r.c.id > bindparam("after"),
        )

    async def stream_responses(
        self, batch_size: int = 1000, include_drafts: bool = False, include_preview: bool = False
    ) -> AsyncIterator[list[ResponseRow]]:
        """The survey's responses in batches, by increasing id (keyset pagination): memory stays
        flat however many there are. Each batch is read in its own short transaction."""
        statuses = _exported_statuses(include_drafts, include_preview)
        r, p = responses, participants
        page = (
            select(
                r.c.id,
                r.c.participant_id,
                p.c.telegram_id,
                p.c.preview_name,
                p.c.language,
                r.c.status,
                r.c.reference,
                r.c.started_at,
                r.c.submitted_at,
                r.c.updated_at,
                r.c.version,
                r.c.state,
                p.c.pseudonym,
                p.c.channel,
                p.c.web_key,
                invitation_links.c.source,
            )
            .join(p, p.c.id == r.c.participant_id)
            .outerjoin(invitation_links, invitation_links.c.id == p.c.link_id)
            .where(*self._page_filter(statuses))
            .order_by(r.c.id)
            .limit(batch_size)
        )
        # The value as its JSON text: decoded below, once per distinct value of the batch.
        answer_rows = _ANSWERS_IN_RANGE

        def batch(connection: Connection, *, after: int) -> list[ResponseRow]:
            rows = connection.execute(page, {"after": after}).all()
            if not rows:
                return []
            found: dict[int, dict[str, Answer]] = {row[0]: {} for row in rows}
            params = {"first": rows[0][0], "last": rows[-1][0]}
            decoded: dict[tuple[str, str | None], Answer] = {}
            for response_id, question_id, raw, other in connection.execute(
                answer_rows, params
            ).all():
                bucket = found.get(response_id)
                if bucket is None:
                    continue
                answer = decoded.get((raw, other))
                if answer is None:
                    answer = decoded[raw, other] = _answer(json.loads(raw), other)
                bucket[question_id] = answer
            return [
                ResponseRow(
                    id=row[0],
                    participant_id=row[1],
                    telegram_id=row[2],
                    preview_name=row[3],
                    language=row[4],
                    status=row[5],
                    reference=row[6],
                    started_at=row[7],
                    submitted_at=row[8],
                    updated_at=row[9],
                    version=row[10],
                    state_json=row[11],
                    answers=found[row[0]],
                    pseudonym=row[12],
                    channel=row[13],
                    web_key=row[14],
                    source=row[15],
                )
                for row in rows
            ]

        after = 0
        while True:
            found = await self._runner.read(partial(batch, after=after))
            if not found:
                return
            yield found
            after = found[-1].id

    async def submitted_versions(self, reference: str) -> ResponseHistory | None:
        """Every submitted version of the response with this receipt reference, oldest first;
        None if no response of this survey has it."""
        r, p, v = responses, participants, response_versions
        owner = (
            select(r.c.id, p.c.pseudonym, p.c.telegram_id, p.c.preview_name, p.c.web_key)
            .join(p, p.c.id == r.c.participant_id)
            .where(r.c.survey_id == self.survey.id, r.c.reference == reference)
        )
        listed = select(v.c.version_number, v.c.submitted_at, v.c.answers).where(
            v.c.response_id == bindparam("rid")
        )

        def read(connection: Connection) -> ResponseHistory | None:
            found = connection.execute(owner).first()
            if found is None:
                return None
            rows = connection.execute(listed.order_by(v.c.version_number), {"rid": found[0]})
            return ResponseHistory(
                found[1],
                (found[2], found[3], found[4]),
                [SubmittedVersion(row[0], row[1], row[2]) for row in rows],
            )

        return await self._runner.read(read)

    async def stream_answer_batches(
        self, batch_size: int = 2000, include_drafts: bool = False, include_preview: bool = False
    ) -> AsyncIterator[AnswerBatch]:
        """The survey's responses in batches as plain tuples, each value as its JSON text: what
        an export of 100,000 responses needs, without an `Answer` or a dict per answer."""
        statuses = _exported_statuses(include_drafts, include_preview)
        r, p = responses, participants
        page = (
            select(
                r.c.id,
                p.c.telegram_id,
                p.c.preview_name,
                r.c.status,
                r.c.reference,
                p.c.language,
                r.c.started_at,
                r.c.submitted_at,
                p.c.pseudonym,
                p.c.channel,
                p.c.web_key,
                invitation_links.c.source,
                select(func.max(response_versions.c.version_number))
                .where(response_versions.c.response_id == r.c.id)
                .scalar_subquery(),
            )
            .join(p, p.c.id == r.c.participant_id)
            .outerjoin(invitation_links, invitation_links.c.id == p.c.link_id)
            .where(*self._page_filter(statuses))
            .order_by(r.c.id)
            .limit(batch_size)
        )
        answer_rows = _ANSWERS_IN_RANGE
        sqlite_answers = (
            "SELECT response_id, question_id, CAST(value AS TEXT), other FROM answers"
            " WHERE response_id BETWEEN ? AND ? ORDER BY response_id, question_id"
        )

        def batch(connection: Connection, *, after: int) -> AnswerBatch | None:
            rows = [tuple(row) for row in connection.execute(page, {"after": after})]
            if not rows:
                return None
            first, last = rows[0][0], rows[-1][0]
            if self._sqlite:  # the driver's cursor: plain tuples, no Row objects
                cursor = connection.connection.cursor()
                try:
                    fetched = cursor.execute(sqlite_answers, (first, last)).fetchall()
                finally:
                    cursor.close()
            else:
                fetched = [
                    tuple(row)
                    for row in connection.execute(answer_rows, {"first": first, "last": last})
                ]
            return AnswerBatch(rows, fetched)

        after = 0
        while True:
            found = await self._runner.read(partial(batch, after=after))
            if found is None:
                return
            yield found
            after = found.responses[-1][0]

    async def bulk_insert_responses(
        self, rows: Iterable[NewResponse], *, batch_size: int = 1000
    ) -> int:
        """Insert complete responses of new participants fast (executemany, one transaction per
        batch). For benchmarks and synthetic data; the participants must not exist yet."""
        await self._ensure_registered()
        total = 0
        batch: list[NewResponse] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                total += await self._bulk_batch(batch)
                batch = []
        if batch:
            total += await self._bulk_batch(batch)
        log.info("bulk-inserted %d responses into survey %s", total, self.survey.id)
        return total

    async def _bulk_batch(self, batch: Sequence[NewResponse]) -> int:
        def work(connection: Connection) -> int:
            participant_ids = (
                (
                    connection.execute(
                        participants.insert().returning(
                            participants.c.id, sort_by_parameter_order=True
                        ),
                        [
                            {
                                "telegram_id": row.participant.telegram_id,
                                "preview_name": row.participant.preview_name,
                                "web_key": row.participant.web_key,
                                "channel": "web" if row.participant.web_key else "telegram",
                                "language": row.state.language,
                                "blocked": False,
                                "created_at": row.started_at,
                            }
                            for row in batch
                        ],
                    )
                )
                .scalars()
                .all()
            )
            response_ids = (
                (
                    connection.execute(
                        responses.insert().returning(responses.c.id, sort_by_parameter_order=True),
                        [
                            {
                                "participant_id": participant_id,
                                "survey_id": self.survey.id,
                                "status": row.status
                                or ("submitted" if row.state.phase is Phase.SUBMITTED else "draft"),
                                "reference": row.state.reference,
                                "state": _dumps(row.state.to_json()),
                                "started_at": row.started_at,
                                "submitted_at": row.state.submitted_at,
                                "updated_at": row.updated_at
                                or row.state.submitted_at
                                or row.started_at,
                                "version": 1,
                            }
                            for participant_id, row in zip(participant_ids, batch, strict=True)
                        ],
                    )
                )
                .scalars()
                .all()
            )
            answer_rows = [
                {
                    "response_id": response_id,
                    "question_id": qid,
                    "value": _value_to_json(answer),
                    "other": answer.other,
                    "answered_at": row.updated_at or row.state.submitted_at or row.started_at,
                }
                for response_id, row in zip(response_ids, batch, strict=True)
                for qid, answer in row.state.answers.items()
            ]
            if answer_rows:
                connection.execute(answers.insert(), answer_rows)
            return len(batch)

        return await self._runner.write(work, what="bulk insert")
