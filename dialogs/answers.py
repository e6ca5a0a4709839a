"""Validation of typed answers, question type by question type.

Every typed text first goes through `check_text`: text that no backend can store or no front end
can show is refused at the edge, the same way everywhere (a lone UTF-16 surrogate, which Python
strings can hold but UTF-8 cannot encode; NUL, which PostgreSQL text refuses; other control
characters; Unicode non-characters). Then `is_blank` tells text made only of spaces and invisible
characters (zero-width space, BOM, soft hyphen, Hangul fillers, braille blank...), which counts
as empty.
"""

from __future__ import annotations

import math
import re
import unicodedata

from stdnum.fr import siren, siret

from dialogs.limits import MAX_EMAIL_LENGTH, MAX_OTHER_TEXT
from dialogs.model import Question, QuestionType
from dialogs.screens import Notice
from dialogs.state import Answer

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
NUMBER_RE = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
LIST_SPLIT = re.compile(r"[\s,;]+")
ORGANISATION_SEPARATORS = re.compile(r"[\s\u00a0\u202f\u2009.\-]")
INTEGER_RE = re.compile(r"-?\d{1,9}")
"""A whole number in decimal digits: not `str.isdigit`, which takes "²" (that `int` refuses),
and short, so that `int` never meets a string past its 4,300-digit limit."""


ALLOWED_CONTROLS = frozenset("\n\t")
"""The only control characters a typed text may hold (CR LF is read as LF first)."""
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
"""Spaces (NBSP included), line and paragraph separators, controls and format characters
(zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks, tags...)."""
INVISIBLE_EXTRA = frozenset(
    {
        0x034F,  # combining grapheme joiner
        0x115F,  # Hangul choseong filler
        0x1160,  # Hangul jungseong filler
        0x17B4,  # Khmer vowel inherent aq
        0x17B5,  # Khmer vowel inherent aa
        0x2800,  # braille pattern blank
        0x3164,  # Hangul filler
        0xFFA0,  # halfwidth Hangul filler
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),  # variation selectors supplement
    }
)
"""Characters outside those categories that show nothing on their own."""


def _refused_character(char: str) -> bool:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate: not encodable in UTF-8
        return True
    if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:  # non-characters
        return True
    return unicodedata.category(char) == "Cc" and char not in ALLOWED_CONTROLS


def check_text(text: str) -> str | Notice:
    """`text` as it may be taken (CR LF read as LF), or the notice refusing it: it holds a
    character no database stores or no screen shows (see the module's docstring)."""
    value = text.replace("\r\n", "\n")
    for position, char in enumerate(value, start=1):
        if _refused_character(char):
            return Notice("invalid_character", {"position": position})
    return value


def is_visible(char: str) -> bool:
    """Whether `char` shows something on its own (not a space, not an invisible character)."""
    return (
        unicodedata.category(char) not in INVISIBLE_CATEGORIES and ord(char) not in INVISIBLE_EXTRA
    )


def is_blank(text: str) -> bool:
    """Text with no visible character: empty, spaces, or only invisible characters."""
    return not any(is_visible(char) for char in text)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_text(question: Question, text: str) -> Answer | Notice:
    value = text.strip()
    if is_blank(value):
        return Notice("text_empty")
    if not question.multiline:
        value = " ".join(value.split())
    if len(value) < question.min_length:
        return Notice("text_too_short", {"min": question.min_length, "length": len(value)})
    if len(value) > question.max_length:
        return Notice("text_too_long", {"max": question.max_length, "length": len(value)})
    return Answer(value)


def parse_email(text: str) -> Answer | Notice:
    value = text.strip()
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(value) or ".." in value:
        return Notice("invalid_email")
    local, _, domain = value.rpartition("@")
    return Answer(f"{local}@{domain.lower()}")


def parse_organisation_id(text: str) -> Answer | Notice:
    """A SIREN (9 digits) or SIRET (14 digits), spaces, dots and dashes between digits tolerated;
    stored as its digits only. The check digit (Luhn; La Poste's SIRETs by their own rule) is
    verified with python-stdnum."""
    digits = ORGANISATION_SEPARATORS.sub("", text)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (9, 14):
        return Notice("organisation_id_format")
    valid = siren.is_valid(digits) if len(digits) == 9 else siret.is_valid(digits)
    if not valid:
        return Notice("organisation_id_checksum")
    return Answer(digits)


def siren_of(value: object) -> str | None:
    """The SIREN (9 digits) of a stored organisation number (a SIREN or a SIRET), or None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) in (9, 14):
        return value[:9]
    return None


def parse_number(question: Question, text: str) -> Answer | Notice:
    raw = SPACES.sub("", text)
    if not NUMBER_RE.match(raw):
        return Notice("not_a_number")
    number = float(raw.replace(",", "."))
    if not math.isfinite(number):
        return Notice("not_a_number")
    if question.integer and not number.is_integer():
        return Notice("not_an_integer")
    if question.min is not None and number < question.min:
        return Notice("too_small", {"min": _fmt(question.min)})
    if question.max is not None and number > question.max:
        return Notice("too_large", {"max": _fmt(question.max)})
    value: int | float = int(number) if question.integer or number.is_integer() else number
    return Answer(value)


def parse_int(text: str) -> int | None:
    """The whole number `text` spells (decimal digits, an optional leading minus), or None."""
    return int(text) if INTEGER_RE.fullmatch(text) else None


def parse_scale(question: Question, text: str) -> Answer | Notice:
    points = question.scale_points()
    value = parse_int(text.strip())
    if value is not None and value in points:
        return Answer(value)
    return Notice("scale_range", {"min": points.start, "max": points.stop - 1})


def parse_other(text: str) -> str | Notice:
    value = " ".join(text.split())
    if is_blank(value):
        return Notice("text_empty")
    if len(value) > MAX_OTHER_TEXT:
        return Notice("other_too_long", {"max": MAX_OTHER_TEXT, "length": len(value)})
    return value


def parse_choice_numbers(question: Question, text: str) -> tuple[str, ...] | Notice:
    """Options typed by their numbers (`2`, `1 3 4`, `3,1,5`), in the order typed."""
    choices = question.choices()
    parts = [p for p in LIST_SPLIT.split(text.strip()) if p]
    parsed = [parse_int(p) for p in parts]
    numbers = [n for n in parsed if n is not None]
    if not parts or len(numbers) != len(parts):
        return Notice("choice_number", {"count": len(choices)})
    if any(not 1 <= n <= len(choices) for n in numbers):
        return Notice("choice_number", {"count": len(choices)})
    if len(set(numbers)) != len(numbers):
        return Notice("duplicate_choice")
    return tuple(choices[n - 1].id for n in numbers)


def match_label(question: Question, text: str) -> str | None:
    """The option whose label (in any language) is exactly the text typed, ignoring case."""
    wanted = text.strip().casefold()
    for option in question.options:
        if any(label.strip().casefold() == wanted for label in option.label.values.values()):
            return option.id
    return None


def sort_by_options(question: Question, option_ids: tuple[str, ...]) -> tuple[str, ...]:
    order = {option.id: i for i, option in enumerate(question.choices())}
    return tuple(sorted(option_ids, key=lambda option_id: order.get(option_id, len(order))))


def check_selection(question: Question, selection: tuple[str, ...]) -> Notice | None:
    """Why a multi-choice or ranking selection cannot be confirmed, or None."""
    if question.type is QuestionType.RANKING:
        if len(selection) != question.top:
            return Notice("ranking_incomplete", {"top": question.top, "count": len(selection)})
        return None
    if len(selection) < question.min_choices:
        return Notice("too_few_choices", {"min": question.min_choices})
    if len(selection) > question.max_choices:
        return Notice("too_many_choices", {"max": question.max_choices})
    return None
