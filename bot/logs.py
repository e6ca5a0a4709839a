"""Logging set-up: plain lines by default, one JSON object a line with `LOG_FORMAT=json`.

A JSON line carries `time` (UTC, ISO 8601), `level`, `logger`, `message`, the exception as
`exc_info` when there is one, the update being handled (`update_id`, `user`: set by the
dispatcher's UpdateGuard for everything logged while the update runs), and any `extra=` fields
of the call. The bot never logs what participants type: answers stay in the database.

Exceptions can carry what a participant typed in their message: a handler's error that quotes
its input, SQLAlchemy's `[parameters: …]`, pydantic's `input_value=`, aiogram's `Content:` of a
Bot API answer it could not read. Both formatters therefore render every exception (in the
record's arguments and in its traceback) by `describe_exception`: its type and only what is
known to be safe (a database error's SQLSTATE and statement, a validation error's field
locations and error types, a Telegram or network error's text); the traceback keeps its frames
(file, line, function), never the message of an unknown exception. What is left of a message is
scrubbed of `[parameters: …]` and `input_value=…`, and lone surrogates are escaped so that a log
line can always be written.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import logging
import re
import sqlite3
import sys
import traceback
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "consultbot"

update_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "consultbot_update_context", default=None
)
"""The update being handled in this task: {"update_id": ..., "user": ...}."""

# Attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


@contextlib.contextmanager
def update_scope(**fields: Any) -> Iterator[None]:
    """Attach `fields` (update_id, user) to every record logged inside the block."""
    token = update_context.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        update_context.reset(token)


# -- exceptions, rendered without the data they may embed ----------------------------------------

_PROJECT = Path(__file__).resolve().parents[1]
_OUR_PACKAGES = tuple(str(_PROJECT / name) for name in ("bot", "storage", "dialogs"))
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|\n|\Z)")
_CONTENT = re.compile(r"\nContent: [^\n]*")
_UNSAFE_PYDANTIC_TYPES = ("value_error", "assertion_error", "union_tag_invalid")
"""pydantic error types whose message may quote the input (a validator's own text, a tag)."""


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _name(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return (
        kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    )


def _describe_driver_error(orig: BaseException) -> str:
    """A DBAPI error: its type, SQLSTATE and constraint; SQLite's message (made of the schema's
    names, never of values); never PostgreSQL's message or DETAIL, which may quote a value."""
    parts = [_name(orig)]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    for attribute in ("constraint_name", "table_name", "column_name"):
        value = getattr(orig, attribute, None)
        if value:
            parts.append(f"{attribute.removesuffix('_name')} {value}")
    if isinstance(orig, sqlite3.Error):
        parts.append(_first_line(str(orig)))
    return ", ".join(parts)


def describe_exception(exc: BaseException) -> str:
    """One line naming `exc` and what of its message is known to carry no participant data."""
    from aiogram.exceptions import ClientDecodeError, TelegramAPIError
    from pydantic import ValidationError
    from sqlalchemy.exc import StatementError

    name = _name(exc)
    if isinstance(exc, StatementError):
        orig = exc.orig
        cause = _describe_driver_error(orig) if orig is not None else "no driver error"
        statement = " ".join((exc.statement or "").split())
        if len(statement) > 200:
            statement = statement[:199] + "…"
        return f"{name}: {cause} [SQL: {statement}] [parameters hidden]"
    if isinstance(exc, ValidationError):
        errors = []
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            location = ".".join(str(part) for part in error["loc"]) or "(root)"
            kind = error["type"]
            unsafe = kind.startswith(_UNSAFE_PYDANTIC_TYPES)
            errors.append(
                f"{location}: {kind}" if unsafe else f"{location}: {error['msg']} [{kind}]"
            )
        return f"{name}: {exc.error_count()} error(s) for {exc.title}: " + "; ".join(errors)
    if isinstance(exc, ClientDecodeError):
        described = f"{name}: {exc.message} ({describe_exception(exc.original)})"
        ids = _update_ids(exc.data)
        return f"{described}; update ids {', '.join(ids)}" if ids else described
    if isinstance(exc, UnicodeError):
        encoding = getattr(exc, "encoding", "?")
        start, end = getattr(exc, "start", "?"), getattr(exc, "end", "?")
        reason = getattr(exc, "reason", "")
        return f"{name}: {encoding} at positions {start}-{end}: {reason}"
    if isinstance(exc, sqlite3.Error):
        return _describe_driver_error(exc)
    if isinstance(exc, TelegramAPIError | OSError | TimeoutError):
        return f"{name}: {_first_line(str(exc))}" if str(exc) else name
    if isinstance(exc, BaseExceptionGroup):
        inner = "; ".join(describe_exception(e) for e in exc.exceptions)
        return f"{name}: {len(exc.exceptions)} exception(s): {inner}"
    return f"{name} (message withheld: it may quote what a participant typed)"


def _update_ids(data: Any) -> list[str]:
    """The update ids of a `getUpdates` answer (numbers only, never the updates' content)."""
    result = data.get("result") if isinstance(data, Mapping) else None
    if not isinstance(result, list):
        return []
    return [
        str(item["update_id"])
        for item in result
        if isinstance(item, Mapping) and isinstance(item.get("update_id"), int)
    ]


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, the oldest first."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain[::-1]


def format_exception_safely(exc: BaseException) -> str:
    """A traceback of `exc` and its chain: the frames as usual, each exception by
    `describe_exception` (never its message, which may hold data)."""
    blocks: list[str] = []
    chain = _chain(exc)
    for index, item in enumerate(chain):
        text = ""
        if item.__traceback__ is not None:
            frames = traceback.format_list(traceback.extract_tb(item.__traceback__))
            text = "Traceback (most recent call last):\n" + "".join(frames)
        text += describe_exception(item)
        if index + 1 < len(chain):
            following = chain[index + 1]
            text += (
                "\n\nThe above exception was the direct cause of the following exception:\n"
                if following.__cause__ is item
                else "\n\nDuring handling of the above exception, another exception occurred:\n"
            )
        blocks.append(text)
    return "\n".join(blocks)


def failing_step(exc: BaseException) -> str:
    """Where in the bot's own code `exc` was raised: "storage/repository.py:123 in apply"."""
    step = "?"
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(_OUR_PACKAGES):
            relative = Path(filename).relative_to(_PROJECT)
            step = f"{relative}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return step


def scrub(text: str) -> str:
    """Remove SQLAlchemy's parameters, pydantic's input values and aiogram's dumped content from
    a text, and escape lone surrogates (a stream cannot write them)."""
    text = _PARAMETERS.sub("[parameters hidden]", text)
    text = _INPUT_VALUE.sub("input_value=<hidden>", text)
    text = _CONTENT.sub("\nContent: <hidden>", text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _safe_value(value: Any) -> Any:
    if isinstance(value, BaseException):
        return describe_exception(value)
    return value


def safe_record(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of `record` whose arguments hold no exception (each described instead), whose
    message is scrubbed, and whose traceback is the safe one."""
    safe = copy.copy(record)
    if isinstance(safe.args, Mapping):
        safe.args = {key: _safe_value(value) for key, value in safe.args.items()}
    elif isinstance(safe.args, tuple):
        safe.args = tuple(_safe_value(value) for value in safe.args)
    if isinstance(safe.msg, BaseException):
        safe.msg = describe_exception(safe.msg)
    message = safe.getMessage()
    safe.exc_text = None  # another handler's formatter may have cached the unsafe rendering
    if safe.exc_info and safe.exc_info[1] is not None:
        safe.exc_text = format_exception_safely(safe.exc_info[1])
        # a message may have the exception written into it (asyncio's "Task exception was
        # never retrieved" holds the task's repr): each form of it gives way to its description
        for exc in _chain(safe.exc_info[1]):
            described = describe_exception(exc)
            for form in {repr(exc), str(exc)}:
                if len(form) >= 8 and form not in described:
                    message = message.replace(form, described)
    safe.msg, safe.args = scrub(message), ()
    for key, value in vars(record).items():
        if key not in _STANDARD and isinstance(value, BaseException):
            setattr(safe, key, describe_exception(value))
    return safe


class SafeFormatter(logging.Formatter):
    """The plain-text format, with exceptions rendered safely (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(safe_record(record)))

    def formatException(self, ei: Any) -> str:
        exc = ei[1] if isinstance(ei, tuple) else None
        return format_exception_safely(exc) if exc is not None else ""


class JsonFormatter(SafeFormatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        record = safe_record(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = update_context.get()
        if context:
            entry.update(context)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return scrub(json.dumps(entry, ensure_ascii=False, default=str))


def setup_logging(
    level: str = "INFO", fmt: str = "text", stream: TextIO | None = None, *, force: bool = False
) -> None:
    """Configure the root logger (`fmt`: "text" or "json"). Like `logging.basicConfig`, leaves
    a root logger that has someone else's handlers alone (pytest's), unless `force`."""
    root = logging.getLogger()
    foreign = [h for h in root.handlers if h.get_name() != _HANDLER_NAME]
    if foreign and not force:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt.strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter(TEXT_FORMAT))
    handler.set_name(_HANDLER_NAME)
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:  # ours from an earlier call; others stay (pytest's)
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiosqlite logs every call with its arguments at DEBUG: the statements' parameters
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
