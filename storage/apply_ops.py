"""The statements of `Store.apply`, in two implementations with one contract (`ApplyOps`).

- `CoreOps`: SQLAlchemy Core statements, built once (`CoreStatements`); PostgreSQL, in-memory
  SQLite, and every read outside the hot path.
- `SQLiteOps`: the same statements as plain SQL on the writer thread's own sqlite3 connection
  (`ThreadedSQLiteRunner.write_raw`). One answer costs about 0.1 ms this way, against 0.6 ms
  through SQLAlchemy's execution layer, and the sqlite3 module releases the GIL while SQLite
  works, so the event loop goes on meanwhile. It writes exactly what the Core statements write,
  in the format of the column types (`UTCDateTime` as naive UTC text with microseconds, JSON as
  `json.dumps` text, booleans as 0/1); a test compares the two byte for byte.

`storage.plan.plan_write` decides what to write; `execute_plan` writes it with these classes,
which only say how.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Select, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage.models import answers, participants, processed_updates, response_versions, responses
from storage.plan import AnswerRow, Current, CurrentRow, Head, Key, ResponseValues, WritePlan

__all__ = ["AnswerRow", "CurrentRow", "Key", "ResponseValues"]


class ReferenceConflict(Exception):
    """The response's receipt reference is already used by another response."""


class ApplyOps(Protocol):
    """What one `Store.apply` transaction executes."""

    def record_update(self, bot_id: int, update_id: int, at: datetime) -> bool:
        """Record a processed update id of bot `bot_id`; False if it was there already."""

    def lock_participant(self, key: Key, language: str, now: datetime) -> None:
        """PostgreSQL: lock the participant's row, created first if needed, until commit."""

    def current_rows(self, key: Key) -> Sequence[CurrentRow]: ...

    def insert_participant(self, key: Key, language: str, now: datetime) -> int: ...

    def update_participant(self, participant_id: int, language: str) -> None:
        """Set the language, and clear the blocked flag."""

    def insert_response(self, participant_id: int, survey_id: str, values: ResponseValues) -> int:
        """Raises `ReferenceConflict` when the reference is taken."""

    def update_response(self, response_id: int, values: ResponseValues) -> None:
        """Raises `ReferenceConflict` when the reference is taken."""

    def upsert_answers(self, response_id: int, rows: Sequence[AnswerRow], now: datetime) -> None:
        """The answers written (new or changed)."""

    def delete_answers(self, response_id: int, question_ids: Sequence[str]) -> None: ...

    def insert_version(
        self, response_id: int, at: datetime, reference: str | None, snapshot: dict[str, Any]
    ) -> int:
        """Keep a submitted version of the response, numbered after the last one; its number."""


def execute_plan(
    ops: ApplyOps, plan: WritePlan, key: Key, current: Current, survey_id: str
) -> tuple[int, int | None]:
    """Write what `plan` says, in the caller's transaction; the participant's id and the
    response's (None: none)."""
    now = plan.now
    known = current.participant
    if known is None:
        participant_id = ops.insert_participant(key, plan.language, now)
    else:
        participant_id = known.id
        if plan.participant == "update":
            ops.update_participant(participant_id, plan.language)
    response_id = current.response_id
    values = plan.values
    if plan.response == "insert":
        assert values is not None
        response_id = ops.insert_response(participant_id, survey_id, values)
    elif plan.response == "update":
        assert values is not None and response_id is not None
        ops.update_response(response_id, values)
    if response_id is None:
        return participant_id, None
    if plan.upserts:
        ops.upsert_answers(response_id, plan.upserts, now)
    if plan.deletes:
        ops.delete_answers(response_id, plan.deletes)
    if plan.snapshot is not None:
        ops.insert_version(response_id, now, plan.state.reference, plan.snapshot)
    return participant_id, response_id


# -- SQLAlchemy Core -------------------------------------------------------------------------------


