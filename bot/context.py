"""What every handler needs, passed in once: the survey, the store, the clock, the renderer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.callbacks import delete_key
from bot.clock import Clock
from bot.config import Settings
from bot.locks import KeyedLocks
from bot.render import Renderer
from dialogs import Survey
from storage.repository import Store


@dataclass
class BotContext:
    survey: Survey
    store: Store
    clock: Clock
    settings: Settings
    renderer: Renderer = field(init=False)
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    passes: Counter[str] = field(default_factory=Counter)
    """Passes completed by each background worker (`bot.workers`), by worker name: a test
    waits for a pass to know the worker has looked, instead of sleeping."""
    delete_key: bytes = field(init=False, repr=False)
    """The key of the /delete confirmations' proofs (bot.callbacks), from the bot's token."""

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.survey)
        self.delete_key = delete_key(self.settings.bot_token)

    def language_for(self, code: str | None) -> str:
        """A new participant's language from their Telegram client's language."""
        if code:
            short = code.split("-")[0].lower()
            if short in self.survey.languages:
                return short
        return self.survey.default_language

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids
