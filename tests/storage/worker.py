"""A separate process for the durability and multi-process tests (run with `python -m`).

python -m tests.storage.worker URL SURVEY_FILE ack TELEGRAM_ID
    Starts, then answers question after question, printing `ACK <text>` after each commit,
    until killed (the test kills it with SIGKILL).
python -m tests.storage.worker URL SURVEY_FILE hammer TELEGRAM_ID COUNT PREFIX
    Prints READY, waits for a line on stdin, then sends COUNT answers for one participant
    at once (asyncio.gather), prints DONE and exits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from dialogs import Answer, parse_survey
from dialogs.events import Start, TextInput
from storage.database import Database
from storage.repository import ParticipantKey, Store
from tests.storage.helpers import during, stepper


async def main(argv: list[str], survey_text: str) -> int:
    url, survey_file, mode, telegram_id = argv[:4]
    survey = parse_survey(survey_text, survey_file)
    db = Database(url)
    store = Store(db, survey, file_hash="w" * 64)
    key = ParticipantKey.telegram(int(telegram_id))
    now = during(survey)

    def clock() -> datetime:
        return now

    if mode == "ack":
        await store.apply(key, stepper(survey, Start(), now), clock=clock)
        for i in range(1, len(survey.questions) + 1):
            text = f"acknowledged {i}"
            event = TextInput(text)
            applied = await store.apply(key, stepper(survey, event, now), clock=clock)
            if applied.state.answers.get(f"q{i:02d}") != Answer(text):
                raise SystemExit(f"answer {i} was not accepted: {applied}")
            sys.stdout.write(f"ACK {text}\n")
            sys.stdout.flush()
        await asyncio.sleep(3600)  # not reached when the test kills in time
        return 0
    if mode == "hammer":
        count, prefix = int(argv[4]), argv[5]
        await store.register_survey()
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        events = [TextInput(f"{prefix} {i}") for i in range(count)]
        await asyncio.gather(
            *(store.apply(key, stepper(survey, event, now), clock=clock) for event in events)
        )
        await db.close()
        sys.stdout.write(f"DONE {datetime.now(UTC).isoformat()}\n")
        sys.stdout.flush()
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    text = Path(sys.argv[2]).read_text(encoding="utf-8")
    sys.exit(asyncio.run(main(sys.argv[1:], text)))
