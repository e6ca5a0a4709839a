"""The bot's own texts: the catalogue loader now lives in `channels.i18n` (shared with the web
channel); this module keeps the names the bot imports, and `Words`, the texts of one output (the
report, the codebook, the statistics files) read by their short keys."""

from __future__ import annotations

from channels.i18n import (
    DEFAULT_LANGUAGE,
    DOMAIN,
    LANGUAGES,
    LOCALES_DIR,
    MissingTranslation,
    catalogue,
    format_deadline,
    format_last_day_kept,
    format_time,
    t,
)


class Words:
    """The catalogue texts `<prefix>.<key>` in one language, read like a dict (`words["total"]`),
    unformatted: callers fill their `{placeholders}`. A key missing from both catalogues raises
    `MissingTranslation`."""

    __slots__ = ("language", "prefix")

    def __init__(self, language: str, prefix: str) -> None:
        self.language = language
        self.prefix = prefix

    def __getitem__(self, key: str) -> str:
        return t(self.language, f"{self.prefix}.{key}")

    def __call__(self, key: str) -> str:
        return self[key]


__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LOCALES_DIR",
    "MissingTranslation",
    "Words",
    "catalogue",
    "format_deadline",
    "format_last_day_kept",
    "format_time",
    "t",
]
