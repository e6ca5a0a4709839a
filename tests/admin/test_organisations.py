"""Organisations behind the responses: two submitted responses with one SIREN (one given as a
SIRET) are flagged in `consultbot stats` and in the export; a draft with the same SIREN is not
counted; nothing is merged."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from benchmarks.generate import synthetic_responses
from bot.survey_file import LoadedSurvey
from dialogs.state import Answer, Phase
from storage.repository import NewResponse
from tests.admin.test_cli import consultbot
from tests.e2e.harness import RecordingBotAPI, open_store

pytestmark = pytest.mark.e2e


def with_organisation(row: NewResponse, number: str, *, draft: bool = False) -> NewResponse:
    answers = {**row.state.answers, "organisation": Answer(number)}
    state = dataclasses.replace(row.state, answers=answers)
    if draft:
        state = dataclasses.replace(state, phase=Phase.REVIEW, submitted_at=None, reference=None)
    return dataclasses.replace(row, state=state, status="draft" if draft else None)


async def test_two_responses_of_one_siren_are_flagged_in_stats_and_export(
    api: RecordingBotAPI, database_url: str, loaded: LoadedSurvey, tmp_path: Path
) -> None:
    rows = list(synthetic_responses(loaded.survey, 5, first_id=70_000))
    rows[0] = with_organisation(rows[0], "73282932000074")  # a SIRET of SIREN 732829320
    rows[1] = with_organisation(rows[1], "732829320")  # the SIREN itself
    rows[2] = with_organisation(rows[2], "552100554")
    rows[3] = with_organisation(rows[3], "732829320", draft=True)  # not submitted: not counted
    async with open_store(database_url, loaded) as store:
        await store.register_survey()
        assert await store.bulk_insert_responses(rows) == 5
    first, second = rows[0].state.reference, rows[1].state.reference
    others = {r.state.answers["organisation"].value for r in rows[2:]}
    assert "732829320" in others  # the draft

    code, out, err = await consultbot(api, database_url, "stats")
    assert code == 0, err
    identified = 4  # rows 0, 1, 2 and row 4 (its generated SIREN)
    assert f"Structures identifiées : 3 (SIREN), dans {identified} réponses envoyées" in out
    assert "1 structures ont envoyé plusieurs réponses" in out
    assert f"• SIREN 732829320 : 2 réponses ({first}, {second})" in out
    assert "552100554" not in out

    target = tmp_path / "export.csv"
    code, _, err = await consultbot(
        api, database_url, "export", "--format", "csv", "--out", str(target), "--include-drafts"
    )
    assert code == 0, err
    with target.open(encoding="utf-8-sig") as handle:
        exported = {row["reference"]: row for row in csv.DictReader(handle)}
    assert exported[first]["organisation"] == "73282932000074"
    assert exported[first]["organisation.siren"] == "732829320"
    assert exported[first]["organisation.siren_submitted"] == "2"
    assert exported[second]["organisation.siren_submitted"] == "2"
    assert exported[rows[2].state.reference or ""]["organisation.siren_submitted"] == "1"
    drafts = [row for row in exported.values() if row["status"] == "draft"]
    assert len(drafts) == 1
    assert drafts[0]["organisation.siren"] == "732829320"
    assert drafts[0]["organisation.siren_submitted"] == "2"  # the submitted ones it matches
