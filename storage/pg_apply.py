"""`Store.apply` on PostgreSQL in two round trips, with plain asyncpg on a pooled connection.

Through SQLAlchemy an answer cost BEGIN, the update id, the participant's lock, the read, the
writes and COMMIT, each a round trip through the greenlet layer (38% of the echo floor, p99 806
ms at 200 answers/s). Here, in autocommit, with asyncpg's prepared statement cache:

1. `read`: the participant ⟕ response, their answers aggregated into three arrays (one row,
   whatever the number of answers), and whether the update id was processed. The response's
   state and answers are left out when it is still the version this process wrote last
   (`Store` remembers it, `storage.plan.reuse`).
2. `write`: ONE data-modifying statement (a CTE) that writes everything `plan_write` decided
   and records the update id, atomically (one statement is one transaction).

Optimistic concurrency instead of a lock held across the two: every write of statement 2 hangs
on a guard row. For a known response the guard is the response whose `version` is still the one
read (an UPDATE … WHERE version = $v, or a SELECT … FOR UPDATE when the response itself does
not change), taken after the participant's row lock; for a participant without a response,
their row (FOR UPDATE); for a new participant,
the INSERT of their row. In READ COMMITTED a concurrent commit is re-checked against the guard's
WHERE, so when someone wrote in between the guard has no row, nothing is written, and the
caller reads again and runs the step again (a few times; then it takes the participant's lock,
see `Store._apply_pg`). A unique violation (a participant or a response
created meanwhile) is retried the same way; one on `processed_updates` means the update was
applied meanwhile (a duplicate), one on the response's reference is `ReferenceConflict`.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import asyncpg

from storage.apply_ops import ReferenceConflict
from storage.plan import Current, CurrentRow, Head, Key, WritePlan

OPTIMISTIC_ATTEMPTS = 3
"""Reads and writes of one `apply` when others write the same participant meanwhile; then
`Store.apply` queues on the participant's row lock, in one transaction through SQLAlchemy."""

_READ = """
SELECT p.id, p.telegram_id, p.preview_name, p.language, p.blocked, r.id, r.status, r.reference,
       CASE WHEN (r.id, r.version) IS NOT DISTINCT FROM ($5::int, $6::int) THEN NULL
            ELSE r.state END,
       r.submitted_at, r.version, ans.question_ids, ans.vals, ans.others,
       EXISTS (SELECT 1 FROM processed_updates AS u
               WHERE u.bot_id = $3::bigint AND u.update_id = $4::bigint),
       r.updated_at
FROM (SELECT 1) AS one
LEFT OUTER JOIN participants AS p ON p.{key} = $1
LEFT OUTER JOIN responses AS r ON r.participant_id = p.id AND r.survey_id = $2
LEFT OUTER JOIN LATERAL (
    SELECT array_agg(a.question_id) AS question_ids, array_agg(a.value::text) AS vals,
           array_agg(a.other) AS others
    FROM answers AS a
    WHERE a.response_id = r.id AND (r.id, r.version) IS DISTINCT FROM ($5::int, $6::int)
) AS ans ON true
"""
_READ_BY_TELEGRAM = _READ.format(key="telegram_id")
_READ_BY_PREVIEW = _READ.format(key="preview_name")
_READ_BY_WEB = _READ.format(key="web_key")

_UPDATE_CONSTRAINT = "pk_processed_updates"
_REFERENCE_CONSTRAINT = "uq_responses_reference"


class Conflict(Exception):
    """Someone wrote this participant's rows between the read and the write: nothing was
    written; read again."""


class Duplicate(Exception):
    """The update id was recorded meanwhile: nothing was written."""


class Read(NamedTuple):
    """What `read` found."""

    rows: list[CurrentRow] | None
    """The participant's rows (none: never seen); None when the response is still the version
    the caller remembers (its state and answers were not sent)."""
    seen: bool
    """Whether the update id was processed."""
    head: Head | None


async def read(
    connection: asyncpg.Connection[Any],
    key: Key,
    survey_id: str,
    bot_id: int,
    update_id: int | None,
    remembered: tuple[int, int] | None = None,
) -> Read:
    """The participant's rows and whether `update_id` was processed; without the response's
    state and answers when it is still the (id, version) `remembered`."""
    value: int | str | None
    if key.telegram_id is not None:
        statement, value = _READ_BY_TELEGRAM, key.telegram_id
    elif key.web_key is not None:
        statement, value = _READ_BY_WEB, key.web_key
    else:
        statement, value = _READ_BY_PREVIEW, key.preview_name
    known_id, known_version = remembered if remembered is not None else (None, None)
    record = await connection.fetchrow(
        statement, value, survey_id, bot_id, update_id, known_id, known_version
    )
    assert record is not None  # the outer row always exists
    seen = bool(record[14])
    if record[0] is None:
        return Read([], seen, None)
    stamp = record[15]
    head = Head(
        record[0],
        record[1],
        record[2],
        record[3],
        record[4],
        record[5],
        record[6],
        record[7],
        record[10],
        stamp,
    )
    if remembered is not None and record[5] == known_id and record[10] == known_version:
        return Read(None, seen, head)
    first = (*head[:8], record[8], record[9], record[10])
    question_ids: list[str] | None = record[11]
    if not question_ids:
        return Read([CurrentRow(*first, None, None, None, stamp)], seen, head)
    rows = [
        CurrentRow(*first, question_id, json.loads(text), other, stamp)
        for question_id, text, other in zip(question_ids, record[12], record[13], strict=True)
    ]
    return Read(rows, seen, head)


