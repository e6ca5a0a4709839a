"""Fixtures of the end-to-end tests: the local Bot API server, a database, the bot's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import DEFAULT_SURVEY
from bot.runner import Running
from bot.survey_file import LoadedSurvey, load_survey_file
from dialogs import Survey
from tests.e2e.harness import INSIDE_WINDOW, ManualClock, RecordingBotAPI, polling_bot
from tests.sqlite_template import migrated_sqlite


@pytest.fixture
async def api() -> AsyncIterator[RecordingBotAPI]:
    server = RecordingBotAPI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """A SQLite file already at the latest revision, as the bot's first start leaves a new one
    (a copy: tests/deploy checks that first start, on a file that does not exist yet)."""
    return await migrated_sqlite(tmp_path / "consultbot.db")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(INSIDE_WINDOW)


@pytest.fixture(scope="session")
def loaded() -> LoadedSurvey:
    return load_survey_file(DEFAULT_SURVEY)


@pytest.fixture
def survey(loaded: LoadedSurvey) -> Survey:
    return loaded.survey


@pytest.fixture
async def running(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> AsyncIterator[Running]:
    """The bot in this process, long-polling the local server, on the test's clock."""
    async with polling_bot(api, database_url, clock) as bot:
        yield bot


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts bot processes (deselect with -m 'not slow')")
