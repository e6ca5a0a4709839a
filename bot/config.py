"""The bot's names for the settings, which live in `channels.settings` (shared with the web)."""

from __future__ import annotations

from channels.settings import (
    DEFAULT_API_URL,
    DEFAULT_DATABASE_URL,
    DEFAULT_SURVEY,
    ConfigError,
    Settings,
)

__all__ = ["DEFAULT_API_URL", "DEFAULT_DATABASE_URL", "DEFAULT_SURVEY", "ConfigError", "Settings"]