class _Params:
    """Numbered parameters, each with its type (asyncpg cannot always infer it), numbered as the
    statement uses them: a parameter the statement does not use has no type."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._named: dict[str, str] = {}

    def __call__(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"

    def once(self, name: str, value: Any, cast: str) -> str:
        """The same parameter wherever `name` is used."""
        if name not in self._named:
            self._named[name] = self(value, cast)
        return self._named[name]


def write_statement(
    plan: WritePlan,
    current: Current,
    key: Key,
    survey_id: str,
    bot_id: int,
    update_id: int | None,
) -> tuple[str, list[Any]]:
    """The one statement that writes `plan` (and records `update_id`), and its parameters.

    It answers one row: (rows of the guard: 1 written, 0 conflict; the response's id; the
    participant's)."""
    p = _Params()

    def now() -> str:
        return p.once("now", plan.now, "timestamptz")

    ctes: list[str] = []
    values = plan.values
    known = current.participant

    def response_columns() -> str:
        assert values is not None
        return (
            f"status = {p(values.status, 'varchar')}, reference = {p(values.reference, 'varchar')},"
            f" state = {p(values.state, 'text')},"
            f" submitted_at = {p(values.submitted_at, 'timestamptz')}, updated_at = {now()},"
            f" version = {p(values.version, 'int')}"
        )

    if known is None:
        ctes.append(
            "g AS (INSERT INTO participants (telegram_id, preview_name, web_key, channel,"
            f" language, blocked, created_at) VALUES ({p(key.telegram_id, 'bigint')},"
            f" {p(key.preview_name, 'varchar')}, {p(key.web_key, 'varchar')},"
            f" {p(key.channel, 'varchar')}, {p(plan.language, 'varchar')}, false, {now()})"
            " RETURNING id)"
        )
        participant = "(SELECT id FROM g)"
        response = None
    else:

        def set_participant() -> str:
            language = p(plan.language, "varchar")
            return f"language = {language}, blocked = false, blocked_at = NULL"

        if current.response_id is None:
            pid = p(known.id, "int")
            participant = pid
            if plan.participant == "update":
                ctes.append(
                    f"g AS (UPDATE participants SET {set_participant()} WHERE id = {pid}"
                    " RETURNING id)"
                )
            else:
                ctes.append(f"g AS (SELECT id FROM participants WHERE id = {pid} FOR UPDATE)")
            response = None
        else:
            participant = pid = p(known.id, "int")
            # The participant's row first, as the locked path takes it (`CoreOps`): a
            # transaction of that path is never overtaken between its read and its write.
            ctes.append(f"lk AS (SELECT id FROM participants WHERE id = {pid} FOR UPDATE)")
            rid, version = p(current.response_id, "int"), p(current.version, "int")
            if plan.response == "update":
                ctes.append(
                    f"g AS (UPDATE responses SET {response_columns()} WHERE id = {rid}"
                    f" AND version = {version} AND EXISTS (SELECT 1 FROM lk) RETURNING id)"
                )
            else:
                ctes.append(
                    f"g AS (SELECT id FROM responses WHERE id = {rid} AND version = {version}"
                    " AND EXISTS (SELECT 1 FROM lk) FOR UPDATE)"
                )
            response = "g"
            if plan.participant == "update":
                ctes.append(
                    f"pu AS (UPDATE participants SET {set_participant()}"
                    f" WHERE id = {pid} AND EXISTS (SELECT 1 FROM g))"
                )
    if plan.response == "insert":
        assert values is not None and response is None
        ctes.append(
            "r AS (INSERT INTO responses (participant_id, survey_id, status, reference, state,"
            f" started_at, submitted_at, updated_at, version) SELECT {participant},"
            f" {p(survey_id, 'varchar')}, {p(values.status, 'varchar')},"
            f" {p(values.reference, 'varchar')}, {p(values.state, 'text')}, {now()},"
            f" {p(values.submitted_at, 'timestamptz')}, {now()}, {p(values.version, 'int')}"
            " FROM g RETURNING id)"
        )
        response = "r"
    if response is not None:
        if plan.upserts:
            ctes.append(
                "a AS (INSERT INTO answers (response_id, question_id, value, other, answered_at)"
                f" SELECT {response}.id, u.q, u.v::jsonb, u.o, {now()} FROM {response},"
                f" unnest({p([row.question_id for row in plan.upserts], 'varchar[]')},"
                f" {p([json.dumps(row.value) for row in plan.upserts], 'text[]')},"
                f" {p([row.other for row in plan.upserts], 'text[]')}) AS u (q, v, o)"
                " ON CONFLICT (response_id, question_id) DO UPDATE SET value = excluded.value,"
                " other = excluded.other, answered_at = excluded.answered_at)"
            )
        if plan.deletes:
            ctes.append(
                f"d AS (DELETE FROM answers WHERE response_id IN (SELECT id FROM {response})"
                f" AND question_id = ANY({p(list(plan.deletes), 'varchar[]')}))"
            )
        if plan.snapshot is not None:
            ctes.append(
                "v AS (INSERT INTO response_versions (response_id, version_number, submitted_at,"
                f" reference, answers) SELECT s.id, COALESCE((SELECT max(version_number)"
                " FROM response_versions WHERE response_id = s.id), 0) + 1,"
                f" {now()}, {p(plan.state.reference, 'varchar')},"
                f" {p(json.dumps(plan.snapshot), 'text')}::jsonb FROM {response} AS s)"
            )
    if update_id is not None:
        ctes.append(
            "pu_id AS (INSERT INTO processed_updates (bot_id, update_id, processed_at)"
            f" SELECT {p(bot_id, 'bigint')}, {p(update_id, 'bigint')}, {now()} FROM g)"
        )
    found = f"(SELECT id FROM {response})" if response is not None else "NULL::int"
    sql = f"WITH {', '.join(ctes)} SELECT (SELECT count(*) FROM g), {found}, {participant}"
    return sql, p.values


async def write(
    connection: asyncpg.Connection[Any],
    plan: WritePlan,
    current: Current,
    key: Key,
    survey_id: str,
    bot_id: int,
    update_id: int | None,
) -> tuple[int, int | None]:
    """Write `plan` in one statement; the participant's id and the response's (None: none).

    Raises `Conflict` (read again), `Duplicate` or `ReferenceConflict`; nothing was written."""
    sql, params = write_statement(plan, current, key, survey_id, bot_id, update_id)
    try:
        record = await connection.fetchrow(sql, *params)
    except asyncpg.UniqueViolationError as error:
        constraint = error.constraint_name
        if constraint == _UPDATE_CONSTRAINT:
            raise Duplicate from error
        if constraint == _REFERENCE_CONSTRAINT and plan.state.reference is not None:
            raise ReferenceConflict from error
        raise Conflict from error
    except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError) as error:
        raise Conflict from error
    assert record is not None
    if not record[0]:
        raise Conflict
    response_id: int | None = record[1]
    participant_id: int = record[2]
    return participant_id, response_id
