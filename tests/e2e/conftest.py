"""Fixtures of the end-to-end tests: the local Bot API server, a database, the bot's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import DEFAULT_SURVEY
from bot.survey_file import LoadedSurvey, load_survey_file
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import INSIDE_WINDOW, ManualClock


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    server = FakeBotAPI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'consultbot.db'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(INSIDE_WINDOW)


@pytest.fixture(scope="session")
def loaded() -> LoadedSurvey:
    return load_survey_file(DEFAULT_SURVEY)
