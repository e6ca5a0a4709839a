"""The delivery engine: drains the broadcast queue (`storage.broadcasts`) within Telegram's limits.

Rate control is ours, not the Bot API's: a token bucket paces every sendMessage of this process
(`BROADCAST_RATE`, default 25 per second; Telegram allows about 30), and a chat gets at most one
message a second. A document broadcast (`consultbot broadcast --document FILE`) goes through the
same bucket, one sendDocument per recipient: the file is uploaded with the first and sent again
by the file_id Telegram gave for it. Telegram's answers:

- 429 Too Many Requests: the message was not delivered. The whole engine stops sending for
  `retry_after` seconds (the bucket is emptied and paused), the row is released and tried again;
  a 429 does not count as a failed attempt.
- 403 Forbidden: the participant blocked the bot. The row becomes `blocked` and the participant is
  marked blocked: later segments leave them out.
- Anything else (5xx, network errors, 400): retried with exponential backoff, up to
  `max_attempts`, then `failed` with the last error.

Crash safety - why a broadcast interrupted by SIGKILL sends nobody a second message - is
explained in `storage.broadcasts`: rows are claimed in a committed transaction just before they
are sent and their outcome is committed right after (every `RECORD_INTERVAL`). A claimed row
whose outcome never got committed is in doubt and is never sent again (at-most-once). The window
is Telegram's answer travelling back plus at most `RECORD_INTERVAL` plus one commit: a few tens
of milliseconds, and only the messages in flight at that instant are concerned. A graceful stop
(task cancelled, SIGTERM) lets the sends in flight finish and records them first; a claim that
was committing when the stop arrived is waited for and its rows given back unsent. While the
worker lives, its claims are renewed (every quarter of the lease) and it never resolves its own
claims: a slow loop on a busy machine never makes a delivery "failed" or "unknown outcome".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import FSInputFile, Message

from bot import metrics
from bot.clock import Clock, system_clock
from channels.settings import Settings
from storage.broadcasts import BroadcastStore, Claimed, Counts, Result

log = logging.getLogger(__name__)

DEFAULT_RATE = 25.0
PER_CHAT_INTERVAL = 1.0
"""Seconds between two messages to the same chat."""
RECORD_INTERVAL = 0.02
"""How often the outcomes of the sends are committed (seconds)."""
MAX_BATCH = 200
"""Most deliveries claimed in one transaction."""
BURST_SECONDS = 0.2
"""The bucket saves up at most this many seconds of tokens: when the loop falls behind (a slow
commit, a busy CPU) it catches up with a short burst, well inside Telegram's one-second window."""
IDLE_POLL = 0.5
DEFAULT_LEASE = 120.0
"""Seconds after which a claim that its worker stopped renewing is in doubt (the worker died):
marked failed, never resent. A live worker renews its claims every quarter of the lease and never
resolves its own, so a slow loop does not turn its sends into failures."""
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 300.0

