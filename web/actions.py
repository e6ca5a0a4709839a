"""The value of each button of the web form, and its event: `kind:step:question:option` (or
`p:step:question:page` for a long list's page), with the
questionnaire's own ids (ids match `[a-z0-9_]`, so `:` never occurs in them).

The step names the screen the button was on: a button of an older page (another tab, the back
button of the browser, a double click) is recognised by the engine and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.events import (
    Amend,
    Back,
    Choose,
    Confirm,
    Edit,
    Event,
    Page,
    Remove,
    Skip,
    SwitchLanguage,
    TextInput,
    Toggle,
)
from dialogs.model import Survey

MAX_ACTION_CHARS = 200
TEXT = "text"
AMEND = "A"


@dataclass(frozen=True)
class SubmitRequest:
    """Submit: the handler draws the receipt's reference."""

    step: int


@dataclass(frozen=True)
class TypedText:
    """The text input's answer, with the step of the page it was typed on."""

    text: str
    step: int | None


WebAction = Event | SubmitRequest | TypedText


def choose(step: int, question_id: str, option_id: str) -> str:
    return f"c:{step}:{question_id}:{option_id}"


def toggle(step: int, question_id: str, option_id: str) -> str:
    return f"t:{step}:{question_id}:{option_id}"


def confirm(step: int, question_id: str) -> str:
    return f"k:{step}:{question_id}"


def page(step: int, question_id: str, number: int) -> str:
    """Show page `number` (from 0) of a long list."""
    return f"p:{step}:{question_id}:{number}"


def remove(step: int, question_id: str, option_id: str) -> str:
    """Take a choice off a multi-choice long list."""
    return f"r:{step}:{question_id}:{option_id}"


def back(step: int) -> str:
    return f"b:{step}"


def skip(step: int) -> str:
    return f"s:{step}"


def edit(step: int, question_id: str) -> str:
    return f"e:{step}:{question_id}"


def submit(step: int) -> str:
    return f"S:{step}"


def language(code: str) -> str:
    return f"L:{code}"


def _int(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None


def decode(survey: Survey, value: str, text: str | None, step: str | None) -> WebAction | None:
    """The action of a posted form, or None when it is not one of ours."""
    if not value or len(value) > MAX_ACTION_CHARS:
        return None
    if value == TEXT:
        if text is None:
            return None
        return TypedText(text, _int(step or ""))
    if value == AMEND:
        return Amend()
    kind, _, rest = value.partition(":")
    if kind == "L":
        return SwitchLanguage(rest)
    parts = rest.split(":")
    number = _int(parts[0])
    if number is None:
        return None
    args = parts[1:]
    if not args:
        if kind == "b":
            return Back(number)
        if kind == "s":
            return Skip(number)
        if kind == "S":
            return SubmitRequest(number)
        return None
    if args[0] not in survey.by_id:
        return None
    question_id = args[0]
    if len(args) == 1:
        if kind == "k":
            return Confirm(question_id, number)
        if kind == "e":
            return Edit(question_id, number)
        return None
    if len(args) != 2:
        return None
    if kind == "c":
        return Choose(question_id, args[1], number)
    if kind == "t":
        return Toggle(question_id, args[1], number)
    if kind == "r":
        return Remove(question_id, args[1], number)
    if kind == "p":
        page_number = _int(args[1])
        return None if page_number is None else Page(question_id, page_number, number)
    return None


def typed_event(action: TypedText, current_step: int) -> Event | None:
    """The text input's event, or None when it was typed on an older page."""
    if action.step is not None and action.step != current_step:
        return None
    return TextInput(action.text)
