"""What participants type, end to end: it never reaches the logs when something fails, and text
that cannot be stored or shown (a lone surrogate, NUL) is refused with a clear reply, on SQLite
and on PostgreSQL, leaving the participant able to go on, submit and be exported."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import text

from bot import participant as participant_module
from bot.config import DEFAULT_SURVEY, Settings
from bot.export_cli import add_export_commands
from bot.runner import Running
from dialogs import QuestionType, Survey
from dialogs.engine import transition
from dialogs.events import TextInput
from dialogs.state import Phase
from storage.schema import upgrade
from tests.botapi.server import SentMessage
from tests.e2e.harness import (
    ManualClock,
    Participant,
    RecordingBotAPI,
    answer_until,
    polling_bot,
)
from tests.e2e.test_webhook import SECRET, SECRET_HEADER, webhook_bot
from tests.logcapture import CapturedLogs, capture_logs
from tests.postgres import postgres_url
from tests.storage.conftest import reset_postgres

pytestmark = pytest.mark.e2e

TYPED = "Mon-avis-tres-personnel-4711"
"""What the participant types: it must never be found in the logs."""
INVALID_FR = "caractère invisible ou de contrôle"
INTERNAL_FR = "une erreur est survenue"


def internal_error(message: SentMessage) -> bool:
    """The reply to an update that failed (sent by the error handler, after the update)."""
    return INTERNAL_FR in (message.text or "")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'consultbot.db'}"
    url = postgres_url()
    await reset_postgres(url)
    await upgrade(url)
    return url


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    with capture_logs() as captured:
        yield captured


def is_typed(survey: Survey) -> Any:
    """At the first free-text question (the participant's own words)."""
    kinds = (QuestionType.TEXT,)
    return lambda state: state.current is not None and survey.by_id[state.current].type in kinds


async def at_first_typed_question(
    p: Participant, running: Running, survey: Survey
) -> tuple[str, QuestionType]:
    await p.send("/start")
    state = await answer_until(p, survey, lambda: running.ctx.store.load(p.key), is_typed(survey))
    assert state.current is not None
    return state.current, survey.by_id[state.current].type


# -- what never reaches the logs ---------------------------------------------------------------


async def test_a_handler_error_quoting_the_answer_stays_out_of_the_logs(
    api: RecordingBotAPI,
    running: Running,
    survey: Survey,
    logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def quoting(survey: Survey, state: Any, event: Any, now: Any, **kwargs: Any) -> Any:
        if isinstance(event, TextInput) and TYPED in event.text:
            raise ValueError(f"cannot take the answer {event.text!r}")
        return transition(survey, state, event, now, **kwargs)

    monkeypatch.setattr(participant_module, "transition", quoting)
    p = Participant(api, 3001, running=running)
    await at_first_typed_question(p, running, survey)
    update_id = api.send_text(p.user_id, f"{TYPED} et la suite")
    await api.wait_for_message(p.user_id, internal_error, timeout=20)
    await logs.wait_for(f"update {update_id} from user {p.user_id} failed")
    logs.assert_clean(TYPED)
    failure = next(r for r in logs.records() if "failed at" in str(r["message"]))
    assert "bot/participant.py" in str(failure["message"])  # the failing step
    assert "ValueError" in str(failure["message"])
    assert failure["update_id"] == update_id and failure["user"] == p.user_id


async def test_a_database_error_on_the_answer_keeps_it_out_of_the_logs(
    api: RecordingBotAPI,
    any_database_url: str,
    clock: ManualClock,
    survey: Survey,
    logs: CapturedLogs,
) -> None:
    """The database refuses the answer (a trigger stands for any error: a constraint, a value
    PostgreSQL cannot take); the error, its statement and its parameters are logged without it."""
    async with polling_bot(api, any_database_url, clock) as running:
        async with running.db.engine.begin() as connection:
            if running.db.is_sqlite:
                for when in ("INSERT", "UPDATE"):
                    await connection.execute(
                        text(
                            f"CREATE TRIGGER refuse_{when} BEFORE {when} ON answers "
                            "WHEN CAST(NEW.value AS TEXT) LIKE '%tres-personnel%' "
                            "BEGIN SELECT RAISE(ABORT, 'answer refused by the test'); END"
                        )
                    )
            else:
                await connection.execute(
                    text(
                        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "IF NEW.value::text LIKE '%tres-personnel%' THEN "
                        "RAISE EXCEPTION 'answer refused by the test'; END IF; "
                        "RETURN NEW; END $$"
                    )
                )
                await connection.execute(
                    text(
                        "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON answers "
                        "FOR EACH ROW EXECUTE FUNCTION refuse()"
                    )
                )
        p = Participant(api, 3002, running=running)
        question_id, kind = await at_first_typed_question(p, running, survey)
        assert kind is QuestionType.TEXT
        update_id = api.send_text(p.user_id, TYPED)
        await api.wait_for_message(p.user_id, internal_error, timeout=20)
        assert question_id not in (await running.ctx.store.load(p.key)).state.answers
        await logs.wait_for(f"update {update_id} from user {p.user_id} failed")
        logs.assert_clean(TYPED)
        assert "storage/" in logs.text.getvalue()  # the failing step


async def test_an_update_the_bot_cannot_read_stays_out_of_the_logs_polling(
    api: RecordingBotAPI, running: Running, logs: CapturedLogs
) -> None:
    update_id = api.push_raw_update(malformed_update(3003))
    await logs.wait_for(f"update {update_id} could not be read")
    logs.assert_clean(TYPED)
    assert "message.text" in logs.text.getvalue()  # where the update is wrong
    # It is skipped, not fetched again and again: the next participant is served.
    someone = Participant(api, 3005, running=running)
    welcome = await someone.send("/start")
    assert welcome.buttons, "the next participant got no welcome"


async def test_an_update_the_bot_cannot_read_stays_out_of_the_logs_webhook(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, logs: CapturedLogs
) -> None:
    async with webhook_bot(api, database_url, clock) as served:
        async with (
            ClientSession() as http,
            http.post(
                served.url,
                data=json.dumps(malformed_update(3004, update_id=910_001)),
                headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
            ) as response,
        ):
            assert response.status == 400  # refused as it arrives, never handled
        await logs.wait_for("update 910001 is not a valid Telegram update")
    gc.collect()  # asyncio logs a task's unretrieved exception when the task is collected
    await asyncio.sleep(0)
    logs.assert_clean(TYPED)


def malformed_update(user_id: int, update_id: int | None = None) -> dict[str, Any]:
    """A message whose date and text do not validate (the text is a list holding the answer)."""
    update: dict[str, Any] = {
        "message": {
            "message_id": 1,
            "date": "yesterday",
            "chat": {"id": user_id, "type": "private", "first_name": "Test"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Test"},
            "text": [TYPED],
        }
    }
    if update_id is not None:
        update["update_id"] = update_id
    return update


# -- text that cannot be stored ----------------------------------------------------------------


async def test_a_lone_surrogate_or_nul_is_refused_and_the_participant_goes_on(
    api: RecordingBotAPI,
    any_database_url: str,
    clock: ManualClock,
    survey: Survey,
    logs: CapturedLogs,
    tmp_path: Path,
) -> None:
    async with polling_bot(api, any_database_url, clock) as running:
        submitter = Participant(api, 3005, running=running)
        drafter = Participant(api, 3006, running=running)
        for p in (submitter, drafter):
            await at_first_typed_question(p, running, survey)
            before = await running.ctx.store.load(p.key)
            for bad in ("Avis \ud800 coupé", "Avis\x00nul", "\u200b\u2800\ufeff"):
                api.send_text(p.user_id, bad)
                await p.settle()
                reply = p.last().text or ""
                assert (INVALID_FR if bad[0] == "A" else "vide") in reply, reply
                assert INTERNAL_FR not in reply
                after = await running.ctx.store.load(p.key)
                assert after.state == before.state and after.version == before.version
        # the server sends "\ud800" as JSON escapes it, as a forged webhook body could
        state = await answer_until(submitter, survey, lambda: running.ctx.store.load(submitter.key))
        assert state.phase is Phase.REVIEW
        receipt = await submitter.tap("Envoyer")
        assert "Référence" in (receipt.text or "")
        assert (await running.ctx.store.load(submitter.key)).status == "submitted"

    out = tmp_path / "answers.csv"
    parser = argparse.ArgumentParser()
    add_export_commands(parser.add_subparsers(dest="command", required=True))
    settings = Settings(database_url=any_database_url, survey_file=DEFAULT_SURVEY)
    for argv in (
        ["export", "--out", str(out), "--include-drafts"],
        ["export", "--format", "xlsx", "--out", str(tmp_path / "a.xlsx"), "--include-drafts"],
        ["report", "--out", str(tmp_path / "report.html"), "--include-drafts"],
    ):
        args = parser.parse_args(argv)
        assert await asyncio.to_thread(args.func, args, settings) == 0, argv
    exported = out.read_text(encoding="utf-8-sig")
    assert exported.count("\n") >= 3  # the header, the submission and the draft
    logs.assert_clean("Avis \ud800 coupé", "Avis\x00nul")


async def test_an_other_text_with_a_lone_surrogate_is_refused(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = Participant(api, 3007, running=running)
    await p.send("/start")

    def offers_other(state: Any) -> bool:
        question = survey.by_id.get(state.current or "")
        return (
            question is not None
            and question.type is QuestionType.SINGLE_CHOICE
            and (question.other)
        )

    state = await answer_until(p, survey, lambda: running.ctx.store.load(p.key), offers_other)
    assert state.current is not None
    await p.tap("Autre (préciser)")
    waiting = await running.ctx.store.load(p.key)
    assert waiting.state.awaiting_other
    api.send_text(p.user_id, "Fondation \udc00")
    await p.settle()
    assert INVALID_FR in (p.last().text or "")
    assert (await running.ctx.store.load(p.key)).state == waiting.state
    await p.send("Fondation")
    assert (await running.ctx.store.load(p.key)).state.answers[state.current].other == "Fondation"