class CoreStatements:
    """The Core statements of the hot path, built once per store."""

    def __init__(self, survey_id: str, *, sqlite: bool) -> None:
        p, r, a = participants, responses, answers
        insert = sqlite_insert if sqlite else pg_insert
        joined = p.outerjoin(
            r, and_(r.c.participant_id == p.c.id, r.c.survey_id == survey_id)
        ).outerjoin(a, a.c.response_id == r.c.id)
        current = select(
            p.c.id,
            p.c.telegram_id,
            p.c.preview_name,
            p.c.language,
            p.c.blocked,
            r.c.id.label("response_id"),
            r.c.status,
            r.c.reference,
            r.c.state,
            r.c.submitted_at,
            r.c.version,
            a.c.question_id,
            a.c.value,
            a.c.other,
        ).select_from(joined)
        self.current_by_telegram = current.where(p.c.telegram_id == bindparam("key"))
        self.current_by_preview = current.where(p.c.preview_name == bindparam("key"))
        self.current_by_web = current.where(p.c.web_key == bindparam("key"))
        lock = select(p.c.id).with_for_update()
        self.lock_by_telegram = lock.where(p.c.telegram_id == bindparam("key"))
        self.lock_by_preview = lock.where(p.c.preview_name == bindparam("key"))
        self.lock_by_web = lock.where(p.c.web_key == bindparam("key"))
        self.insert_update = insert(processed_updates).on_conflict_do_nothing()
        self.insert_participant = insert(p).on_conflict_do_nothing()
        self.insert_response = r.insert()
        self.update_response = update(r).where(r.c.id == bindparam("rid"))
        upsert = insert(a)
        self.upsert_answers = upsert.on_conflict_do_update(
            index_elements=[a.c.response_id, a.c.question_id],
            set_={
                "value": upsert.excluded.value,
                "other": upsert.excluded.other,
                "answered_at": upsert.excluded.answered_at,
            },
        )
        self.delete_answers = delete(a).where(
            a.c.response_id == bindparam("rid"),
            a.c.question_id.in_(bindparam("qids", expanding=True)),
        )
        self.update_participant = update(p).where(p.c.id == bindparam("pid"))
        v = response_versions
        self.last_version = select(func.coalesce(func.max(v.c.version_number), 0)).where(
            v.c.response_id == bindparam("rid")
        )
        self.insert_version = v.insert()

    def by_key(self, key: Key) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
        """The current-state select, the lock select and their parameters for a key."""
        if key.telegram_id is not None:
            return self.current_by_telegram, self.lock_by_telegram, {"key": key.telegram_id}
        if key.web_key is not None:
            return self.current_by_web, self.lock_by_web, {"key": key.web_key}
        return self.current_by_preview, self.lock_by_preview, {"key": key.preview_name}


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    new_id: int = key[0]
    return new_id


class CoreOps:
    def __init__(self, statements: CoreStatements, connection: Connection) -> None:
        self.s = statements
        self.connection = connection

    def record_update(self, bot_id: int, update_id: int, at: datetime) -> bool:
        inserted = self.connection.execute(
            self.s.insert_update, {"bot_id": bot_id, "update_id": update_id, "processed_at": at}
        )
        return bool(inserted.rowcount)

    def lock_participant(self, key: Key, language: str, now: datetime) -> None:
        _, lock, params = self.s.by_key(key)
        if self.connection.scalar(lock, params) is not None:
            return
        self.connection.execute(
            self.s.insert_participant,
            {
                "telegram_id": key.telegram_id,
                "preview_name": key.preview_name,
                "web_key": key.web_key,
                "channel": key.channel,
                "language": language,
                "blocked": False,
                "created_at": now,
            },
        )
        if self.connection.scalar(lock, params) is None:
            raise RuntimeError(f"participant {key} could not be created")

    def current_rows(self, key: Key) -> Sequence[CurrentRow]:
        statement, _, params = self.s.by_key(key)
        return [CurrentRow(*row) for row in self.connection.execute(statement, params)]

    def insert_participant(self, key: Key, language: str, now: datetime) -> int:
        inserted = self.connection.execute(
            participants.insert(),
            {
                "telegram_id": key.telegram_id,
                "preview_name": key.preview_name,
                "web_key": key.web_key,
                "channel": key.channel,
                "language": language,
                "blocked": False,
                "created_at": now,
            },
        )
        return _new_id(inserted)

    def update_participant(self, participant_id: int, language: str) -> None:
        self.connection.execute(
            self.s.update_participant,
            {"pid": participant_id, "language": language, "blocked": False, "blocked_at": None},
        )

    def insert_response(self, participant_id: int, survey_id: str, values: ResponseValues) -> int:
        row = {
            "participant_id": participant_id,
            "survey_id": survey_id,
            "status": values.status,
            "reference": values.reference,
            "state": values.state,
            "started_at": values.started_at,
            "submitted_at": values.submitted_at,
            "updated_at": values.updated_at,
            "version": values.version,
        }
        try:
            return _new_id(self.connection.execute(self.s.insert_response, row))
        except IntegrityError as error:
            if values.reference is not None and "reference" in str(error.orig):
                raise ReferenceConflict from error
            raise

    def update_response(self, response_id: int, values: ResponseValues) -> None:
        row = {
            "rid": response_id,
            "status": values.status,
            "reference": values.reference,
            "state": values.state,
            "submitted_at": values.submitted_at,
            "updated_at": values.updated_at,
            "version": values.version,
        }
        try:
            self.connection.execute(self.s.update_response, row)
        except IntegrityError as error:
            if values.reference is not None and "reference" in str(error.orig):
                raise ReferenceConflict from error
            raise

    def upsert_answers(self, response_id: int, rows: Sequence[AnswerRow], now: datetime) -> None:
        params = [
            {
                "response_id": response_id,
                "question_id": row.question_id,
                "value": row.value,
                "other": row.other,
                "answered_at": now,
            }
            for row in rows
        ]
        self.connection.execute(self.s.upsert_answers, params[0] if len(params) == 1 else params)

    def delete_answers(self, response_id: int, question_ids: Sequence[str]) -> None:
        self.connection.execute(
            self.s.delete_answers, {"rid": response_id, "qids": list(question_ids)}
        )

    def insert_version(
        self, response_id: int, at: datetime, reference: str | None, snapshot: dict[str, Any]
    ) -> int:
        number = int(self.connection.scalar(self.s.last_version, {"rid": response_id}) or 0) + 1
        self.connection.execute(
            self.s.insert_version,
            {
                "response_id": response_id,
                "version_number": number,
                "submitted_at": at,
                "reference": reference,
                "answers": snapshot,
            },
        )
        return number


