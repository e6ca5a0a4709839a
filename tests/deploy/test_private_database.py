"""The SQLite database holds personal data: whichever command creates it (`consultbot run`,
`consultbot try`, `consultbot db upgrade`), the file and its -wal/-shm are 0600 and a folder
created for it is 0700, under the usual umask 022 — and the image's /data is 0700 too."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import BotProcess, RecordingBotAPI

ROOT = Path(__file__).resolve().parents[2]


def consultbot() -> list[str]:
    script = Path(sys.executable).parent / "consultbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def modes(*paths: Path) -> dict[str, str]:
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in paths if p.exists()}


def assert_private(database: Path, created: Path) -> dict[str, str]:
    """`database` and its companions 0600; every folder from `created` down to it 0700."""
    files = [database, *(Path(f"{database}{s}") for s in ("-wal", "-shm", "-journal"))]
    found = modes(*files)
    assert database.name in found
    assert found == {name: oct(0o600) for name in found}
    folder = database.parent
    folders = []
    while True:
        folders.append(folder)
        if folder == created:
            break
        folder = folder.parent
    assert modes(*folders) == {f.name: oct(0o700) for f in folders}
    return found


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SURVEY_FILE", "BOT_TOKEN")}
    return env | {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "PYTHONIOENCODING": "utf-8"}


def test_db_upgrade_creates_a_private_database(tmp_path: Path, usual_umask: None) -> None:
    database = tmp_path / "new" / "deeper" / "consultbot.db"
    url = f"sqlite+aiosqlite:///{database}"
    done = subprocess.run(
        [*consultbot(), "db", "upgrade"],
        cwd=tmp_path,
        env=env_for(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_private(database, tmp_path / "new")


def test_an_existing_database_open_to_others_is_reported(tmp_path: Path) -> None:
    database = tmp_path / "consultbot.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    done = subprocess.run(
        [*consultbot(), "db", "upgrade"],
        cwd=tmp_path,
        env=env_for(f"sqlite+aiosqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "chmod 600" in line]
    assert len(warnings) == 1, done.stderr
    assert str(database) in warnings[0] and "0o644" in warnings[0]


def test_try_creates_a_private_database(tmp_path: Path, usual_umask: None) -> None:
    database = tmp_path / "data" / "consultbot.db"
    done = subprocess.run(
        [*consultbot(), "try", "--as", "alice"],
        input="1\n",
        cwd=tmp_path,
        env=env_for(f"sqlite+aiosqlite:///{database}"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_private(database, tmp_path / "data")


async def test_the_running_bot_creates_a_private_database(
    api: RecordingBotAPI, tmp_path: Path, usual_umask: None
) -> None:
    database = tmp_path / "data" / "consultbot.db"
    process = BotProcess(api, f"sqlite+aiosqlite:///{database}")
    process.start()
    try:
        await process.wait_polling(timeout=90)  # a slow start on a busy machine
        found = assert_private(database, tmp_path / "data")
        assert f"{database.name}-wal" in found  # WAL mode: the companions exist while it runs
        assert await process.terminate(timeout=60) == 0
    finally:
        process.stop()


def test_the_image_makes_data_private_to_the_app_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    final = dockerfile.split("FROM python:3.11-slim\n")[1]
    assert re.search(r"install -d -m 0?700 -o consultbot -g consultbot /data\b", final), final
    assert "USER 10001:10001" in final
    assert 'VOLUME ["/data"]' in final
