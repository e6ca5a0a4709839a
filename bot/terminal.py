"""`consultbot try`: the participant's dialogue in the terminal, a preview that works whatever
the date. Options are numbered; `/back`, `/skip`, `/lang`, `/status`, `edit N` and `submit` steer.
On a long list, typed text searches, a number taps the button it numbers, `>` and `<` turn pages,
`/ok` confirms the choices of a multi-choice one.
Works with its input piped from a file, so a scripted run can go from start to receipt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from bot import callbacks
from bot.i18n import t
from bot.render import Renderer, View, plain
from channels.reference import new_reference as new_reference
from dialogs.engine import Result, transition
from dialogs.events import (
    Back,
    Confirm,
    Edit,
    Event,
    Page,
    Skip,
    Start,
    Status,
    Submit,
    SwitchLanguage,
    TextInput,
)
from dialogs.model import QuestionType, Survey
from dialogs.screens import QuestionScreen, ReceiptScreen, ReviewScreen, Screen
from dialogs.state import State

Apply = Callable[[Callable[[State], Result]], Awaitable[Result]]
"""Runs one engine step against the stored state and persists it; returns the result."""


@dataclass
class TerminalSession:
    survey: Survey
    apply: Apply
    clock: Callable[[], datetime]
    out: TextIO
    language: str

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.survey)
        self.screen: Screen | None = None
        self.view: View | None = None

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show_view(self, view: View) -> None:
        for text in view.texts:
            self.write(plain(text))
        listed = view.buttons() if self.long_list(view) else view.options
        for number, button in enumerate(listed, start=1):
            self.write(f"  {number:>2}) {button.label}")

    def long_list(self, view: View | None = None) -> bool:
        screen = self.screen
        return (
            isinstance(screen, QuestionScreen)
            and screen.listing is not None
            and not screen.awaiting_other
            and (view is None or bool(view.rows or view.options))
        )

    def show(self, result: Result) -> None:
        self.language = result.state.language
        lang = self.language
        for notice in result.output.notices:
            self.write("! " + plain(self.renderer.notice(lang, notice)))
        for screen in result.output.screens:
            self.write()
            self.screen = screen
            self.view = self.renderer.screen(lang, screen)
            self.show_view(self.view)
            self.write_help(screen)

    def write_help(self, screen: Screen) -> None:
        lang = self.language
        if isinstance(screen, ReviewScreen):
            self.write(t(lang, "try.review_help"))
        elif isinstance(screen, QuestionScreen) and not screen.awaiting_other:
            if screen.listing is not None:
                self.write(t(lang, "try.list_help"))
                if screen.question.type is QuestionType.MULTI_CHOICE:
                    self.write(t(lang, "try.list_multi_help"))
            elif screen.question.type is QuestionType.MULTI_CHOICE:
                self.write(t(lang, "try.multi_help"))
            elif screen.question.type is QuestionType.RANKING:
                self.write(t(lang, "try.ranking_help"))
            commands = ["/back"] if screen.can_back else []
            if screen.can_skip:
                commands.append("/skip")
            commands += ["/lang", "/status", "/quit"]
            self.write(t(lang, "try.commands", commands=" ".join(commands)))

    def event_for(self, line: str) -> Event | None:
        """The event a typed line stands for; None to quit."""
        text = line.strip()
        word, _, rest = text.partition(" ")
        command = word.lower().lstrip("/")
        if command in ("quit", "exit"):
            return None
        if text.startswith("/"):
            if command == "back":
                return Back()
            if command == "skip":
                return Skip()
            if command in ("lang", "language"):
                return SwitchLanguage(rest.strip().lower())
            if command == "status":
                return Status()
            if command == "start":
                return Start()
        screen = self.screen
        if isinstance(screen, QuestionScreen) and screen.listing is not None and self.long_list():
            listing = screen.listing
            if command == "ok" and text.startswith("/"):
                return Confirm(screen.question.id, screen.step)
            if text in (">", "<"):
                turn = 1 if text == ">" else -1
                return Page(screen.question.id, listing.page + turn, screen.step)
            if self.view is not None and text.isascii() and text.isdigit():
                buttons = self.view.buttons()
                number = int(text)
                if 1 <= number <= len(buttons):
                    action = callbacks.decode(self.survey, buttons[number - 1].data)
                    if isinstance(action, Event):
                        return action
        if isinstance(self.screen, ReviewScreen):
            if command == "submit":
                return Submit(new_reference())
            if command == "edit" and rest.strip().isascii() and rest.strip().isdigit():
                number = int(rest.strip())
                if 1 <= number <= len(self.screen.items):
                    return Edit(self.screen.items[number - 1].question.id)
        return TextInput(line.rstrip("\n"))

    async def step(self, event: Event) -> Result:
        now = self.clock()
        result = await self.apply(
            lambda state: transition(self.survey, state, event, now, preview=True)
        )
        self.show(result)
        return result

    async def run(self, lines: Callable[[], Awaitable[str | None]]) -> bool:
        """Talk until the receipt, /quit or the end of input; True if a receipt was shown."""
        self.write(t(self.language, "try.intro"))
        result = await self.step(Start())
        if isinstance(self.screen, ReceiptScreen):
            return True
        while True:
            line = await lines()
            if line is None:
                break
            event = self.event_for(line)
            if event is None:
                break
            result = await self.step(event)
            if isinstance(self.screen, ReceiptScreen) and result.output.submitted:
                return True
        self.write(t(self.language, "try.end"))
        return False
