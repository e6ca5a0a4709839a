"""Callback data of inline buttons: short (≤ 64 bytes), naming the screen's step, the question
and the option by index, so that a button of an old message or a forged one is recognised."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.engine import CONSENT_ACCEPT, CONSENT_DECLINE
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
    Toggle,
)
from dialogs.model import Question, QuestionType, Survey

MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class LanguageChoice:
    language: str


@dataclass(frozen=True)
class DeleteChoice:
    confirmed: bool


@dataclass(frozen=True)
class SubmitRequest:
    """Submit: the handler adds the reference it generated."""

    step: int


Action = Event | LanguageChoice | DeleteChoice | SubmitRequest


def _option_code(question: Question, option_id: str) -> str:
    if question.type is QuestionType.SCALE:
        return option_id
    if question.type is QuestionType.CONSENT:
        return "a" if option_id == CONSENT_ACCEPT else "d"
    ids = [o.id for o in question.choices()]
    return str(ids.index(option_id))


def choose(step: int, question: Question, option_id: str) -> str:
    return f"c:{step}:{question.index}:{_option_code(question, option_id)}"


def toggle(step: int, question: Question, option_id: str) -> str:
    return f"t:{step}:{question.index}:{_option_code(question, option_id)}"


def page(step: int, question: Question, number: int) -> str:
    """Show page `number` (from 0) of a long list."""
    return f"p:{step}:{question.index}:{number}"


def remove(step: int, question: Question, option_id: str) -> str:
    """Take an option off the choices of a multi-choice long list."""
    return f"r:{step}:{question.index}:{_option_code(question, option_id)}"


def confirm(step: int, question: Question) -> str:
    return f"k:{step}:{question.index}"


def back(step: int) -> str:
    return f"b:{step}"


def skip(step: int) -> str:
    return f"s:{step}"


def edit(step: int, question: Question) -> str:
    return f"e:{step}:{question.index}"


def submit(step: int) -> str:
    return f"S:{step}"


AMEND = "A"
DELETE_YES = "D:y"
DELETE_NO = "D:n"


def language(code: str) -> str:
    return f"L:{code}"


def _int(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None


def _decode_option(question: Question, code: str) -> str | None:
    if question.type is QuestionType.SCALE:
        if code.isascii() and code.lstrip("-").isdigit() and len(code) <= 4:
            return code
        return None
    if question.type is QuestionType.CONSENT:
        return {"a": CONSENT_ACCEPT, "d": CONSENT_DECLINE}.get(code)
    index = _int(code)
    choices = question.choices()
    if index is None or index >= len(choices):
        return None
    return choices[index].id


def decode(survey: Survey, data: str) -> Action | None:
    """The action a button stands for, or None when the data is not one of ours."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(":")
    kind, args = parts[0], parts[1:]
    if kind == "A" and not args:
        return Amend()
    if kind == "D" and args in (["y"], ["n"]):
        return DeleteChoice(args[0] == "y")
    if kind == "L" and len(args) == 1 and args[0] in survey.languages:
        return LanguageChoice(args[0])
    if not args:
        return None
    step = _int(args[0])
    if step is None:
        return None
    if len(args) == 1:
        if kind == "b":
            return Back(step)
        if kind == "s":
            return Skip(step)
        if kind == "S":
            return SubmitRequest(step)
        return None
    if kind not in ("c", "t", "k", "e", "p", "r") or len(args) < 2:
        return None
    index = _int(args[1])
    if index is None or index >= len(survey.questions):
        return None
    question = survey.questions[index]
    if kind == "k" and len(args) == 2:
        return Confirm(question.id, step)
    if kind == "e" and len(args) == 2:
        return Edit(question.id, step)
    if kind == "p" and len(args) == 3:
        number = _int(args[2])
        return Page(question.id, number, step) if number is not None else None
    if kind in ("c", "t", "r") and len(args) == 3:
        option = _decode_option(question, args[2])
        if option is None:
            return None
        if kind == "r":
            return Remove(question.id, option, step)
        return (
            Choose(question.id, option, step) if kind == "c" else Toggle(question.id, option, step)
        )
    return None
