"""Logging set-up: plain lines by default, one JSON object a line with `LOG_FORMAT=json`.

A JSON line carries `time` (UTC, ISO 8601), `level`, `logger`, `message`, the exception as
`exc_info` when there is one, the update being handled (`update_id`, `user`: set by the
dispatcher's UpdateGuard for everything logged while the update runs), and any `extra=` fields
of the call. The bot never logs what participants type: answers stay in the database.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
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


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
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
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


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
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.set_name(_HANDLER_NAME)
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:  # ours from an earlier call; others stay (pytest's)
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