# -- plain sqlite3 ---------------------------------------------------------------------------------


def sqlite_time(value: datetime) -> str:
    """An aware datetime as `UTCDateTime` stores it on SQLite: naive UTC, microseconds always."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def from_sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def from_sqlite_json(value: Any) -> Any:
    """A JSON column's value: text to decode, or a number SQLite's NUMERIC affinity kept as one."""
    return json.loads(value) if isinstance(value, str) else value


_CURRENT = """
SELECT p.id, p.telegram_id, p.preview_name, p.language, p.blocked, r.id, r.status, r.reference,
       r.state, r.submitted_at, r.version, a.question_id, a.value, a.other, r.updated_at
FROM participants AS p
LEFT OUTER JOIN responses AS r ON r.participant_id = p.id AND r.survey_id = ?
LEFT OUTER JOIN answers AS a ON a.response_id = r.id
WHERE p.{key} = ?
"""
_ByKey = tuple[str, str, str]
"""A select by telegram_id, by web_key, by preview_name."""


def _by_keys(select: str) -> _ByKey:
    return (
        select.format(key="telegram_id"),
        select.format(key="web_key"),
        select.format(key="preview_name"),
    )


_CURRENT_BY = _by_keys(_CURRENT)
_HEAD = """
SELECT p.id, p.telegram_id, p.preview_name, p.language, p.blocked, r.id, r.status, r.reference,
       r.version, r.updated_at
