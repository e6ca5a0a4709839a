"""The admins' commands in Telegram: /stats, /broadcast, /export (SPEC §5).

Authorization is one filter, `IsAdmin`, set on the whole admin router (messages and buttons):
`ctx.is_admin(user_id)`, the numeric ids of `ADMIN_IDS`; with `PrivateOnly` before it, so that an
admin command in a group never sends anything there (bot.groups answers in groups). For anyone
else no admin handler matches, so the update goes on to the participant router, where an admin
command gets exactly the unknown-command reply and an admin button is treated like any stale button.

/broadcast is a short conversation kept in memory (by admin id; a restart forgets an unfinished
one, which is harmless): the text → a segment button → a preview with the number of recipients
and Confirm / Cancel → the broadcast is queued (`storage.broadcasts`), the delivery worker is
woken, and the admin sees a progress message edited in place, then the final counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)

from bot.clock import system_clock
from bot.context import BotContext
from bot.figures import compute_stats
from bot.groups import PrivateOnly
from bot.i18n import t
from bot.participant import ParticipantHandlers
from bot.sender import Blocked, Sender, call
from bot.workers import broadcast_store, wake
from dialogs import Survey
from dialogs.where import where_of
from storage.broadcasts import SEGMENTS, Counts, Targeting
from storage.links import LinkError, check_source

log = logging.getLogger(__name__)

PREFIX = "adm:"
TEXT_LIMIT = 4096


def split_text(text: str, limit: int) -> list[str]:
    """`text` cut between lines into pieces of at most `limit` characters (a longer line is cut)."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            pieces.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces


class IsAdmin(BaseFilter):
    """Matches updates from a user listed in ADMIN_IDS, nobody else's."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    async def __call__(self, event: TelegramObject) -> bool:
        user = getattr(event, "from_user", None)
        return self.ctx.is_admin(user.id if user is not None else None)


@dataclass
class Draft:
    """An admin's /broadcast in progress."""

    stage: str  # "text", "segment", "confirm"
    token: str
    text: str = ""
    segment: str = ""
    count: int = 0
    targeting: Targeting = field(default_factory=Targeting)


TARGET_LINE = re.compile(r"^\s*(?:--|—|–)?\s*(where|source)\s*[:=]?\s+(.+?)\s*$", re.IGNORECASE)
"""`/broadcast where: EXPR` and `source: SRC` lines (also `--where EXPR`, a dash a phone made)."""


def parse_targeting(args: str | None, survey: Survey) -> Targeting:
    """The lines after /broadcast as a Targeting; ValueError says what is wrong."""
    where = None
    source = None
    for line in (args or "").splitlines():
        if not line.strip():
            continue
        match = TARGET_LINE.match(line)
        if match is None:
            raise ValueError(f"not 'where: …' or 'source: …': {line.strip()}")
        key, value = match.group(1).lower(), match.group(2)
        if key == "where":
            where = where_of(survey, value)
        else:
            try:
                source = check_source(value.removesuffix(":")) + (
                    ":" if value.endswith(":") else ""
                )
            except LinkError as exc:
                raise ValueError(str(exc)) from exc
    return Targeting(where=where, source=source)


