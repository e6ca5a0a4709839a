"""The retention promise of a privacy notice against the file's `retention:` block.

`retention_warnings(survey)` finds the dates that the privacy notice names in a sentence about
keeping, deleting or anonymising data ("conservées jusqu'au 31 décembre 2022", "kept until
December 31, 2022", "2022-12-31", "31/12/2022") and says which of them the file does not
configure: a notice that promises a retention date nobody applies. Pure: no clock, no I/O.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs.model import Survey

MONTHS: dict[str, int] = {
    # French
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
    # English
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:er|st|nd|rd|th)?\s+({_MONTH})\s+(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_RETENTION_WORDS = re.compile(
    r"conserv|anonymi|supprim|effac|détrui|detrui|archiv|"
    r"\bkept\b|\bkeep|retain|retention|delet|anonymis|destroy|eras",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


@dataclass(frozen=True)
class NamedDate:
    """A date named by the privacy notice in a sentence about retention."""

    language: str
    day: date
    words: str
    """The date as the notice writes it."""


def dates_in(text: str) -> list[tuple[date, str]]:
    """Every calendar date written in `text` (French, English, ISO or day/month/year)."""
    found: list[tuple[int, date, str]] = []

    def add(position: int, year: int, month: int, day: int, words: str) -> None:
        # Not a real date (31 February): not a promise one can check.
        with contextlib.suppress(ValueError):
            found.append((position, date(year, month, day), words))

    for match in _DAY_MONTH_YEAR.finditer(text):
        day, month, year = match.groups()
        add(match.start(), int(year), MONTHS[month.lower()], int(day), match.group(0))
    for match in _MONTH_DAY_YEAR.finditer(text):
        month, day, year = match.groups()
        add(match.start(), int(year), MONTHS[month.lower()], int(day), match.group(0))
    for match in _ISO.finditer(text):
        year, month, day = match.groups()
        add(match.start(), int(year), int(month), int(day), match.group(0))
    for match in _NUMERIC.finditer(text):
        day, month, year = match.groups()
        add(match.start(), int(year), int(month), int(day), match.group(0))
    return [(day, words) for _, day, words in sorted(found, key=lambda item: item[0])]


def retention_dates_named(survey: Survey) -> list[NamedDate]:
    """The dates the privacy notice names in sentences about keeping or removing data."""
    named: list[NamedDate] = []
    for language, text in survey.privacy.values.items():
        for sentence in _SENTENCE_END.split(text):
            if not _RETENTION_WORDS.search(sentence):
                continue
            named.extend(NamedDate(language, day, words) for day, words in dates_in(sentence))
    return named


def configured_days(survey: Survey) -> frozenset[date]:
    """The dates a notice may give for the configured anonymisation: the last day the data is
    kept and the day it is anonymised, in the survey's time zone (`anonymise_at: 2022-12-31`
    keeps the data through 31 December and anonymises it at the midnight that ends it)."""
    moment = survey.anonymise_time()
    if moment is None:
        return frozenset()
    zone = ZoneInfo(survey.timezone)
    return frozenset(
        {
            moment.astimezone(zone).date(),
            (moment - timedelta(seconds=1)).astimezone(zone).date(),
        }
    )


def retention_warnings(survey: Survey) -> list[str]:
    """What `consultbot check` warns about: retention dates promised but not configured."""
    configured = configured_days(survey)
    warnings: list[str] = []
    seen: set[tuple[str, date]] = set()
    for named in retention_dates_named(survey):
        if named.day in configured or (named.language, named.day) in seen:
            continue
        seen.add((named.language, named.day))
        if survey.retention is None:
            why = "but the file has no retention: block, so nothing anonymises the data"
        else:
            moment = survey.anonymise_time()
            assert moment is not None
            local = moment.astimezone(ZoneInfo(survey.timezone))
            why = f"but retention: anonymises the data at {_when(local)}"
        warnings.append(
            f"privacy ({named.language}): the notice promises a retention date "
            f"({named.words}, {named.day.isoformat()}) {why}"
        )
    return warnings


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")
