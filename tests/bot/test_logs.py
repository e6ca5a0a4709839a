"""What participants typed never reaches the logs, whatever exception carries it: a handler's own
error quoting its input, SQLAlchemy's parameters, pydantic's input values, aiogram's dump of a
Bot API answer it could not read. Checked in both formats, with what stays useful to an operator
(the exception's type, the update id, where it failed)."""

from __future__ import annotations

import json
import logging

import pytest
from aiogram import loggers
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import Update
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from bot.logs import describe_exception, failing_step
from tests.logcapture import capture_logs

SECRET = "Mon-avis-tres-personnel-4711"
log = logging.getLogger("tests.bot.test_logs")


def malformed_update() -> dict[str, object]:
    return {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": "yesterday",
            "chat": {"id": 5, "type": "private"},
            "text": [SECRET],
        },
    }


def validation_error() -> ValidationError:
    try:
        Update.model_validate(malformed_update())
    except ValidationError as exc:
        return exc
    raise AssertionError("the update validated")


def raised(exc: BaseException) -> BaseException:
    """`exc` with a traceback, raised from a first exception that quotes the secret too."""
    try:
        try:
            raise KeyError(f"no question for {SECRET}")
        except KeyError as first:
            raise exc from first
    except BaseException as caught:
        return caught


def statement_error() -> IntegrityError:
    return IntegrityError(
        "INSERT INTO answers (response_id, question_id, value) VALUES (?, ?, ?)",
        (1, "comment", json.dumps(SECRET)),
        Exception("FOREIGN KEY constraint failed"),
    )


EXCEPTIONS = {
    "handler's own": lambda: ValueError(f"cannot take {SECRET!r}"),
    "sqlalchemy": statement_error,
    "pydantic": validation_error,
    "aiogram decode": lambda: ClientDecodeError(
        "Failed to deserialize object", validation_error(), {"result": [malformed_update()]}
    ),
    "unicode": lambda: UnicodeEncodeError("utf-8", SECRET + "\ud800", len(SECRET), 29, "bad"),
    "group": lambda: ExceptionGroup("several", [ValueError(SECRET), statement_error()]),
}


@pytest.mark.parametrize("make", EXCEPTIONS.values(), ids=list(EXCEPTIONS))
def test_no_exception_puts_the_participants_text_in_the_logs(make: object) -> None:
    assert callable(make)
    exc = raised(make())
    with capture_logs() as logs:
        # as the bot's error handler, aiogram's polling loop and its dispatcher log them
        log.error("update %s failed", 77, exc_info=exc)
        log.exception("failed: %r", exc, exc_info=exc)
        loggers.dispatcher.error("Failed to fetch updates - %s: %s", type(exc).__name__, exc)
        loggers.event.exception(
            "Cause exception while process update id=%d by bot id=%d\n%s: %s",
            77,
            42,
            exc.__class__.__name__,
            exc,
            exc_info=exc,
        )
        log.error("extra field", extra={"error": exc})
        # asyncio's "Task exception was never retrieved" bakes the repr into the message
        logging.getLogger("asyncio").error(f"future: <Task exception={exc!r}>", exc_info=exc)
    logs.assert_clean(SECRET)
    output = logs.output()
    assert type(exc).__name__ in output
    assert "update 77 failed" in output
    assert "Traceback (most recent call last)" in output
    assert "test_logs.py" in output  # the frames stay


def test_what_stays_useful() -> None:
    described = describe_exception(statement_error())
    assert "IntegrityError" in described and "INSERT INTO answers" in described
    assert "parameters hidden" in described
    described = describe_exception(validation_error())
    assert "message.date" in described and "message.text" in described
    assert "yesterday" not in described
    method = SendMessage(chat_id=1, text=SECRET)
    telegram = TelegramBadRequest(method, "Bad Request: chat not found")
    assert describe_exception(telegram).endswith("Bad Request: chat not found")
    assert describe_exception(ConnectionResetError("peer reset")).endswith("peer reset")
    decode = EXCEPTIONS["aiogram decode"]()
    assert describe_exception(decode).endswith("update ids 77")
    exc = raised(ValueError(SECRET))
    assert failing_step(exc) == "?"  # raised in the tests, not in the bot's code


def test_a_lone_surrogate_in_a_message_does_not_break_the_log_line() -> None:
    with capture_logs() as logs:
        log.warning("callback data %s", "x\ud800y")
    logs.assert_clean()
    assert "x\\ud800y" in logs.text.getvalue()
