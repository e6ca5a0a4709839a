"""Fixtures of the admin tests: those of the end-to-end tests, and the background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.runner import Running
from bot.workers import WORKERS
from tests.e2e.conftest import api, clock, database_url, loaded, survey

__all__ = ["api", "clock", "database_url", "loaded", "survey", "workers"]

ADMIN = 42


@contextlib.asynccontextmanager
async def workers(running: Running) -> AsyncIterator[list[asyncio.Task[None]]]:
    """The background workers of `consultbot run` (delivery, reminders) beside the handlers."""
    tasks = [asyncio.create_task(worker(running.ctx, running.bot)) for worker in WORKERS]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast delivery and polling, so that tests take seconds."""
    monkeypatch.setenv("BROADCAST_RATE", "400")
    monkeypatch.setenv("BROADCAST_BACKOFF", "0.05")
    monkeypatch.setenv("REMINDER_POLL", "0.05")
    monkeypatch.setenv("UPDATE_IDS_TRIM_EVERY", "0.05")
    monkeypatch.setenv("ADMIN_PROGRESS_INTERVAL", "0.1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts bot processes (deselect with -m 'not slow')")
