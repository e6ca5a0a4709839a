"""Long polling that confirms an update to Telegram only once it has been handled.

aiogram's own polling confirms a batch (the next getUpdates carries `offset` = its last id + 1) as
soon as it has *started* handling it: a process killed at that moment loses every update still
being handled. Here the offset sent with each getUpdates is the lowest update id still in flight
(one past the highest seen when none is), so an update is confirmed only after its handler has
finished: its transaction committed, its reply sent. A process killed mid-way gets its unfinished
updates again after a restart; those whose transaction had committed are recognised by the
database (`processed_updates`) and not applied twice.

Updates are handled concurrently, one task each, as aiogram does (one participant's updates are
kept in order by the handlers' per-participant locks). While some are still running, getUpdates
hands the same unconfirmed updates back at once (it cannot wait for new ones): the poller drops
the ids it knows before they are validated (`bot.session.GetUpdatesSkipping`) and, when nothing
new came, asks again when one finishes or after `BUSY_INTERVAL` (0.2 s), whichever comes first:
it never spins, and a slow update delays the fetching of new ones by at most that interval. An
update whose handler fails is finished too (the participant was told); only a cancelled one
stays unconfirmed.

A 409 Conflict (another process polls with the same token, or a webhook was set) stops the poller
with `PollingConflict`; network, server and other API errors are retried with backoff (1 s to
30 s), one log line each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.session import GetUpdatesSkipping

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
BUSY_INTERVAL = 0.2


class PollingConflict(RuntimeError):
    """Telegram answered getUpdates with 409 Conflict: another process is polling with this
    token (or a webhook is set). Two pollers would steal each other's updates."""


class Poller:
    """Long-poll `bot` and feed each update to `dispatcher` (see the module's docstring)."""

    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        *,
        timeout: int = 10,
        limit: int = 100,
        allowed_updates: list[str] | None = None,
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.limit = limit
        self.allowed_updates = allowed_updates
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._done: set[int] = set()
        """Finished updates not confirmed yet (a lower one is still in flight)."""
        self._highest: int | None = None
        self._sent: int | None = None
        """The offset of the last getUpdates answered."""
        self._progress = asyncio.Event()
        self._stopping = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return sum(1 for task in self._in_flight.values() if not task.done())

    def offset(self) -> int | None:
        """What the next getUpdates confirms: every update below the lowest one in flight."""
        if self._in_flight:
            return min(self._in_flight)
        if self._highest is None:
            return None
        return self._highest + 1

    def stop(self) -> None:
        """Take no new update; `run` returns (the updates in flight go on: see `finish`)."""
        self._stopping.set()

    async def run(self) -> None:
        """Poll until `stop()`. Raises `PollingConflict` on a 409 answer."""
        failures = 0
        while not self._stopping.is_set():
            offset = self.offset()
            if offset is not None:
                self._done = {i for i in self._done if i >= offset}
            self._progress.clear()
            try:
                updates = await self._unless_stopped(self._get_updates(offset, self.timeout))
            except TelegramConflictError as exc:
                raise PollingConflict(exc.message) from None
            except TelegramRetryAfter as exc:
                log.warning("getUpdates: too many requests, waiting %ss", exc.retry_after)
                await self._sleep(exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramAPIError) as exc:
                # Network and 5xx errors, and any other refusal (a revoked token...): retried.
                failures += 1
                delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1))
                log.warning(
                    "getUpdates failed (%s: %s); attempt %d, trying again in %.0fs",
                    type(exc).__name__,
                    exc.message,
                    failures,
                    delay,
                )
                await self._sleep(delay)
                continue
            if updates is None or self._stopping.is_set():
                return  # what was just received is not confirmed: it comes back after a restart
            if failures:
                log.info("getUpdates answers again after %d failed attempts", failures)
                failures = 0
            self._sent = offset
            fresh = [
                update
                for update in updates
                if update.update_id not in self._in_flight and update.update_id not in self._done
            ]
            for update in fresh:
                self._start(update)
            if not fresh and self._in_flight:
                # Only updates still running came back: wait for one to finish (or a while).
                with contextlib.suppress(TimeoutError):
                    await self._unless_stopped(
                        asyncio.wait_for(self._progress.wait(), BUSY_INTERVAL)
                    )

    async def finish(self, timeout: float) -> bool:
        """Wait up to `timeout` for the updates in flight, then confirm those finished.
        False if some were still running."""
        running = [task for task in self._in_flight.values() if not task.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            if pending:
                return False
        offset = self.offset()
        if offset is not None and offset != self._sent:
            try:
                await self._get_updates(offset, 0, limit=1)
            except Exception as exc:
                log.warning("could not confirm the last updates handled (%r)", exc)
            else:
                self._sent = offset
        return True

    async def cancel(self) -> None:
        """Cancel the updates still running (after `finish` timed out): they stay unconfirmed
        and come again after a restart."""
        running = [task for task in self._in_flight.values() if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # -- inside ------------------------------------------------------------------------------

    async def _get_updates(self, offset: int | None, timeout: int, limit: int = 0) -> list[Update]:
        method = GetUpdatesSkipping(
            offset=offset,
            limit=limit or self.limit,
            timeout=timeout,
            allowed_updates=self.allowed_updates,
        ).skipping(frozenset(self._in_flight).union(self._done))
        request_timeout = int((self.bot.session.timeout or 60) + timeout)
        return await self.bot(method, request_timeout=request_timeout)

    def _start(self, update: Update) -> None:
        update_id = update.update_id
        if self._highest is None or update_id > self._highest:
            self._highest = update_id
        if not update.model_fields_set - {"update_id"}:
            # An update the session could not read (`bot.session`): logged there, confirmed here.
            self._done.add(update_id)
            return
        self._in_flight[update_id] = asyncio.create_task(self._handle(update))

    async def _handle(self, update: Update) -> None:
        update_id = update.update_id
        try:
            result = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(self.bot, result)
        except asyncio.CancelledError:
            # Not finished: it stays in `_in_flight`, so the offset never passes it.
            raise
        except Exception:
            log.exception("update %s failed", update_id)
        self._in_flight.pop(update_id, None)
        self._done.add(update_id)
        self._progress.set()

    async def _unless_stopped(self, awaitable: Awaitable[T]) -> T | None:
        """`awaitable`'s result, or None (and it cancelled) if `stop()` comes first."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task in done:
            return task.result()
        return None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
