"""The texts of every channel (Telegram, the terminal, the web): gettext catalogues (compiled .mo)
in French and English, by message key.

Channel-independent, so that `bot/` and `web/` (sibling channels that never import each other)
share one loader. The catalogues themselves stay in `bot/locales/` (where `python -m
bot.catalogues` compiles them): this module reads them by path, it imports nothing of `bot/`."""

from __future__ import annotations

import gettext
import logging
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

LOCALES_DIR = Path(__file__).resolve().parent.parent / "bot" / "locales"
DOMAIN = "messages"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

log = logging.getLogger(__name__)


class MissingTranslation(LookupError):
    """A message key with no text in a catalogue."""


@cache
def catalogue(language: str) -> gettext.GNUTranslations:
    """The compiled catalogue of `language` (fails loudly if it was not compiled)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    return gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[language])


def t(language: str, key: str, /, **params: object) -> str:
    """The text of `key` in `language`, with `{name}` placeholders filled from `params`."""
    text = catalogue(language).gettext(key)
    if text == key:
        fallback = catalogue(DEFAULT_LANGUAGE).gettext(key)
        if fallback == key:
            raise MissingTranslation(f"no text for {key!r} in {language!r}")
        log.warning("message %r missing in %r, using %r", key, language, DEFAULT_LANGUAGE)
        text = fallback
    return text.format(**params) if params else text


def format_time(language: str, moment: datetime, timezone: str) -> str:
    """A date and time in the survey's zone, as people of `language` write it."""
    local = moment.astimezone(ZoneInfo(timezone))
    return format_datetime(local, t(language, "format.datetime"), locale=language)


def format_deadline(language: str, closes_at: datetime, timezone: str) -> str:
    """The closing time; a close at midnight is shown as the end of the day before (23:59)."""
    local = closes_at.astimezone(ZoneInfo(timezone))
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        local -= timedelta(minutes=1)
    return format_datetime(local, t(language, "format.datetime"), locale=language)


def format_last_day_kept(language: str, anonymise_at: datetime, timezone: str) -> str:
    """The last day data is kept before its anonymisation at `anonymise_at` (in the survey's
    zone): anonymised at midnight on 1 January means kept until 31 December."""
    local = (anonymise_at - timedelta(microseconds=1)).astimezone(ZoneInfo(timezone))
    return format_date(local.date(), t(language, "format.date"), locale=language)
