"""Schema migrations (Alembic) driven from code: no alembic.ini, no dependency on the cwd.

- `upgrade(url)` / `downgrade(url, revision)`: what `consultbot db upgrade` runs.
- `ensure_schema(url)`: what the bot runs at start. An embedded SQLite file is upgraded in place;
  a PostgreSQL database that is not at the latest revision is refused with `SchemaOutOfDate`,
  whose message says what to run (several bot processes must not race to migrate a shared
  server, and its operator decides when the schema changes).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from storage.database import create_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "consultbot db upgrade"
MIGRATION_LOCK = 0x636F6E73756C74  # "consult": the advisory lock key of migrations


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of consultbot expects."""


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # Alembic's option values go through ConfigParser interpolation: escape the % of a URL.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration found"
    return head


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _run_command(url: str, run: str, revision: str) -> None:
    # Foreign keys off on SQLite while migrating: rebuilding a table (batch mode) drops the old
    # one, and with foreign keys on that DROP would cascade into the child tables.
    engine = create_engine(url, foreign_keys=False)
    config = alembic_config(url)

    def work(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if run == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")

    try:
        async with engine.begin() as connection:
            # One migration at a time: SQLite's BEGIN IMMEDIATE already holds the write lock;
            # on PostgreSQL a transaction-scoped advisory lock serialises two `db upgrade`s.
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            before = await connection.run_sync(_current)
            await connection.run_sync(work)
            after = await connection.run_sync(_current)
    finally:
        await engine.dispose()
    if before != after:
        log.info("database %s: %s from %s to %s", _redacted(url), run, before, after)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision` (by default the latest)."""
    await _run_command(url, "upgrade", revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision` (`base` removes every table)."""
    await _run_command(url, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(url: str) -> str | None:
    """The database's revision, or None for a database that was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


async def ensure_schema(url: str) -> None:
    """Make sure the schema is current before the bot starts (see the module's docstring)."""
    head = head_revision()
    current = await current_revision(url)
    if current == head:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaOutOfDate(
            f"the database {_redacted(url)} is at revision {current}, which this version of "
            f"consultbot does not know (its latest is {head}): the database was migrated by a "
            "newer version; run that version, or downgrade the database with it first"
        )
    if make_url(url).get_backend_name() == "sqlite":
        log.info("upgrading the SQLite database %s from %s to %s", _redacted(url), current, head)
        await upgrade(url)
        return
    raise SchemaOutOfDate(
        f"the database schema of {_redacted(url)} is at revision {current or 'none (empty)'}, "
        f"this version of consultbot needs {head}: run `{UPGRADE_COMMAND}` "
        "(with the same DATABASE_URL), then start the bot again"
    )
