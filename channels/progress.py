"""Progress on the terminal for the long commands (rich), on stderr and only when it is a
terminal: stdout and the files written never get any of it."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

REDRAW = 0.1
"""Seconds between two redraws (the bar is called for every batch)."""


class ProgressBar:
    """Call with (done, total) as the work goes; `close()` at the end (or on failure)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._progress = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=console,
                auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total)
        assert self._task is not None
        now = time.monotonic()
        self._progress.update(self._task, completed=done, total=total)
        if done >= total or now - self._last >= REDRAW:
            self._last = now
            self._progress.refresh()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
            self._progress = None


@contextlib.contextmanager
def working(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """A spinner with `label` while the block runs, for work whose length is unknown."""
    target = stream if stream is not None else sys.stderr
    if not target.isatty():
        yield
        return
    console = Console(file=target, force_terminal=True, highlight=False)
    with console.status(label):
        yield
