"""Every log record of every logger, written as the bot writes its logs (the handlers of
`setup_logging`): in the plain format and in the `LOG_FORMAT=json` format at once, at DEBUG."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.logs import setup_logging


@dataclass
class CapturedLogs:
    text: io.StringIO = field(default_factory=io.StringIO)
    json: io.StringIO = field(default_factory=io.StringIO)

    def output(self) -> str:
        return self.text.getvalue() + self.json.getvalue()

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.json.getvalue().splitlines() if line]

    def assert_clean(self, *secrets: str) -> None:
        """None of `secrets` in either format; every line writable as UTF-8; JSON lines parse."""
        output = self.output()
        output.encode("utf-8")
        self.records()
        for secret in secrets:
            assert secret not in output, f"{secret!r} reached the logs:\n{output}"
            assert json.dumps(secret)[1:-1] not in output, f"{secret!r} reached the logs:\n{output}"

    async def wait_for(self, fragment: str, timeout: float = 20) -> None:
        """Wait until a line holding `fragment` has been logged."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while fragment not in self.text.getvalue():
            if loop.time() > deadline:
                raise TimeoutError(f"{fragment!r} never logged:\n{self.text.getvalue()}")
            await asyncio.sleep(0.02)


@contextlib.contextmanager
def capture_logs() -> Iterator[CapturedLogs]:
    captured = CapturedLogs()
    root = logging.getLogger()
    level = root.level
    ours: list[logging.Handler] = []
    for fmt, stream in (("text", captured.text), ("json", captured.json)):
        setup_logging("DEBUG", fmt, stream, force=True)
        handler = next(h for h in root.handlers if h.get_name() == "consultbot")
        handler.set_name(f"capture-{fmt}")  # so that the next call adds a handler beside it
        ours.append(handler)
    try:
        yield captured
    finally:
        for handler in ours:
            root.removeHandler(handler)
        root.setLevel(level)
