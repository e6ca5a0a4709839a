"""Broadcasts to segments by answers (`--where`, the `show_if` language) and by invitation source
(`--source`): exactly the matching participants, checked against the database; never twice, also
when the sending command is SIGKILLed and the broadcast resumed; a reminder with a `where`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from benchmarks.generate import synthetic_responses
from bot.config import DEFAULT_SURVEY, Settings
from bot.context import BotContext
from bot.survey_file import LoadedSurvey
from bot.workers import fire_due_reminders
from dialogs import SurveyError, parse_survey
from dialogs.where import where_of
from storage.broadcasts import UNKNOWN_OUTCOME, BroadcastStore, Targeting
from storage.database import Database
from storage.links import LinkStore
from storage.models import answers, broadcasts, deliveries, participants, responses
from storage.repository import NewResponse, Store
from storage.schema import ensure_schema
from tests.admin.conftest import ADMIN, workers
from tests.admin.test_cli import ROOT, consultbot
from tests.admin.test_queue import url  # noqa: F401  (the SQLite and PostgreSQL fixture)
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, open_store, polling_bot

COMPANIES = {"company_micro", "company_sme", "company_midcap", "company_large"}
WHERE = 'actor_type in ["company_micro", "company_sme"] or region == "bretagne"'
NOW = datetime(2022, 2, 1, 9, 0, tzinfo=UTC)


def value(row: NewResponse, question_id: str) -> object:
    answer = row.state.answers.get(question_id)
    return None if answer is None else answer.value


def expected(rows: list[NewResponse]) -> set[int]:
    """Who WHERE reaches, computed here from the generated answers (not by the code tested)."""
    return {
        row.participant.telegram_id or 0
        for row in rows
        if value(row, "actor_type") in ("company_micro", "company_sme")
        or value(row, "region") == "bretagne"
    }


async def recipients_of(store: Store, broadcast_id: int) -> set[int]:
    d, p = deliveries, participants
    query = (
        select(p.c.telegram_id)
        .join(d, d.c.participant_id == p.c.id)
        .where(d.c.broadcast_id == broadcast_id)
    )
    rows = await store.db.runner.read(lambda c: c.execute(query).all())
    return {row[0] for row in rows}


@pytest.fixture
async def store(url: str, loaded: LoadedSurvey) -> AsyncIterator[Store]:  # noqa: F811
    async with open_store(url, loaded) as opened:
        yield opened


async def test_where_and_source_reach_exactly_the_matching_participants(store: Store) -> None:
    survey = store.survey
    rows = list(synthetic_responses(survey, 150, first_id=80_000))
    await store.register_survey()
    assert await store.bulk_insert_responses(rows) == 150
    links = LinkStore(store.db, survey.id)
    aero = await links.create("pole:aerospace-valley", now=NOW)
    mer = await links.create("pole:mer-bretagne", now=NOW)
    bzh = await links.create("region:bretagne", now=NOW)
    ids = [row.participant.telegram_id or 0 for row in rows]
    by_link = {aero.code: ids[0:30], mer.code: ids[30:50], bzh.code: ids[50:90]}
    for code, people in by_link.items():
        for telegram_id in people:
            assert await links.record_start(telegram_id, code, now=NOW)
    queue = BroadcastStore(store.db, survey.id, survey=survey)

    wanted = expected(rows)
    assert 10 < len(wanted) < 140  # the generated answers give both kinds
    where = Targeting(where=where_of(survey, WHERE))
    assert await queue.count_recipients("submitted", where) == len(wanted)
    broadcast_id = await queue.create("submitted", "Hello", now=NOW, targeting=where)
    assert broadcast_id is not None
    assert await recipients_of(store, broadcast_id) == wanted
    stored = await store.db.runner.read(
        lambda c: c.execute(
            select(broadcasts.c.target_where, broadcasts.c.target_source).where(
                broadcasts.c.id == broadcast_id
            )
        ).one()
    )
    assert tuple(stored) == (WHERE, None)

    one_pole = Targeting(source="pole:aerospace-valley")
    assert await queue.count_recipients("all", one_pole) == 30
    every_pole = Targeting(source="pole:")
    pole_id = await queue.create("all", "Pôles", now=NOW, targeting=every_pole)
    assert pole_id is not None
    assert await recipients_of(store, pole_id) == set(ids[0:50])

    both = Targeting(where=where_of(survey, WHERE), source="region:bretagne")
    both_id = await queue.create("all", "Both", now=NOW, targeting=both)
    assert both_id is not None
    assert await recipients_of(store, both_id) == wanted & set(ids[50:90])

    # Nobody matches: a count of zero (everyone here submitted).
    assert await queue.count_recipients("not-started", where) == 0


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ('actor_typ == "research"', "actor_typ is not a question of the survey"),
        ('actor_type == "resarch"', "'resarch' is not an option of actor_type"),
        ('actor_type = "research"', "column"),
        ("", "empty"),
        ('region == "bretagne" and region == "normandie" and not region', "no answers"),
    ],
)
def test_a_wrong_where_is_refused_with_what_is_wrong(
    loaded: LoadedSurvey, where: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        where_of(loaded.survey, where)


def test_curly_quotes_typed_on_a_phone_are_read_as_straight_ones(loaded: LoadedSurvey) -> None:
    condition = where_of(loaded.survey, "actor_type == “research”")
    assert condition.evaluate({"actor_type": "research"})


@pytest.mark.e2e
@pytest.mark.slow
async def test_cli_where_preview_then_killed_and_resumed(
    api: RecordingBotAPI, database_url: str, loaded: LoadedSurvey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADCAST_LEASE", "5")
    survey = loaded.survey
    rows = list(synthetic_responses(survey, 500, first_id=90_000, seed=7))
    async with open_store(database_url, loaded) as store:
        await store.register_survey()
        await store.bulk_insert_responses(rows)
    wanted = expected(rows)
    assert len(wanted) > 100

    # The preview counts the recipients; answering no sends nothing.
    code, out, err = await consultbot(
        api, database_url, "broadcast", "--segment", "submitted", "--where", WHERE,
        "--text", "Rappel", stdin=b"n\n",
    )  # fmt: skip
    assert code == 1 and "cancelled" in out
    assert f"Send this message to {len(wanted)} participants (submitted, where " in err
    code, _, err = await consultbot(
        api, database_url, "broadcast", "--where", 'actor_type == "nope"', "--text", "x"
    )
    assert code != 0 and "'nope' is not an option of actor_type" in err
    assert not api.calls("sendMessage")

    env = {
        **os.environ,
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "SURVEY_FILE": str(DEFAULT_SURVEY),
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "broadcast", "--segment", "submitted",
        "--where", WHERE, "--text", "Rappel", "--yes", "--rate", "100",
        env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await api.wait_for_calls("sendMessage", len(wanted) // 2, timeout=60)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    killed_at = len(api.calls("sendMessage"))
    assert killed_at < len(wanted)

    # Answers that change after the broadcast was created do not change its recipients.
    outsider = next(row for row in rows if (row.participant.telegram_id or 0) not in wanted)
    async with open_store(database_url, loaded) as store:
        broadcast_id = await store.db.runner.read(
            lambda c: c.scalar(select(broadcasts.c.id).order_by(broadcasts.c.id.desc()))
        )
        assert await recipients_of(store, broadcast_id) == wanted
        a, r, p = answers, responses, participants
        of_outsider = (
            select(r.c.id)
            .join(p, p.c.id == r.c.participant_id)
            .where(p.c.telegram_id == outsider.participant.telegram_id)
        )
        await store.db.runner.write(
            lambda c: c.execute(
                update(a)
                .where(a.c.response_id.in_(of_outsider), a.c.question_id == "region")
                .values(value="bretagne")
            )
        )
    # Not a synchronisation: the claims in flight at the kill are "in doubt" until their lease
    # (BROADCAST_LEASE, 5 s) is over; then the resumed run marks them failed, never resends them.
    await asyncio.sleep(5.1)
    code, out, err = await consultbot(
        api, database_url, "broadcast", "--resume", str(broadcast_id), "--rate", "200"
    )
    assert code == 0, err
    chats = {int(call.params["chat_id"]) for call in api.calls("sendMessage")}
    assert chats <= wanted, "someone outside the --where got the message"
    copies = {chat: sum(1 for m in api.transcript(chat) if m.text == "Rappel") for chat in wanted}
    assert max(copies.values()) == 1, "somebody got the message twice"
    missing = {chat for chat, n in copies.items() if n == 0}
    # Only the sends in flight at the kill are in doubt: marked failed, never sent again.
    async with open_store(database_url, loaded) as store:
        d, p = deliveries, participants
        failed = await store.db.runner.read(
            lambda c: c.execute(
                select(p.c.telegram_id, d.c.last_error)
                .join(d, d.c.participant_id == p.c.id)
                .where(d.c.broadcast_id == broadcast_id, d.c.status == "failed")
            ).all()
        )
    # Those in doubt may have got it (Telegram accepted it just before the kill) or not.
    assert missing <= {row[0] for row in failed}
    assert all(row[1] == UNKNOWN_OUTCOME for row in failed)
    # At 100 messages/s the bucket's burst is 20: at most that many are in flight at the kill
    # (80 to 95 before --rate sized the burst: it kept BROADCAST_RATE's, 400 here).
    assert len(failed) <= 25, (len(failed), out)
    assert f"{len(wanted) - len(failed)} sent" in out


def beside_bundled(name: str) -> str:
    """The options files the bundled questionnaire names (its long lists)."""
    return (DEFAULT_SURVEY.parent / name).read_text(encoding="utf-8")


def survey_with_a_targeted_reminder(where: str) -> str:
    data = yaml.safe_load(DEFAULT_SURVEY.read_text(encoding="utf-8"))
    data["reminders"] = [
        {
            "id": "companies",
            "before_close": "7d",
            "segment": "submitted",
            "where": where,
            "text": {"fr": "Merci les entreprises !", "en": "Thank you, companies!"},
        }
    ]
    return yaml.safe_dump(data, allow_unicode=True)


def test_a_reminder_where_is_checked_when_the_file_is_loaded() -> None:
    survey = parse_survey(survey_with_a_targeted_reminder(WHERE), read_file=beside_bundled)
    assert survey.reminders[0].where is not None
    with pytest.raises(
        SurveyError, match="reminder companies: where: column 15: 'resarch' is not an option"
    ):
        parse_survey(
            survey_with_a_targeted_reminder('actor_type == "resarch"'), read_file=beside_bundled
        )


async def test_a_reminder_with_a_where_reaches_only_the_matching_participants(
    database_url: str, tmp_path: Path
) -> None:
    survey = parse_survey(survey_with_a_targeted_reminder(WHERE), read_file=beside_bundled)
    rows = list(synthetic_responses(survey, 80, first_id=60_000, seed=3))
    await ensure_schema(database_url)
    async with Database(database_url) as db:
        store = Store(db, survey, file_hash="0" * 64)
        await store.register_survey()
        await store.bulk_insert_responses(rows)
        moment = survey.reminder_time(survey.reminders[0]) + timedelta(minutes=1)
        ctx = BotContext(survey, store, lambda: moment, Settings())
        created = await fire_due_reminders(ctx)
        assert len(created) == 1
        assert await recipients_of(store, created[0]) == expected(rows)
        assert await fire_due_reminders(ctx) == []  # once


@pytest.mark.e2e
async def test_the_admin_targets_a_broadcast_in_telegram(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock, ADMIN_IDS=str(ADMIN)) as running:
        store = running.ctx.store
        rows = list(synthetic_responses(store.survey, 60, first_id=50_000, seed=5))
        await store.register_survey()
        await store.bulk_insert_responses(rows)
        wanted = expected(rows)
        admin = Participant(api, ADMIN, running=running)
        refused = await admin.send('/broadcast where: actor_type == "resarch"')
        assert "Ciblage refusé" in (refused.text or "") and "resarch" in (refused.text or "")
        # A phone's curly quotes and dash are fine.
        await admin.send(
            "/broadcast —where actor_type in [“company_micro”, “company_sme”] "
            "or region == “bretagne”"
        )
        choose = await admin.send("Merci !")
        preview = await admin.tap("Réponse envoyée", choose)
        assert f"{len(wanted)} destinataires" in (preview.text or "")
        assert "where actor_type in" in (preview.text or "")
        async with workers(running):
            await admin.tap(f"Envoyer à {len(wanted)}", preview)
            await api.wait_for_message(ADMIN, lambda m: "terminé" in (m.text or ""), timeout=60)
        got = {
            chat for chat in (r.participant.telegram_id or 0 for r in rows) if api.transcript(chat)
        }
        assert got == wanted
        assert await recipients_of(store, 1) == wanted
