"""The database schema, as SQLAlchemy Core tables (the repositories use Core statements).

Every timestamp is an aware UTC datetime (`UTCDateTime`). The schema itself changes only through
the Alembic migrations in `storage/migrations/`; a test checks that these tables and the migrated
database agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RESPONSE_STATUSES = ("draft", "submitted", "preview")
BROADCAST_STATUSES = ("pending", "running", "done", "cancelled")
DELIVERY_STATUSES = ("pending", "sent", "blocked", "failed")

JSONValue = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: `jsonb` on PostgreSQL; on SQLite the JSON text, in a column of NUMERIC
affinity (declared `JSON`), so that a bare number is kept as an INTEGER or REAL (`3.0` as 3):
the same value once decoded. `CAST(value AS TEXT)` gives valid JSON text on both."""

UpdateId = BigInteger().with_variant(Integer(), "sqlite")
"""Telegram update ids are 64-bit; on SQLite an INTEGER primary key is the rowid (64-bit too)."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


PARTICIPANT_KEY_CHECK = (
    "(anonymised_at IS NULL AND (CASE WHEN telegram_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN preview_name IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN web_key IS NULL THEN 0 ELSE 1 END) = 1)"
    " OR (anonymised_at IS NOT NULL AND telegram_id IS NULL AND preview_name IS NULL"
    " AND web_key IS NULL AND pseudonym IS NOT NULL)"
)
"""A participant is a Telegram user, a named terminal preview or a web participant (`web_key`),
exactly one of them; once anonymised, none (but keeps their pseudonym)."""

CHANNELS = ("telegram", "web")
"""Where a participant answers: `participants.channel`. Terminal previews count as `telegram`
(the terminal previews the Telegram dialogue)."""

surveys = Table(
    "surveys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("file_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("loaded_at", UTCDateTime(), nullable=False),
)

participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("telegram_id", BigInteger, nullable=True, unique=True),
    Column("preview_name", String(64), nullable=True, unique=True),
    Column("language", String(16), nullable=False),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    Column("blocked_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("anonymised_at", UTCDateTime(), nullable=True),
    Column("pseudonym", String(16), nullable=True),
    Column("channel", String(16), nullable=False, server_default=text("'telegram'")),
    Column("web_key", String(64), nullable=True, unique=True),
    Column(
        "link_id",
        Integer,
        ForeignKey("invitation_links.id", ondelete="SET NULL"),
        nullable=True,
    ),
    CheckConstraint(PARTICIPANT_KEY_CHECK, name="one_key"),
    CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
)
"""Someone who talked to the bot (`telegram_id`) or a named terminal preview (`preview_name`).
Once anonymised (`storage.retention`), neither: `anonymised_at` says when, and `pseudonym` keeps
the export's pseudonym, computed from the Telegram id before it was removed. A web participant
(`channel` = `web`) is known by `web_key`, the random id their cookie and resume link carry.
`link_id` is the first invitation link they started with (their source; `storage.links`)."""

invitation_links = Table(
    "invitation_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("survey_id", String(64), ForeignKey("surveys.id"), nullable=False),
    Column("code", String(64), nullable=False, unique=True),
    Column("source", String(100), nullable=False),
    Column("label", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "survey_id", "source"),
)
"""An invitation link: `https://t.me/<bot>?start=<code>` spread through one source (a pôle, a
region, a newsletter: `pole:aerospace-valley`)."""

link_starts = Table(
    "link_starts",
    metadata,
    Column(
        "link_id",
        Integer,
        ForeignKey("invitation_links.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "participant_id",
        Integer,
        ForeignKey("participants.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("started_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("link_id", "participant_id"),
    Index(None, "participant_id"),
)
"""Every link a participant opened (once per link): the first one is their source
(`participants.link_id`), the later ones are counted."""

responses = Table(
    "responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "participant_id",
        Integer,
        ForeignKey("participants.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("survey_id", String(64), ForeignKey("surveys.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reference", String(32), nullable=True, unique=True),
    Column("state", Text, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("participant_id", "survey_id"),
    CheckConstraint(_one_of("status", RESPONSE_STATUSES), name="status"),
    Index(None, "survey_id", "status"),
)
"""One participant's response to one survey. `state` is `State.to_json()` (answers excluded);
`version` counts the writes that changed the response."""

answers = Table(
    "answers",
    metadata,
    Column(
        "response_id",
        Integer,
        ForeignKey("responses.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("question_id", String(64), nullable=False),
    Column("value", JSONValue, nullable=False),
    Column("other", Text, nullable=True),
    Column("answered_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("response_id", "question_id"),
)
"""One row per answered question; `value` is JSON `null` for a skipped optional question."""

response_versions = Table(
    "response_versions",
    metadata,
    Column(
        "response_id",
        Integer,
        ForeignKey("responses.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version_number", Integer, nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("reference", String(32), nullable=True),
    Column("answers", JSONValue, nullable=False),
    PrimaryKeyConstraint("response_id", "version_number"),
)
"""Each submission of a response (the first, then each re-submission after an amend), numbered
1, 2, ...: `answers` is a snapshot `{question_id: {"value": ..., "other": ...}}` of the answers
submitted. The `answers` table keeps only the latest."""

processed_updates = Table(
    "processed_updates",
    metadata,
    Column("update_id", UpdateId, nullable=False, autoincrement=False),
    Column("processed_at", UTCDateTime(), nullable=False),
    Column("bot_id", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("bot_id", "update_id"),
)
"""Telegram update ids already handled, per bot (the numeric part of its token: update ids are
numbered per bot, so a database reused with another token must not take its ids for redeliveries):
a redelivered update is recognised and not applied twice. No personal data: erasing a participant
leaves these rows."""

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("survey_id", String(64), ForeignKey("surveys.id"), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("created_by", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("reminder_id", String(64), nullable=True),
    Column("target_where", Text, nullable=True),
    Column("target_source", String(100), nullable=True),
    Column("document", Text, nullable=True),
    UniqueConstraint("survey_id", "reminder_id"),
    CheckConstraint(_one_of("status", BROADCAST_STATUSES), name="status"),
)
"""A message to a segment. A scheduled reminder is a broadcast with its `reminder_id`: the unique
(survey_id, reminder_id) makes "send each reminder once" a constraint, not a hope.
`target_where` (a condition over answers) and `target_source` (an invitation source) narrow the
segment; they are kept for the record: the recipients are fixed when the broadcast is created.
`document`: the path of a file (PDF, HTML) sent with `text` as its caption."""

deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "broadcast_id",
        Integer,
        ForeignKey("broadcasts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "participant_id",
        Integer,
        ForeignKey("participants.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("message_id", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("broadcast_id", "participant_id"),
    CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
    Index(None, "broadcast_id", "status"),
    Index(None, "participant_id"),
)
"""One row per recipient of a broadcast: the queue the delivery worker drains."""
