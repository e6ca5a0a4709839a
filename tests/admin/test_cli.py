"""`consultbot stats` and `consultbot broadcast`, run as the operator runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.clock import system_clock
from bot.config import DEFAULT_SURVEY
from bot.survey_file import LoadedSurvey
from tests.admin.population import populate
from tests.e2e.harness import RecordingBotAPI, open_store

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def consultbot(
    api: RecordingBotAPI,
    database_url: str,
    *args: str,
    stdin: bytes = b"",
    extra: Mapping[str, str] | None = None,
) -> tuple[int, str, str]:
    """`consultbot ARGS` as a process on the local server and `database_url` (`extra`: more
    environment variables); its exit code, standard output and standard error."""
    env = {
        **os.environ,
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "SURVEY_FILE": str(DEFAULT_SURVEY),
        "LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_stats_and_broadcast(
    api: RecordingBotAPI, database_url: str, loaded: LoadedSurvey
) -> None:
    async with open_store(database_url, loaded) as store:
        group = await populate(store, not_started=5, in_progress=4, submitted=3, now=system_clock())
    code, out, _ = await consultbot(api, database_url, "stats")
    assert code == 0
    assert "Envoyées : 3" in out and "En cours : 4" in out and "Pas commencé : 5" in out
    assert "Q1" in out

    code, out, err = await consultbot(
        api, database_url, "broadcast", "--segment", "in-progress", "--text", "Hé", stdin=b"n\n"
    )
    assert code == 1 and "cancelled" in out
    assert "4 participants" in err
    assert api.calls("sendMessage") == []

    api.block(group.submitted[0])
    code, out, _ = await consultbot(
        api,
        database_url,
        "broadcast",
        "--segment",
        "submitted",
        "--text",
        "Merci <3",
        "--yes",
        "--rate",
        "50",
    )
    assert code == 0, out
    assert "2 sent, 1 blocked the bot, 0 failed" in out
    for chat in group.submitted[1:]:
        assert [m.text for m in api.transcript(chat)] == ["Merci <3"]