class AdminHandlers:
    def __init__(self, ctx: BotContext, participant: ParticipantHandlers) -> None:
        self.ctx = ctx
        self.participant = participant
        self.drafts: dict[int, Draft] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def router(self) -> Router:
        router = Router(name="admin")
        admin = IsAdmin(self.ctx)
        private = PrivateOnly()  # never in a group: an export or the stats would go to all
        router.message.filter(private, admin)
        router.callback_query.filter(private, admin)
        router.message.register(self.on_stats, Command("stats"))
        router.message.register(self.on_broadcast, Command("broadcast"))
        router.message.register(self.on_export, Command("export"))
        router.message.register(self.on_cancel, Command("cancel"), self._drafting)
        router.message.register(self.on_text, F.text, ~F.text.startswith("/"), self._awaiting)
        router.callback_query.register(self.on_button, F.data.startswith(PREFIX))
        return router

    # -- plumbing -------------------------------------------------------------------------------

    def _drafting(self, message: Message) -> bool:
        return message.from_user is not None and message.from_user.id in self.drafts

    def _awaiting(self, message: Message) -> bool:
        user = message.from_user
        draft = self.drafts.get(user.id) if user is not None else None
        return draft is not None and draft.stage == "text"

    async def _language(self, message: Message | CallbackQuery) -> str:
        assert message.from_user is not None
        return await self.participant.language(message.from_user)

    async def _send(
        self, bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        try:
            return await Sender(bot).send_text(chat_id, text, markup)
        except Blocked:
            log.warning("admin chat %s blocked the bot", chat_id)
            return None

    # -- /stats ---------------------------------------------------------------------------------

    async def on_stats(self, message: Message, bot: Bot) -> None:
        # matplotlib only when asked: it would add 30 MB and 1 s to every bot's start.
        from bot.charts import format_distributions, format_stats, stats_charts
        from bot.outreach import compute_outreach
        from bot.outreach_text import format_outreach

        assert message.from_user is not None
        lang = await self._language(message)
        log.info("admin %s asked for the stats", message.from_user.id)
        stats = await compute_stats(self.ctx.store)
        await self._send(bot, message.chat.id, html.escape(format_stats(stats, lang)))
        for chunk in split_text(format_distributions(stats, lang), TEXT_LIMIT - 200):
            await self._send(bot, message.chat.id, f"<pre>{html.escape(chunk)}</pre>")
        outreach = format_outreach(await compute_outreach(self.ctx.store), lang)
        if outreach:
            await self._send(bot, message.chat.id, html.escape(outreach))
        images = await asyncio.to_thread(stats_charts, stats, lang)
        for index, image in enumerate(images, 1):
            photo = BufferedInputFile(image, filename=f"stats-{index}.png")
            await call(
                lambda photo=photo: bot.send_photo(message.chat.id, photo),  # type: ignore[misc]
                chat_id=message.chat.id,
            )

    # -- /export --------------------------------------------------------------------------------

    async def on_export(self, message: Message, bot: Bot) -> None:
        from bot.export import ExportOptions, export_responses

        assert message.from_user is not None
        lang = await self._language(message)
        log.info("admin %s asked for the export", message.from_user.id)
        stamp = self.ctx.clock().strftime("%Y%m%d-%H%M")
        name = f"{self.ctx.survey.id}-{stamp}.xlsx"
        with tempfile.TemporaryDirectory(prefix="consultbot-export-") as folder:
            out = Path(folder) / name
            result = await export_responses(
                self.ctx.store,
                ExportOptions(format="xlsx", out=out, language=lang),
                now=self.ctx.clock(),
            )
            await call(
                lambda: bot.send_document(
                    message.chat.id,
                    FSInputFile(out, filename=name),
                    caption=t(lang, "admin.export.caption", rows=result.rows),
                ),
                chat_id=message.chat.id,
            )

    # -- /broadcast -----------------------------------------------------------------------------

    async def on_broadcast(self, message: Message, bot: Bot, command: CommandObject) -> None:
        assert message.from_user is not None
        lang = await self._language(message)
        try:
            targeting = parse_targeting(command.args, self.ctx.survey)
        except ValueError as exc:
            reason = html.escape(str(exc))
            await self._send(
                bot, message.chat.id, t(lang, "admin.broadcast.bad_target", reason=reason)
            )
            return
        self.drafts[message.from_user.id] = Draft("text", secrets.token_hex(4), targeting=targeting)
        await self._send(bot, message.chat.id, t(lang, "admin.broadcast.ask_text"))

    async def on_cancel(self, message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        self.drafts.pop(message.from_user.id, None)
        lang = await self._language(message)
        await self._send(bot, message.chat.id, t(lang, "admin.broadcast.cancelled"))

    async def on_text(self, message: Message, bot: Bot) -> None:
        assert message.from_user is not None and message.text is not None
        lang = await self._language(message)
        draft = self.drafts[message.from_user.id]
        if len(message.text) > TEXT_LIMIT:
            await self._send(
                bot, message.chat.id, t(lang, "admin.broadcast.too_long", limit=TEXT_LIMIT)
            )
            return
        draft.text = message.text
        draft.stage = "segment"
        rows = [
            [
                InlineKeyboardButton(
                    text=t(lang, f"segment.{segment}"),
                    callback_data=f"{PREFIX}s:{draft.token}:{segment}",
                )
            ]
            for segment in SEGMENTS
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    text=t(lang, "admin.cancel"), callback_data=f"{PREFIX}n:{draft.token}"
                )
            ]
        )
        await self._send(
            bot,
            message.chat.id,
            t(lang, "admin.broadcast.choose_segment"),
            InlineKeyboardMarkup(inline_keyboard=rows),
        )

    async def on_button(self, query: CallbackQuery, bot: Bot) -> None:
        lang = await self._language(query)
        parts = (query.data or "")[len(PREFIX) :].split(":")
        draft = self.drafts.get(query.from_user.id)
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        if draft is None or len(parts) < 2 or parts[1] != draft.token:
            with contextlib.suppress(Exception):
                await query.answer(t(lang, "admin.stale"))
            return
        with contextlib.suppress(Exception):
            await query.answer()
        action = parts[0]
        if action == "n":
            self.drafts.pop(query.from_user.id, None)
            await self._send(bot, chat_id, t(lang, "admin.broadcast.cancelled"))
        elif action == "s" and draft.stage == "segment" and len(parts) == 3:
            await self._preview(bot, chat_id, lang, draft, parts[2])
        elif action == "y" and draft.stage == "confirm":
            self.drafts.pop(query.from_user.id, None)
            await self._confirm(bot, chat_id, lang, draft, query.from_user.id)

    async def _preview(self, bot: Bot, chat_id: int, lang: str, draft: Draft, segment: str) -> None:
        if segment not in SEGMENTS:
            return
        store = broadcast_store(self.ctx)
        draft.segment = segment
        draft.count = await store.count_recipients(segment, draft.targeting)
        label = t(lang, f"segment.{segment}")
        if draft.targeting.narrowed:
            label = f"{label} · {draft.targeting.describe()}"
        if draft.count == 0:
            await self._send(bot, chat_id, t(lang, "admin.broadcast.nobody", segment=label))
            return
        draft.stage = "confirm"
        preview = t(
            lang,
            "admin.broadcast.preview",
            segment=html.escape(label),
            count=draft.count,
            text=html.escape(draft.text),
        )
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t(lang, "admin.broadcast.confirm", count=draft.count),
                        callback_data=f"{PREFIX}y:{draft.token}",
                    ),
                    InlineKeyboardButton(
                        text=t(lang, "admin.cancel"), callback_data=f"{PREFIX}n:{draft.token}"
                    ),
                ]
            ]
        )
        if len(preview) > TEXT_LIMIT:  # the text itself fits; the preview's heading may not
            preview = preview[: TEXT_LIMIT - 1] + "…"
        await self._send(bot, chat_id, preview, markup)

    async def _confirm(
        self, bot: Bot, chat_id: int, lang: str, draft: Draft, admin_id: int
    ) -> None:
        store = broadcast_store(self.ctx)
        broadcast_id = await store.create(
            draft.segment,
            draft.text,
            now=system_clock(),
            created_by=f"telegram:{admin_id}",
            targeting=draft.targeting,
        )
        assert broadcast_id is not None
        counts = await store.counts(broadcast_id)
        log.info(
            "admin %s confirmed broadcast %d to %s (%d recipients)",
            admin_id,
            broadcast_id,
            draft.segment,
            counts.total,
        )
        wake(self.ctx)
        progress = await self._send(
            bot, chat_id, t(lang, "admin.broadcast.queued", id=broadcast_id, count=counts.total)
        )
        task = asyncio.create_task(self._follow(bot, chat_id, lang, broadcast_id, progress))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(
        self, bot: Bot, chat_id: int, lang: str, broadcast_id: int, progress: Message | None
    ) -> None:
        """Edit the progress message as the deliveries go, then send the final counts."""
        store = broadcast_store(self.ctx)
        shown = ""
        try:
            while True:
                await asyncio.sleep(self.ctx.settings.admin_progress_interval)
                counts = await store.counts(broadcast_id)
                if counts.pending == 0:
                    break
                text = _progress_text(lang, broadcast_id, counts)
                if progress is not None and text != shown:
                    shown = text
                    with contextlib.suppress(Exception):
                        await bot.edit_message_text(
                            text=text, chat_id=chat_id, message_id=progress.message_id
                        )
            await self._send(
                bot,
                chat_id,
                t(
                    lang,
                    "admin.broadcast.done",
                    id=broadcast_id,
                    sent=counts.sent,
                    blocked=counts.blocked,
                    failed=counts.failed,
                ),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following broadcast %d for chat %s failed", broadcast_id, chat_id)


def _progress_text(lang: str, broadcast_id: int, counts: Counts) -> str:
    return t(
        lang,
        "admin.broadcast.progress",
        id=broadcast_id,
        done=counts.done,
        total=counts.total,
        sent=counts.sent,
        blocked=counts.blocked,
        failed=counts.failed,
    )
