"""Column types shared by the models and the migrations: timestamps that are always aware UTC.

Migrations import these types, so their DDL must never change: a new behaviour needs a new type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC, read back as an aware UTC datetime.

    PostgreSQL: `timestamp with time zone`. SQLite: `DATETIME`, stored as the naive UTC text
    `YYYY-MM-DD HH:MM:SS.ffffff` (sortable, and readable with the sqlite3 shell). Naive datetimes
    are refused when written: a naive time is a bug waiting for a daylight-saving change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(stored, datetime)
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)
