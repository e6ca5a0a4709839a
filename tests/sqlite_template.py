"""A SQLite file migrated to the latest revision, built once per test process (once per xdist
worker) and copied for each test that needs a migrated database: a copy takes well under a
millisecond, running the migrations about 0.2 s. Tests of the migrations themselves start from an
empty file instead."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from pathlib import Path

from storage.schema import upgrade

_template: Path | None = None


async def migrated_sqlite(path: Path) -> str:
    """A copy of the migrated template at `path` (its folder created, both private); returns
    its URL."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="consultbot-template-"))
        atexit.register(shutil.rmtree, folder, True)
        built = folder / "migrated.db"
        await upgrade(f"sqlite+aiosqlite:///{built}")
        # Everything in the main file, so that copying that file alone copies the database.
        with contextlib.closing(sqlite3.connect(built)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert not built.with_name(built.name + "-wal").exists()
        _template = built
    _copy(_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _copy(template: Path, path: Path) -> None:
    # Private, as the bot makes a database file and its folder (storage.database).
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    path.chmod(0o600)
