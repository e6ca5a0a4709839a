"""Persistence: SQLAlchemy 2 async models, the repository the bot calls, Alembic migrations.

- `storage.database`: `Database(url)`, opened once per entry point and passed to the stores: the
  engine for SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL (asyncpg), its writer and checkpointer
  threads, transactions retried on transient errors.
- `storage.schema`: `upgrade`, `downgrade`, `current_revision`, `ensure_schema`.
- `storage.repository`: `Store` (load, apply, erase, admin and export helpers).
- `storage.plan`: what `Store.apply` writes, decided without a database (`plan_write`);
  `storage.apply_ops` and `storage.pg_apply`: how it is written.
- `storage.models`: the tables; `storage.types`: aware UTC timestamps.

Depends on `dialogs` only, never on `bot` or aiogram.
"""