FROM participants AS p
LEFT OUTER JOIN responses AS r ON r.participant_id = p.id AND r.survey_id = ?
WHERE p.{key} = ?
"""
_HEAD_BY = _by_keys(_HEAD)
_INSERT_UPDATE = (
    "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_INSERT_PARTICIPANT = (
    "INSERT INTO participants (telegram_id, preview_name, web_key, channel, language, blocked, "
    "created_at) VALUES (?, ?, ?, ?, ?, 0, ?)"
)
_UPDATE_PARTICIPANT = (
    "UPDATE participants SET language = ?, blocked = 0, blocked_at = NULL WHERE id = ?"
)
_INSERT_RESPONSE = (
    "INSERT INTO responses (participant_id, survey_id, status, reference, state, started_at, "
    "submitted_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RESPONSE = (
    "UPDATE responses SET status = ?, reference = ?, state = ?, submitted_at = ?, updated_at = ?, "
    "version = ? WHERE id = ?"
)
_UPSERT_ANSWER = (
    "INSERT INTO answers (response_id, question_id, value, other, answered_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (response_id, question_id) DO UPDATE SET "
    "value = excluded.value, other = excluded.other, answered_at = excluded.answered_at"
)

_LAST_VERSION = (
    "SELECT COALESCE(MAX(version_number), 0) FROM response_versions WHERE response_id = ?"
)
_INSERT_VERSION = (
    "INSERT INTO response_versions (response_id, version_number, submitted_at, reference, "
    "answers) VALUES (?, ?, ?, ?, ?)"
)


def _is_reference_conflict(error: sqlite3.IntegrityError, reference: str | None) -> bool:
    return reference is not None and "responses.reference" in str(error)


class SQLiteOps:
    def __init__(self, connection: sqlite3.Connection, survey_id: str) -> None:
        self.connection = connection
        self.survey_id = survey_id
        self._time: tuple[datetime | None, str] = (None, "")

    def time(self, value: datetime) -> str:
        """`sqlite_time(value)`: a transaction writes the same moment several times."""
        last, text = self._time
        if value is not last:
            text = sqlite_time(value)
            self._time = (value, text)
        return text

    def record_update(self, bot_id: int, update_id: int, at: datetime) -> bool:
        cursor = self.connection.execute(_INSERT_UPDATE, (bot_id, update_id, self.time(at)))
        return cursor.rowcount > 0

    def lock_participant(self, key: Key, language: str, now: datetime) -> None:
        """Nothing to do: the transaction began with BEGIN IMMEDIATE, the database's write lock."""

    def _by_key(self, statements: _ByKey, key: Key) -> sqlite3.Cursor:
        """One of a select's three forms, the one for the kind of key, executed."""
        if key.telegram_id is not None:
            return self.connection.execute(statements[0], (self.survey_id, key.telegram_id))
        if key.web_key is not None:
            return self.connection.execute(statements[1], (self.survey_id, key.web_key))
        return self.connection.execute(statements[2], (self.survey_id, key.preview_name))

    def current_rows(self, key: Key) -> Sequence[CurrentRow]:
        rows = self._by_key(_CURRENT_BY, key)
        return [
            CurrentRow(
                row[0],
                row[1],
                row[2],
                row[3],
                bool(row[4]),
                row[5],
                row[6],
                row[7],
                row[8],
                from_sqlite_time(row[9]),
                row[10],
                row[11],
                None if row[11] is None else from_sqlite_json(row[12]),
                row[13],
                row[14],
            )
            for row in rows
        ]

    def head(self, key: Key) -> Head | None:
        """The participant ⟕ response without state and answers (None: never seen)."""
        row = self._by_key(_HEAD_BY, key).fetchone()
        return None if row is None else Head(*row)

    def insert_participant(self, key: Key, language: str, now: datetime) -> int:
        cursor = self.connection.execute(
            _INSERT_PARTICIPANT,
            (
                key.telegram_id,
                key.preview_name,
                key.web_key,
                key.channel,
                language,
                self.time(now),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def update_participant(self, participant_id: int, language: str) -> None:
        self.connection.execute(_UPDATE_PARTICIPANT, (language, participant_id))

    def insert_response(self, participant_id: int, survey_id: str, values: ResponseValues) -> int:
        submitted_at = values.submitted_at
        try:
            cursor = self.connection.execute(
                _INSERT_RESPONSE,
                (
                    participant_id,
                    survey_id,
                    values.status,
                    values.reference,
                    values.state,
                    self.time(values.started_at),
                    None if submitted_at is None else self.time(submitted_at),
                    self.time(values.updated_at),
                    values.version,
                ),
            )
        except sqlite3.IntegrityError as error:
            if _is_reference_conflict(error, values.reference):
                raise ReferenceConflict from error
            raise
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def update_response(self, response_id: int, values: ResponseValues) -> None:
        submitted_at = values.submitted_at
        try:
            self.connection.execute(
                _UPDATE_RESPONSE,
                (
                    values.status,
                    values.reference,
                    values.state,
                    None if submitted_at is None else self.time(submitted_at),
                    self.time(values.updated_at),
                    values.version,
                    response_id,
                ),
            )
        except sqlite3.IntegrityError as error:
            if _is_reference_conflict(error, values.reference):
                raise ReferenceConflict from error
            raise

    def upsert_answers(self, response_id: int, rows: Sequence[AnswerRow], now: datetime) -> None:
        at = self.time(now)
        self.connection.executemany(
            _UPSERT_ANSWER,
            [(response_id, row.question_id, json.dumps(row.value), row.other, at) for row in rows],
        )

    def delete_answers(self, response_id: int, question_ids: Sequence[str]) -> None:
        marks = ", ".join("?" * len(question_ids))
        self.connection.execute(
            f"DELETE FROM answers WHERE response_id = ? AND question_id IN ({marks})",
            (response_id, *question_ids),
        )

    def insert_version(
        self, response_id: int, at: datetime, reference: str | None, snapshot: dict[str, Any]
    ) -> int:
        (last,) = self.connection.execute(_LAST_VERSION, (response_id,)).fetchone() or (0,)
        number = int(last or 0) + 1
        self.connection.execute(
            _INSERT_VERSION,
            (response_id, number, self.time(at), reference, json.dumps(snapshot)),
        )
        return number
