"""Wiring of the terminal preview: the survey, the state store and the terminal session."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from bot.survey_file import LoadedSurvey
from bot.terminal import TerminalSession
from dialogs.engine import Result, new_state
from dialogs.state import State


async def _read_line() -> str | None:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


async def run_preview(
    loaded: LoadedSurvey,
    settings: Settings,
    *,
    name: str,
    language: str | None,
    fresh: bool,
    memory: bool,
    clock: Callable[[], datetime],
) -> int:
    survey = loaded.survey
    state = new_state(survey, language)

    async def apply(step: Callable[[State], Result]) -> Result:
        nonlocal state
        result = step(state)
        state = result.state
        return result

    session = TerminalSession(survey, apply, clock, sys.stdout, state.language)
    await session.run(_read_line)
    return 0
