"""An answer acknowledged (committed) survives a SIGKILL of the process that wrote it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialogs import Answer, Phase
from storage.database import Database
from storage.repository import Store
from tests.storage.helpers import ROOT, texts_survey, texts_yaml, tg

ACKS_BEFORE_KILL = 5


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_sigkill_after_ack_loses_nothing(
    url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    survey_file = tmp_path / "texts.yaml"
    survey_file.write_text(texts_yaml(100), encoding="utf-8")
    worker = spawn(url, str(survey_file), "ack", "3001")
    acked: list[str] = []
    try:
        assert worker.stdout is not None
        while len(acked) < ACKS_BEFORE_KILL:
            line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 30)
            assert line, f"the worker stopped: {worker.stderr.read() if worker.stderr else ''}"
            acked.append(line.removeprefix("ACK ").strip())
        # Killed while it goes on writing: possibly in the middle of the next transaction.
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        # Through the same file object: lines may already sit in its buffer.
        rest = worker.stdout.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == -signal.SIGKILL
    acked += [line.removeprefix("ACK ").strip() for line in rest.splitlines() if line]

    # A new database and store, as a restarted bot, find every acknowledged answer.
    survey = texts_survey(100)
    async with Database(url) as fresh:
        snapshot = await Store(fresh, survey, file_hash="w" * 64).load(tg(3001))
        if fresh.is_sqlite:
            async with fresh.engine.connect() as connection:
                check = await connection.execute(text("PRAGMA integrity_check"))
                assert check.scalar() == "ok"
    answers = snapshot.state.answers
    stored = [answers[f"q{i:02d}"].value for i in range(1, len(answers) + 1)]
    assert stored[: len(acked)] == acked
    assert len(stored) in (len(acked), len(acked) + 1)  # the one in flight, if it committed
    state = snapshot.state
    assert state.phase is Phase.ANSWERING
    assert state.current == f"q{len(stored) + 1:02d}"
    assert state.answers["q01"] == Answer("acknowledged 1")
