"""Fixtures of the admin tests: those of the end-to-end tests, and the background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.runner import Running
from bot.workers import WORKERS
from tests.e2e.conftest import api, clock, database_url, loaded, survey

__all__ = [
    "api",
    "clock",
    "database_url",
    "loaded",
    "survey",
    "wait_until",
    "worker_passes",
    "workers",
]

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


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 60
) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        await asyncio.sleep(0.01)


async def worker_passes(running: Running, worker: str, passes: int = 2) -> None:
    """Wait until the background `worker` has completed `passes` more passes (`ctx.passes`).
    Two: the pass under way when this is called may have read the clock before the test set it,
    the next one surely sees what the test did before calling."""
    target = running.ctx.passes[worker] + passes

    async def done() -> bool:
        return running.ctx.passes[worker] >= target

    await wait_until(done, f"{passes} passes of the {worker} worker")


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
