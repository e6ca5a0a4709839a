"""Anonymisation at the end of the retention period (`consultbot purge`, `storage.retention`), on
SQLite and PostgreSQL: nothing before the date; afterwards no Telegram id and no e-mail left, the
responses still counted and exported under the same pseudonyms; a dry run changes nothing; a
second run finds nothing to do."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.export import ExportOptions, export_responses
from dialogs import Survey
from dialogs.events import Start, Submit
from dialogs.model import DraftsPolicy, Retention
from storage.broadcasts import BroadcastStore
from storage.models import answers, deliveries, participants
from storage.repository import ParticipantKey, Store
from storage.retention import CANCELLED_REASON, PurgeCounts, purge
from tests.storage.helpers import during, fixed, stepper, tg, walk_to_review

SUBMITTED, DRAFT, STARTED_ONLY = 101, 102, 103


async def populate(store: Store) -> None:
    """A submitted response, a draft at the review, a participant who only said /start, and a
    terminal preview; the two walks give an e-mail address, free texts and "other" texts."""
    survey = store.survey
    now = during(survey)
    review = await walk_to_review(store, tg(SUBMITTED), now)
    applied = await store.apply(
        tg(SUBMITTED), stepper(survey, Submit("REF-1", review.step), now), clock=fixed(now)
    )
    assert applied.status == "submitted"
    await walk_to_review(store, tg(DRAFT), now)
    await store.apply(tg(STARTED_ONLY), stepper(survey, Start(), now), clock=fixed(now))
    await store.apply(
        ParticipantKey.preview("essai"),
        stepper(survey, Start(), now, preview=True),
        clock=fixed(now),
        preview=True,
    )


async def rows(store: Store, query: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = await store.db.runner.read(
        lambda c: [tuple(row) for row in c.execute(query)]
    )
    return found


async def snapshot(store: Store) -> dict[str, Any]:
    """Everything a test compares before and after a purge."""
    p, a = participants, answers
    return {
        "participants": await rows(
            store, select(p.c.id, p.c.telegram_id, p.c.preview_name).order_by(p.c.id)
        ),
        "answers": await rows(
            store, select(a.c.response_id, a.c.question_id, a.c.other).order_by(a.c.response_id)
        ),
        "counts": await store.counts_by_status(),
    }


async def exported(store: Store, out: Path) -> list[dict[str, str]]:
    await export_responses(store, ExportOptions(format="csv", out=out, include_drafts=True))
    with out.open(encoding="utf-8-sig", newline="") as source:
        return list(csv.DictReader(source))


def retained(survey: Survey, **settings: Any) -> Survey:
    retention = replace(survey.retention or Retention(), **settings)
    return replace(survey, retention=retention)


async def test_the_bundled_survey_is_anonymised_after_31_december_2022(
    store: Store, tmp_path: Path
) -> None:
    await populate(store)
    survey = store.survey
    due = survey.anonymise_time()
    assert due is not None and due.isoformat() == "2023-01-01T00:00:00+01:00"
    before = await snapshot(store)
    export_before = await exported(store, tmp_path / "before.csv")
    assert {row["contact_email"] for row in export_before} == {"Jeanne.Dupont@example.fr", ""}

    # Before the date: nothing is done, nothing is even counted.
    early = await purge(store, now=due - timedelta(seconds=1))
    assert not early.ran and early.due_at == due
    assert await snapshot(store) == before

    # A dry run after the date counts and changes nothing.
    dry = await purge(store, now=due, dry_run=True)
    assert dry.ran and dry.dry_run
    assert dry.counts == PurgeCounts(participants=3, email_answers=2)
    assert await snapshot(store) == before

    done = await purge(store, now=due)
    assert done.ran and done.counts == dry.counts
    after = await snapshot(store)
    telegram_ids = {row[1] for row in after["participants"] if row[2] is None}
    assert telegram_ids == {None}  # no link to an account left
    assert [row[2] for row in after["participants"] if row[2]] == ["essai"]  # previews untouched
    assert "contact_email" not in {row[1] for row in after["answers"]}  # e-mails gone ...
    assert after["counts"] == before["counts"]  # ... the responses stay countable
    assert len(after["answers"]) == len(before["answers"]) - 2  # free texts kept (not configured)

    export_after = await exported(store, tmp_path / "after.csv")
    assert len(export_after) == len(export_before)
    assert [row["pseudonym"] for row in export_after] == [row["pseudonym"] for row in export_before]
    assert {row["contact_email"] for row in export_after} == {""}
    assert [row["comments"] for row in export_after] == [row["comments"] for row in export_before]

    # Idempotent: a second run finds nothing, changes nothing.
    again = await purge(store, now=due + timedelta(days=1))
    assert again.ran and again.counts == PurgeCounts()
    assert await snapshot(store) == after

    # Someone anonymised who writes again is somebody new: the old response is not theirs.
    snapshot_new = await store.load(tg(SUBMITTED))
    assert snapshot_new.participant is None and snapshot_new.response_id is None
    assert not await store.erase(tg(SUBMITTED))


async def test_free_texts_and_drafts_when_configured(store: Store, tmp_path: Path) -> None:
    await populate(store)
    store = Store(
        store.db,
        retained(store.survey, free_texts=True, drafts=DraftsPolicy.DELETE),
        file_hash="0" * 64,
    )
    due = store.survey.anonymise_time()
    assert due is not None
    dry = await purge(store, now=due, dry_run=True)
    # One text (comments) and two "other" texts (actor_type, dissatisfaction) in each of the
    # two walks (the pôles are a list now), and the two drafts (one at the review, one just
    # started).
    assert dry.counts == PurgeCounts(participants=3, email_answers=2, free_texts=6, drafts=2)
    done = await purge(store, now=due, batch_size=2)  # two batches
    assert done.counts == dry.counts
    assert await store.counts_by_status() == {"draft": 0, "submitted": 1, "preview": 1}
    row = (await exported(store, tmp_path / "after.csv"))[0]
    assert row["comments"] == row["actor_type.other_text"] == ""
    assert row["actor_type"] == "other"  # the choice stays, its text goes
    assert row["contact_email"] == ""
    assert row["region"] == "bretagne"
    assert row["cluster_name.mer_bretagne_atlantique"] == "1"  # a choice, kept


async def test_a_delay_after_the_close_and_pending_deliveries(store: Store) -> None:
    await populate(store)
    store = Store(
        store.db,
        retained(store.survey, anonymise_at=None, anonymise_after=timedelta(days=90)),
        file_hash="0" * 64,
    )
    survey = store.survey
    due = survey.anonymise_time()
    assert due == survey.closes_at + timedelta(days=90)
    queue = BroadcastStore(store.db, survey.id)
    assert await queue.count_recipients("all") == 3
    broadcast = await queue.create("all", "Merci !", now=during(survey))
    assert broadcast is not None
    assert not (await purge(store, now=due - timedelta(minutes=1))).ran

    done = await purge(store, now=due)
    assert done.counts.deliveries == 3
    states = await rows(store, select(deliveries.c.status, deliveries.c.last_error))
    assert states == [("failed", CANCELLED_REASON)] * 3
    # Nobody anonymised is in any segment: no reminder or broadcast reaches them.
    for segment in ("all", "not-started", "in-progress", "submitted"):
        assert await queue.count_recipients(segment) == 0


async def test_without_a_retention_block_nothing_happens(store: Store) -> None:
    await populate(store)
    store = Store(store.db, replace(store.survey, retention=None), file_hash="0" * 64)
    before = await snapshot(store)
    result = await purge(store, now=store.survey.closes_at + timedelta(days=3650))
    assert not result.ran and result.due_at is None
    assert await snapshot(store) == before
