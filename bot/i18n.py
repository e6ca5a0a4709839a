"""The bot's own texts: the catalogue loader now lives in `channels.i18n` (shared with the web
channel); this module keeps the names the bot imports."""

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

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LOCALES_DIR",
    "MissingTranslation",
    "catalogue",
    "format_deadline",
    "format_last_day_kept",
    "format_time",
    "t",
]
