"""Background workers of `consultbot run` (`WORKERS`): the broadcast delivery worker, the
scheduler of the reminders declared in the survey file, the trimming of old update ids, and the
anonymisation at the end of the retention period.

Update ids: every update's id is recorded so that a redelivered update is not applied twice
(`storage.repository`). Telegram redelivers an update for at most a day; once an hour
(`UPDATE_IDS_TRIM_EVERY` seconds) the ids older than `UPDATE_IDS_KEEP_DAYS` (default 7) are
deleted, in small batches.

Scheduled reminders: every `REMINDER_POLL` seconds (env, default 30) the scheduler reads the clock
(`ctx.clock`, so a rehearsal clock or a test's clock drives it) and, while the survey is open,
queues each reminder whose time (`closes_at - before_close`) has come as a broadcast carrying its
`reminder_id`. The table's unique (survey_id, reminder_id) makes that exactly once across restarts
and across processes: a second insert does nothing. When the bot was down long enough that several
reminders are due at once, only the latest is sent; the earlier ones are recorded as cancelled.

Retention: once a day (`PURGE_EVERY` seconds, default 86,400), and once at start, the purger reads
the clock (`ctx.clock`) and, when the survey's `retention:` date has passed, anonymises its
participants exactly as `consultbot purge` does (`storage.retention`). Before the date it does
nothing; afterwards, a run finds nothing left to do, except people who wrote to the bot since.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiogram import Bot

from bot.broadcaster import Broadcaster
from bot.clock import system_clock
from bot.context import BotContext
from storage.broadcasts import BroadcastStore, Targeting, encode_texts
from storage.retention import purge

log = logging.getLogger(__name__)

DEFAULT_REMINDER_POLL = 30.0
DEFAULT_TRIM_EVERY = 3600.0
DEFAULT_KEEP_DAYS = 7.0
DEFAULT_PURGE_EVERY = 86_400.0
RESTART_DELAY = 2.0

_broadcasters: dict[int, Broadcaster] = {}
"""The running delivery worker of each context (by id), so that a new broadcast wakes it."""


def broadcast_store(ctx: BotContext) -> BroadcastStore:
    return BroadcastStore(
        ctx.store.db, ctx.survey.id, ctx.survey.default_language, survey=ctx.survey
    )


def wake(ctx: BotContext) -> None:
    """Tell this process's delivery worker that there is something new to send."""
    broadcaster = _broadcasters.get(id(ctx))
    if broadcaster is not None:
        broadcaster.wake.set()


async def broadcast_worker(ctx: BotContext, bot: Bot) -> None:
    """Drain the broadcast queue for as long as the bot runs (restarted after an error)."""
    while True:
        broadcaster = Broadcaster.from_env(broadcast_store(ctx), bot)
        _broadcasters[id(ctx)] = broadcaster
        try:
            await broadcaster.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast worker failed; restarting in %ss", RESTART_DELAY)
            await asyncio.sleep(RESTART_DELAY)
        finally:
            _broadcasters.pop(id(ctx), None)


async def fire_due_reminders(ctx: BotContext) -> list[int]:
    """Queue the reminders that are due now (see the module's docstring); returns the new
    broadcasts' ids."""
    survey = ctx.survey
    now = ctx.clock()
    if not survey.reminders or not (survey.opens_at <= now < survey.closes_at):
        return []
    store = broadcast_store(ctx)
    fired = await store.reminder_ids()
    due = sorted(
        (r for r in survey.reminders if r.id not in fired and survey.reminder_time(r) <= now),
        key=survey.reminder_time,
    )
    created: list[int] = []
    for index, reminder in enumerate(due):
        latest = index == len(due) - 1
        broadcast_id = await store.create(
            reminder.segment.value,
            encode_texts(reminder.text.values),
            now=system_clock(),
            created_by="reminder",
            reminder_id=reminder.id,
            cancelled=not latest,
            targeting=Targeting(where=reminder.where) if reminder.where is not None else None,
        )
        if broadcast_id is None:
            log.info("reminder %s already queued by another process", reminder.id)
        elif latest:
            log.info("reminder %s queued as broadcast %d", reminder.id, broadcast_id)
            created.append(broadcast_id)
        else:
            log.warning("reminder %s is overdue and a later one is due: skipped", reminder.id)
    if created:
        wake(ctx)
    return created


async def reminder_scheduler(ctx: BotContext, bot: Bot) -> None:
    """Fire the survey's reminders at their time, once each."""
    poll = float(os.environ.get("REMINDER_POLL") or DEFAULT_REMINDER_POLL)
    while True:
        try:
            await fire_due_reminders(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reminder scheduler: check failed, trying again in %ss", poll)
        ctx.passes["reminders"] += 1
        await asyncio.sleep(poll)


async def update_ids_trimmer(ctx: BotContext, bot: Bot) -> None:
    """Forget the processed update ids older than `UPDATE_IDS_KEEP_DAYS`, every so often."""
    every = float(os.environ.get("UPDATE_IDS_TRIM_EVERY") or DEFAULT_TRIM_EVERY)
    keep = timedelta(days=float(os.environ.get("UPDATE_IDS_KEEP_DAYS") or DEFAULT_KEEP_DAYS))
    while True:
        try:
            forgotten = await ctx.store.forget_processed_updates(ctx.clock() - keep)
            if forgotten:
                log.info("forgot %d processed update ids older than %s", forgotten, keep)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("update ids trimmer failed; trying again in %ss", every)
        ctx.passes["update_ids"] += 1
        await asyncio.sleep(every)


async def retention_purger(ctx: BotContext, bot: Bot) -> None:
    """Anonymise the participants once the survey's retention period is over, checked daily."""
    if ctx.survey.retention is None:
        return
    every = float(os.environ.get("PURGE_EVERY") or DEFAULT_PURGE_EVERY)
    while True:
        try:
            result = await purge(ctx.store, now=ctx.clock())
            if result.ran and result.counts.participants:
                log.info(
                    "retention: anonymised %d participants (due %s)",
                    result.counts.participants,
                    result.due_at,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; trying again in %ss", every)
        await asyncio.sleep(every)


Worker = Callable[[BotContext, Bot], Coroutine[Any, Any, None]]
WORKERS: list[Worker] = [
    broadcast_worker,
    reminder_scheduler,
    update_ids_trimmer,
    retention_purger,
]