Progress = Callable[[Counts], None]


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; `pause` empties it for a while."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate * BURST_SECONDS)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()
        self.paused_until = 0.0

    def _refill(self) -> None:
        now = self.clock()
        if now < self.paused_until:
            self.stamp = now
            return
        start = max(self.stamp, self.paused_until)
        if now > start:
            self.tokens = min(self.capacity, self.tokens + (now - start) * self.rate)
        self.stamp = now

    async def take(self, most: int) -> int:
        """Wait for at least one token; take up to `most` of them and return how many."""
        while True:
            self._refill()
            if self.tokens >= 1.0:
                count = min(most, int(self.tokens))
                self.tokens -= count
                return count
            now = self.clock()
            if now < self.paused_until:
                await asyncio.sleep(self.paused_until - now)
            else:
                await asyncio.sleep((1.0 - self.tokens) / self.rate)

    def give_back(self, count: int) -> None:
        self.tokens = min(self.capacity, self.tokens + count)

    def pause(self, seconds: float) -> None:
        self._refill()
        self.tokens = 0.0
        self.paused_until = max(self.paused_until, self.clock() + seconds)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Broadcaster:
    """Sends the queued deliveries of one survey through `bot`."""

    def __init__(
        self,
        store: BroadcastStore,
        bot: Bot,
        *,
        rate: float = DEFAULT_RATE,
        allow_paid_broadcast: bool = False,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        lease: float = DEFAULT_LEASE,
        now: Clock = system_clock,
        name: str | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.bucket = TokenBucket(rate)
        self.allow_paid_broadcast = allow_paid_broadcast
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.lease = timedelta(seconds=lease)
        self.now = now
        self.name = name or worker_name()
        self._last_sent: dict[int, float] = {}
        self._file_ids: dict[int, str] = {}
        self._uploads: dict[int, asyncio.Lock] = {}
        """broadcast id -> the file_id of its document, once uploaded."""
        self._results: list[Result] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.sent_calls = 0
        self.too_many = 0

    @classmethod
    def from_settings(
        cls, store: BroadcastStore, bot: Bot, settings: Settings, **kwargs: object
    ) -> Broadcaster:
        """With BROADCAST_RATE, BROADCAST_PAID, BROADCAST_LEASE and BROADCAST_BACKOFF."""
        return cls(
            store,
            bot,
            rate=settings.broadcast_rate,
            allow_paid_broadcast=settings.broadcast_paid,
            lease=settings.broadcast_lease,
            backoff=settings.broadcast_backoff,
            **kwargs,  # type: ignore[arg-type]
        )

    # -- the loop -------------------------------------------------------------------------------

    async def run(
        self,
        *,
        broadcast_id: int | None = None,
        until_idle: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Drain the queue (only `broadcast_id`'s rows if given). Forever, or with `until_idle`
        until nothing is left to send. Cancelling it finishes and records the sends in flight."""
        log.info(
            "broadcast worker %s: %.0f messages/s%s",
            self.name,
            self.bucket.rate,
            ", paid broadcast" if self.allow_paid_broadcast else "",
        )
        await self.store.resolve_in_doubt(self.now(), self.lease, worker=self.name)
        recorder = asyncio.create_task(self._recorder(broadcast_id, progress))
        last_resolve = time.monotonic()
        try:
            while True:
                if time.monotonic() - last_resolve > self.lease.total_seconds() / 2:
                    await self.store.resolve_in_doubt(self.now(), self.lease, worker=self.name)
                    last_resolve = time.monotonic()
                wanted = await self.bucket.take(MAX_BATCH)
                rows = await self._claim(wanted, broadcast_id)
                if len(rows) < wanted:
                    self.bucket.give_back(wanted - len(rows))
                for row in rows:
                    if row.document is not None and row.broadcast_id not in self._file_ids:
                        # The document's upload, awaited: nothing more is claimed meanwhile, so
                        # the sends by file_id that follow keep the pace.
                        await self._deliver(row)
                        continue
                    task = asyncio.create_task(self._deliver(row))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                if rows:
                    continue
                if await self._idle(broadcast_id, until_idle):
                    return
        except asyncio.CancelledError:
            log.info("broadcast worker %s stopping: finishing the sends in flight", self.name)
            raise
        finally:
            await self._wind_down(recorder)

    async def _claim(self, wanted: int, broadcast_id: int | None) -> list[Claimed]:
        """Claim up to `wanted` rows. A stop (cancellation) that arrives while the claim is
        being committed does not abandon it: the claim's transaction goes on (in its thread, or
        on the server) and would commit rows that nobody sends, to be marked failed a lease
        later. The claim is waited for, its rows given back unsent, then the stop goes on."""
        claim = asyncio.ensure_future(
            self.store.claim(self.name, self.now(), wanted, broadcast_id=broadcast_id)
        )
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            try:
                rows = await claim
                await self.store.release(self.name, rows, self.now())
            except Exception:
                log.exception(
                    "broadcast worker %s: giving back the rows claimed at the stop failed",
                    self.name,
                )
            raise

    async def _idle(self, broadcast_id: int | None, until_idle: bool) -> bool:
        """Nothing to claim now: True when the worker should stop (`until_idle`)."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=IDLE_POLL)
            return False
        await self._flush()
        await self.store.finish_done(self.now())
        due = await self.store.next_due()
        if until_idle:
            if broadcast_id is not None:
                counts = await self.store.counts(broadcast_id)
                if counts.pending == 0:
                    return True
            elif due is None:
                return True
        delay = IDLE_POLL
        if due is not None:
            delay = min(IDLE_POLL, max(0.01, (due - self.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)
        self.wake.clear()
        return False

    async def _wind_down(self, recorder: asyncio.Task[None]) -> None:
        in_flight = set(self._in_flight)
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
        await self._flush()
        with contextlib.suppress(Exception):
            await self.store.finish_done(self.now())

    async def _recorder(self, broadcast_id: int | None, progress: Progress | None) -> None:
        renew_every = self.lease.total_seconds() / 4
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(RECORD_INTERVAL)
            try:
                if time.monotonic() - last_renew > renew_every:
                    last_renew = time.monotonic()
                    if self._in_flight or self._results:
                        await self.store.renew_claims(self.name, self.now())
                flushed = await self._flush()
                if flushed and progress is not None and broadcast_id is not None:
                    progress(await self.store.counts(broadcast_id))
            except Exception:  # the outcomes stay queued for the next flush
                log.exception("broadcast worker %s: recording outcomes failed", self.name)
                await asyncio.sleep(1.0)

    async def _flush(self) -> int:
        if not self._results:
            return 0
        batch, self._results = self._results, []
        try:
            await self.store.record(batch, self.now())
        except BaseException:
            self._results[:0] = batch  # committed by the next flush
            raise
        return len(batch)

    # -- one message ----------------------------------------------------------------------------

    async def _deliver(self, row: Claimed) -> None:
        try:
            result = await self._send(row)
        except Exception as exc:  # never lose a claimed row's outcome to a bug
            log.exception(
                "delivery of broadcast %d to %s failed", row.broadcast_id, row.telegram_id
            )
            result = self._retry_or_fail(row, repr(exc))
        metrics.DELIVERIES.labels(result.outcome).inc()
        self._results.append(result)

    async def _send(self, row: Claimed) -> Result:
        chat = row.telegram_id
        if row.blocked:
            return Result(row.broadcast_id, row.participant_id, chat, "blocked", error="blocked")
        last = self._last_sent.get(chat)
        if last is not None:
            wait = PER_CHAT_INTERVAL - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_sent[chat] = time.monotonic()
        if len(self._last_sent) > 100_000:
            self._forget_old_chats()
        self.sent_calls += 1
        try:
            if row.document is not None:
                message = await self._send_document(row)
            else:
                message = await self.bot.send_message(
                    chat,
                    row.text,
                    parse_mode=None,
                    allow_paid_broadcast=self.allow_paid_broadcast or None,
                )
        except TelegramRetryAfter as exc:
            self.too_many += 1
            self.bucket.pause(exc.retry_after)
            log.warning(
                "429 sending broadcast %d to %s: pausing %ss",
                row.broadcast_id,
                chat,
                exc.retry_after,
            )
            return Result(
                row.broadcast_id,
                row.participant_id,
                chat,
                "retry",
                error=f"429 retry after {exc.retry_after}",
                retry_at=self.now() + timedelta(seconds=exc.retry_after),
                count_attempt=False,
            )
        except TelegramForbiddenError as exc:
            log.info("broadcast %d: user %s blocked the bot", row.broadcast_id, chat)
            return Result(
                row.broadcast_id, row.participant_id, chat, "blocked", error=exc.message[:500]
            )
        except Exception as exc:
            message_text = getattr(exc, "message", None) or repr(exc)
            return self._retry_or_fail(row, str(message_text)[:500])
        return Result(
            row.broadcast_id, row.participant_id, chat, "sent", message_id=message.message_id
        )

    async def _send_document(self, row: Claimed) -> Message:
        """sendDocument: the file is uploaded once, then sent again by the file_id Telegram
        gave for it (per broadcast, in this process), with `text` as its caption."""
        assert row.document is not None
        cached = self._file_ids.get(row.broadcast_id)
        if cached is not None:
            return await self._document_call(row, cached)
        # The first send uploads; the sends claimed with it wait for its file_id.
        lock = self._uploads.setdefault(row.broadcast_id, asyncio.Lock())
        async with lock:
            cached = self._file_ids.get(row.broadcast_id)
            if cached is not None:
                return await self._document_call(row, cached)
            path = Path(row.document)
            message = await self._document_call(row, FSInputFile(path, filename=path.name))
            if message.document is not None:
                self._file_ids[row.broadcast_id] = message.document.file_id
            return message

    async def _document_call(self, row: Claimed, document: str | FSInputFile) -> Message:
        return await self.bot.send_document(
            row.telegram_id,
            document,
            caption=row.text or None,
            parse_mode=None,
            allow_paid_broadcast=self.allow_paid_broadcast or None,
        )

    def _retry_or_fail(self, row: Claimed, error: str) -> Result:
        if row.attempts >= self.max_attempts:
            log.warning(
                "broadcast %d to %s failed after %d attempts: %s",
                row.broadcast_id,
                row.telegram_id,
                row.attempts,
                error,
            )
            return Result(
                row.broadcast_id, row.participant_id, row.telegram_id, "failed", error=error
            )
        delay = min(MAX_BACKOFF, self.backoff * 2 ** (row.attempts - 1))
        log.info(
            "broadcast %d to %s: %s (attempt %d), retrying in %.1fs",
            row.broadcast_id,
            row.telegram_id,
            error,
            row.attempts,
            delay,
        )
        return Result(
            row.broadcast_id,
            row.participant_id,
            row.telegram_id,
            "retry",
            error=error,
            retry_at=self.now() + timedelta(seconds=delay),
        )

    def _forget_old_chats(self) -> None:
        horizon = time.monotonic() - PER_CHAT_INTERVAL
        self._last_sent = {c: t for c, t in self._last_sent.items() if t > horizon}
