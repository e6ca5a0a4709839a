"""Clocks passed to the channels (the bot, the web): the system clock, or a rehearsal clock that
starts at a chosen instant and runs at real speed (`CONSULTBOT_NOW`), for demos and end-to-end
tests of a window that is not the present one."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class RehearsalClock:
    """Reads `start` at creation and advances with the monotonic clock from there."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the rehearsal start time needs a UTC offset, e.g. +01:00")
        self.start = start
        self.origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


def clock_from_env(value: str | None) -> Clock:
    if not value:
        return system_clock
    return RehearsalClock(datetime.fromisoformat(value))
