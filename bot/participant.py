"""The participant's handlers: Telegram updates in, engine events through the store, views out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bot import callbacks, metrics
from bot.callbacks import DeleteChoice, LanguageChoice, SubmitRequest
from bot.context import BotContext
from bot.groups import PrivateOnly
from bot.i18n import format_last_day_kept, t
from bot.sender import Blocked, Sender, call
from bot.terminal import new_reference
from dialogs.engine import Result, transition
from dialogs.events import (
    Event,
    Stale,
    Start,
    Status,
    Submit,
    SwitchLanguage,
    TextInput,
    Unsupported,
)
from dialogs.screens import Output
from dialogs.state import Phase, State
from storage.links import LinkStore
from storage.repository import ParticipantKey

log = logging.getLogger(__name__)

UNSUPPORTED_KINDS = (
    "sticker",
    "photo",
    "video",
    "voice",
    "video_note",
    "audio",
    "document",
    "animation",
    "location",
    "contact",
    "poll",
    "dice",
)


def content_kind(message: Message) -> str:
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return str(message.content_type)


class ParticipantHandlers:
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def router(self) -> Router:
        router = Router(name="participant")
        private = PrivateOnly()  # never in a group: bot.groups answers there
        router.message.filter(private)
        router.callback_query.filter(private)
        router.message.register(self.on_start, Command("start"))
        router.message.register(self.on_help, Command("help"))
        router.message.register(self.on_language, Command("language", "langue"))
        router.message.register(self.on_status, Command("status"))
        router.message.register(self.on_delete, Command("delete"))
        router.message.register(self.on_unknown_command, F.text.startswith("/"))
        router.message.register(self.on_text, F.text)
        router.message.register(self.on_other)
        router.callback_query.register(self.on_button)
        return router

    # -- plumbing -----------------------------------------------------------------------------

    def key(self, user: User) -> ParticipantKey:
        return ParticipantKey(telegram_id=user.id)

    @staticmethod
    def key_for(user_id: int) -> ParticipantKey:
        return ParticipantKey(telegram_id=user_id)

    async def language(self, user: User) -> str:
        snapshot = await self.ctx.store.load(
            self.key(user), self.ctx.language_for(user.language_code)
        )
        return snapshot.state.language

    async def run(
        self,
        bot: Bot,
        user: User,
        chat_id: int,
        event: Event | Callable[[State], Event],
        *,
        update_id: int | None,
        tapped: int | None = None,
    ) -> None:
        """Apply one event in a transaction, then show what the engine says."""
        ctx = self.ctx
        clock = ctx.clock

        before: list[State] = []

        def step(state: State) -> Result:
            before[:] = [state]
            concrete = event(state) if callable(event) else event
            return transition(ctx.survey, state, concrete, clock())

        async with ctx.locks.hold(user.id):
            applied = await ctx.store.apply(
                self.key(user),
                step,
                clock=clock,
                update_id=update_id,
                language_hint=ctx.language_for(user.language_code),
            )
        if applied.duplicate:
            log.info("update %s already handled, ignored", update_id)
            return
        metrics.count_applied(before[0] if before else None, applied)
        lang = applied.state.language
        sender = Sender(bot)
        try:
            if applied.refused_closed:
                await sender.send_text(chat_id, ctx.renderer.closed_refusal(lang))
                return
            if applied.result is not None:
                await self.show(sender, chat_id, lang, applied.result.output, tapped)
        except Blocked:
            await ctx.store.mark_blocked(user.id, True)

    async def show(
        self, sender: Sender, chat_id: int, lang: str, output: Output, tapped: int | None
    ) -> None:
        renderer = self.ctx.renderer
        notices = "\n".join("⚠️ " + renderer.notice(lang, n) for n in output.notices)
        views = [renderer.screen(lang, s) for s in output.screens]
        if not views:
            if notices:
                await sender.send_text(chat_id, notices)
            return
        if output.replace and tapped is not None and len(views) == 1:
            if notices:
                await sender.send_text(chat_id, notices)
            await sender.edit_view(chat_id, tapped, views[0])
            return
        for i, view in enumerate(views):
            await sender.send_view(chat_id, view, prefix=notices if i == 0 else "")

    # -- commands -----------------------------------------------------------------------------

    async def on_start(
        self, message: Message, bot: Bot, event_update: Update, command: CommandObject
    ) -> None:
        assert message.from_user is not None
        await self.run(
            bot, message.from_user, message.chat.id, Start(), update_id=event_update.update_id
        )
        await self.record_source(message.from_user, command.args)

    async def record_source(self, user: User, code: str | None) -> None:
        """`/start <code>` (a deep link): remember the invitation link the participant came
        through. An unknown or malformed code is ignored: the participant sees nothing of it."""
        if code is None:
            return
        code = code.strip()
        recorded = await LinkStore(self.ctx.store.db, self.ctx.survey.id).record_start(
            user.id, code, now=self.ctx.clock()
        )
        if not recorded:
            log.info("start parameter of %s is not an invitation link: ignored", user.id)

    async def on_help(self, message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        lang = await self.language(message.from_user)
        await self._reply(bot, message, t(lang, "help"))

    async def on_status(self, message: Message, bot: Bot, event_update: Update) -> None:
        assert message.from_user is not None
        snapshot = await self.ctx.store.load(self.key(message.from_user))
        if snapshot.state.phase is Phase.NEW:
            await self._reply(bot, message, t(snapshot.state.language, "status.none"))
            return
        await self.run(
            bot, message.from_user, message.chat.id, Status(), update_id=event_update.update_id
        )

    async def on_language(
        self, message: Message, bot: Bot, command: CommandObject, event_update: Update
    ) -> None:
        assert message.from_user is not None
        wanted = (command.args or "").strip().lower()
        if wanted:
            await self.run(
                bot,
                message.from_user,
                message.chat.id,
                SwitchLanguage(wanted),
                update_id=event_update.update_id,
            )
            return
        lang = await self.language(message.from_user)
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t(lang, f"language.{code}"), callback_data=callbacks.language(code)
                    )
                    for code in self.ctx.survey.languages
                ]
            ]
        )
        await self._reply(bot, message, t(lang, "language.prompt"), markup)

    async def on_delete(self, message: Message, bot: Bot) -> None:
        """Ask for a confirmation whose Yes is bound to this question and valid a few minutes:
        the question is sent first, its buttons added once its message id is known."""
        assert message.from_user is not None
        user = message.from_user
        lang = await self.language(user)
        chat_id = message.chat.id
        try:
            text = t(lang, "delete.confirm")
            anonymised, day = self.retention(lang)
            if day is not None:
                key = "delete.retention_past" if anonymised else "delete.retention_future"
                text = f"{text}\n\n{t(lang, key, date=day)}"
            asked = await Sender(bot).send_text(chat_id, text)
            issued = int(self.ctx.clock().timestamp())
            yes = callbacks.delete_yes(self.ctx.delete_key, user.id, asked.message_id, issued)
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=t(lang, "button.delete_yes"), callback_data=yes)],
                    [
                        InlineKeyboardButton(
                            text=t(lang, "button.delete_no"), callback_data=callbacks.DELETE_NO
                        )
                    ],
                ]
            )
            await call(
                lambda: bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=asked.message_id, reply_markup=markup
                ),
                chat_id=chat_id,
            )
        except Blocked:
            await self.ctx.store.mark_blocked(user.id, True)

    def retention(self, lang: str) -> tuple[bool, str | None]:
        """Whether the survey's retention date has passed, and the last day data is kept (None
        without a `retention:` block)."""
        due = self.ctx.survey.anonymise_time()
        if due is None:
            return False, None
        day = format_last_day_kept(lang, due, self.ctx.survey.timezone)
        return self.ctx.clock() >= due, day

    async def on_unknown_command(self, message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        await self.unknown_command(bot, message)

    async def unknown_command(self, bot: Bot, message: Message) -> None:
        """The reply to a command that does not exist (also what non-admins get for admin ones)."""
        assert message.from_user is not None
        lang = await self.language(message.from_user)
        await self._reply(bot, message, t(lang, "unknown_command"))

    # -- answers ------------------------------------------------------------------------------

    async def on_text(self, message: Message, bot: Bot, event_update: Update) -> None:
        assert message.from_user is not None and message.text is not None
        await self.run(
            bot,
            message.from_user,
            message.chat.id,
            TextInput(message.text),
            update_id=event_update.update_id,
        )

    async def on_other(self, message: Message, bot: Bot, event_update: Update) -> None:
        if message.from_user is None or message.chat.type != "private":
            return
        kind = content_kind(message)
        log.info("unsupported %s from %s", kind, message.from_user.id)
        await self.run(
            bot,
            message.from_user,
            message.chat.id,
            Unsupported(kind),
            update_id=event_update.update_id,
        )

    async def on_button(self, query: CallbackQuery, bot: Bot, event_update: Update) -> None:
        # First of all, stop the spinner on the participant's phone; the tap's own work goes on
        # meanwhile rather than one round trip to Telegram later.
        answering = asyncio.create_task(self._answer_query(query))
        try:
            await self._handle_button(query, bot, event_update)
        finally:
            await answering

    @staticmethod
    async def _answer_query(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except Exception:
            log.warning("could not answer callback query %s", query.id, exc_info=True)

    async def _handle_button(self, query: CallbackQuery, bot: Bot, event_update: Update) -> None:
        message = query.message
        if message is None or message.chat is None:
            return
        chat_id = message.chat.id
        user = query.from_user
        action = callbacks.decode(self.ctx.survey, query.data or "")
        tapped = message.message_id
        if action is None:
            log.info("unknown callback data %r from %s", (query.data or "")[:64], user.id)
            await self.run(bot, user, chat_id, Stale(), update_id=event_update.update_id)
            return
        if isinstance(action, DeleteChoice):
            await self.delete(bot, user, chat_id, action, tapped)
            return
        if isinstance(action, LanguageChoice):
            await self.run(
                bot,
                user,
                chat_id,
                SwitchLanguage(action.language),
                update_id=event_update.update_id,
            )
            return
        if isinstance(action, SubmitRequest):
            reference = new_reference()
            await self.run(
                bot, user, chat_id, Submit(reference, action.step), update_id=event_update.update_id
            )
            return
        await self.run(bot, user, chat_id, action, update_id=event_update.update_id, tapped=tapped)

    async def delete(
        self, bot: Bot, user: User, chat_id: int, choice: DeleteChoice, tapped: int
    ) -> None:
        """A tap on /delete's Yes or No: a Yes erases only when it is the genuine, fresh button
        of the question it was tapped on; any other Yes is refused and erases nothing."""
        sender = Sender(bot)
        lang = await self.language(user)
        if not choice.confirmed:  # nothing to prove (so no edit: it may be forged on any message)
            await sender.send_text(chat_id, t(lang, "delete.cancelled"))
            return
        now = int(self.ctx.clock().timestamp())
        if not callbacks.delete_confirmed(
            self.ctx.delete_key, choice, user_id=user.id, message_id=tapped, now=now
        ):
            log.info("participant %s: /delete confirmation expired or forged, refused", user.id)
            await sender.send_text(chat_id, t(lang, "delete.expired"))
            return
        await self._close_question(bot, chat_id, tapped)
        async with self.ctx.locks.hold(user.id):
            erased = await self.ctx.store.erase(self.key(user))
        log.info("participant %s erased their data: %s", user.id, erased)
        if erased:
            await sender.send_text(chat_id, t(lang, "delete.done"))
            return
        anonymised, day = self.retention(lang)
        if anonymised:
            await sender.send_text(chat_id, t(lang, "delete.nothing_anonymised", date=day))
        else:
            await sender.send_text(chat_id, t(lang, "delete.nothing"))

    @staticmethod
    async def _close_question(bot: Bot, chat_id: int, message_id: int) -> None:
        """Take the buttons off the /delete question confirmed (it cannot be tapped again)."""
        try:
            await call(
                lambda: bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id),
                chat_id=chat_id,
            )
        except TelegramBadRequest as exc:  # already without buttons, or too old to edit
            log.info("buttons of message %s in chat %s kept: %s", message_id, chat_id, exc.message)

    async def _reply(
        self, bot: Bot, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        try:
            await Sender(bot).send_text(message.chat.id, text, markup)
        except Blocked:
            if message.from_user is not None:
                await self.ctx.store.mark_blocked(message.from_user.id, True)
