"""Callback data of inline buttons: short (≤ 64 bytes), naming the screen's step, the question
and the option by index, so that a button of an old message or a forged one is recognised.

The /delete confirmation carries a proof: `D:y:<message id>:<unix time>:<HMAC>`, the HMAC (under
a key derived from the bot's token, shared by all its processes) of the participant's id, the
id of the message that asked and the time it asked. It is valid for that participant, on that
message, for `DELETE_TTL` seconds; anything else (forged, older, the plain `D:y` of earlier
versions) erases nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    """Yes or No to /delete; a Yes names the message that asked, when, and the proof."""

    confirmed: bool
    message_id: int | None = None
    issued: int | None = None
    proof: str = ""


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
DELETE_NO = "D:n"
DELETE_TTL = 300
"""Seconds a /delete confirmation stays valid."""
CLOCK_SKEW = 60
"""Seconds a confirmation may seem to come from the future (processes' clocks differ)."""


def delete_key(secret: str) -> bytes:
    """The key of the /delete proofs, derived from `secret` (the bot's token)."""
    return hmac.new(secret.encode(), b"consultbot /delete confirmation", hashlib.sha256).digest()


def _proof(key: bytes, user_id: int, message_id: int, issued: int) -> str:
    mac = hmac.new(key, f"{user_id}:{message_id}:{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:12]).decode()


def delete_yes(key: bytes, user_id: int, message_id: int, issued: int) -> str:
    """The data of the Yes button of the /delete question `message_id`, asked at `issued`."""
    return f"D:y:{message_id}:{issued}:{_proof(key, user_id, message_id, issued)}"


def delete_confirmed(
    key: bytes, choice: DeleteChoice, *, user_id: int, message_id: int, now: int
) -> bool:
    """True when the Yes is the genuine button, tapped on the message that asked, in time."""
    if not choice.confirmed or choice.message_id is None or choice.issued is None:
        return False
    expected = _proof(key, user_id, choice.message_id, choice.issued)
    return (
        hmac.compare_digest(expected, choice.proof)
        and choice.message_id == message_id
        and -CLOCK_SKEW <= now - choice.issued <= DELETE_TTL
    )


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


def _delete_yes(args: list[str]) -> DeleteChoice:
    """A Yes to /delete; without a well-formed proof, one that confirms nothing."""
    if len(args) != 3:
        return DeleteChoice(True)
    message_id, issued = _long(args[0]), _long(args[1])
    if message_id is None or issued is None:
        return DeleteChoice(True)
    return DeleteChoice(True, message_id, issued, args[2])


def _long(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return int(text)
    return None


def decode(survey: Survey, data: str) -> Action | None:
    """The action a button stands for, or None when the data is not one of ours."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(":")
    kind, args = parts[0], parts[1:]
    if kind == "A" and not args:
        return Amend()
    if kind == "D" and args == ["n"]:
        return DeleteChoice(False)
    if kind == "D" and args and args[0] == "y":
        return _delete_yes(args[1:])
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
