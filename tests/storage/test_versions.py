"""An amended submitted response keeps each submitted version (`response_versions`): the export
gives the latest answers and their version number, `consultbot history` shows every version, and
the retention purge removes from the versions what it removes from the answers."""

from __future__ import annotations

import argparse
import asyncio
import csv
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.admin_cli import add_admin_commands
from bot.config import Settings
from bot.export import ExportOptions, export_responses
from dialogs import Survey
from dialogs.events import Amend, Edit, Start, Submit, TextInput
from dialogs.model import Retention
from storage.database import Database
from storage.models import response_versions
from storage.repository import ParticipantKey, Store
from storage.retention import purge
from tests.storage.helpers import during, fixed, stepper, texts_survey, texts_yaml, tg


async def answer_all(store: Store, key: ParticipantKey, texts: list[str], now: datetime) -> None:
    survey = store.survey
    await store.apply(key, stepper(survey, Start(), now), clock=fixed(now))
    for text in texts:
        await store.apply(key, stepper(survey, TextInput(text), now), clock=fixed(now))


async def submit(store: Store, key: ParticipantKey, reference: str, now: datetime) -> None:
    state = (await store.load(key)).state
    await store.apply(
        key, stepper(store.survey, Submit(reference, state.step), now), clock=fixed(now)
    )


async def amend(store: Store, key: ParticipantKey, question: str, text: str, at: datetime) -> None:
    survey = store.survey
    await store.apply(key, stepper(survey, Amend(), at), clock=fixed(at))
    state = (await store.load(key)).state
    await store.apply(key, stepper(survey, Edit(question, state.step), at), clock=fixed(at))
    await store.apply(key, stepper(survey, TextInput(text), at), clock=fixed(at))


async def amended_story(store: Store) -> tuple[datetime, datetime]:
    """tg(2001) submits a, b, c, amends q02 to B and submits again; tg(2002) stays a draft."""
    now = during(store.survey)
    later = now + timedelta(days=1)
    key = tg(2001)
    await answer_all(store, key, ["a", "b", "c"], now)
    await submit(store, key, "REF-V", now)
    await amend(store, key, "q02", "B", later)
    await submit(store, key, "REF-IGNORED", later)
    await answer_all(store, tg(2002), ["x"], now)
    return now, later


def survey_with_amend() -> Survey:
    return texts_survey(3, allow_amend=True)


async def test_an_amended_response_keeps_its_submitted_version(
    db: Database, tmp_path: Path
) -> None:
    store = Store(db, survey_with_amend(), file_hash="1" * 64)
    now, later = await amended_story(store)

    history = await store.submitted_versions("REF-V")
    assert history is not None
    assert [(v.number, v.submitted_at) for v in history.versions] == [(1, now), (2, later)]
    assert {q: a["value"] for q, a in history.versions[0].answers.items()} == {
        "q01": "a",
        "q02": "b",
        "q03": "c",
    }
    assert history.versions[1].answers["q02"] == {"value": "B", "other": None}

    out = tmp_path / "answers.csv"
    await export_responses(store, ExportOptions(format="csv", out=out, include_drafts=True))
    with out.open(encoding="utf-8-sig", newline="") as source:
        rows = {row["status"]: row for row in csv.DictReader(source)}
    assert rows["submitted"]["q02"] == "B"  # the latest answers
    assert rows["submitted"]["submitted_version"] == "2"
    assert rows["draft"]["submitted_version"] == ""


async def test_the_history_command_shows_every_version(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey_file = tmp_path / "texts.yaml"
    survey_file.write_text(texts_yaml(3, allow_amend=True), encoding="utf-8")
    async with Database(url) as db:
        await amended_story(Store(db, survey_with_amend(), file_hash="1" * 64))
    parser = argparse.ArgumentParser()
    add_admin_commands(parser.add_subparsers(dest="command", required=True))
    settings = Settings(database_url=url, survey_file=survey_file)
    args = parser.parse_args(["history", "REF-V"])
    assert await asyncio.to_thread(args.func, args, settings) == 0
    printed = capsys.readouterr().out
    assert "REF-V (" in printed and "2 submitted version(s)" in printed
    first, second = printed.split("version 2, submitted")
    assert "version 1, submitted" in first and "  q02: b" in first
    assert "  q02: B" in second
    assert "2001" not in printed  # pseudonymised, never the Telegram id
    args = parser.parse_args(["history", "NO-SUCH-REF"])
    with pytest.raises(SystemExit, match="no response with the reference"):
        await asyncio.to_thread(args.func, args, settings)


async def test_the_purge_blanks_free_texts_in_the_versions(db: Database) -> None:
    survey = survey_with_amend()
    survey = replace(survey, retention=Retention(anonymise_after=timedelta(0), free_texts=True))
    store = Store(db, survey, file_hash="1" * 64)
    await amended_story(store)
    done = await purge(store, now=survey.closes_at)
    assert done.ran
    history = await store.submitted_versions("REF-V")
    assert history is not None
    assert [v.answers for v in history.versions] == [{}, {}]

    async with db.engine.connect() as connection:
        kept = await connection.scalar(select(func.count()).select_from(response_versions))
    assert kept == 2


async def test_delete_erases_the_versions(db: Database) -> None:
    store = Store(db, survey_with_amend(), file_hash="1" * 64)
    await amended_story(store)
    assert await store.erase(tg(2001))
    assert await store.submitted_versions("REF-V") is None
    async with db.engine.connect() as connection:
        kept = await connection.scalar(select(func.count()).select_from(response_versions))
    assert kept == 0
