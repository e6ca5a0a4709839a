"""Store: apply and load, pruning, closing date, idempotency, erase, preview, admin helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialogs import Answer, Phase, State, Survey, new_state
from dialogs.events import Amend, Choose, Edit, Start, Status, Submit, SwitchLanguage, TextInput
from dialogs.screens import ReceiptScreen
from storage.database import Database
from storage.models import answers, participants, processed_updates, responses
from storage.repository import (
    NewResponse,
    ParticipantKey,
    ReferenceTaken,
    Store,
    survey_file_hash,
)
from tests.storage.helpers import (
    during,
    fixed,
    stepper,
    texts_survey,
    tg,
    walk_to_review,
)

EXPECTED = {
    "consent": Answer(True),
    "actor_type": Answer("other", "Fondation d’entreprise"),
    "region": Answer("bretagne"),
    "cluster_member": Answer("yes"),
    "cluster_name": Answer(("mer_bretagne_atlantique",)),
    "member_since": Answer(2012),
    "satisfaction_overall": Answer(2),
    "dissatisfaction": Answer(("red_tape", "other"), "Trop de réunions"),
    "services_used": Answer(("collab_projects", "eu_projects")),
    "services_value": Answer(4),
    "priorities": Answer(("skills", "ecological_transition", "collab_rd")),
    "regions_role": Answer(4),
    "fee_acceptable": Answer(None),
    "comments": Answer("Première ligne\nDeuxième ligne = +1 @moi"),
    "contact_email": Answer("Jeanne.Dupont@example.fr"),
}


async def answer_rows(engine: AsyncEngine, key: ParticipantKey) -> dict[str, tuple[object, ...]]:
    statement = (
        select(answers.c.question_id, answers.c.value, answers.c.other)
        .join(responses, responses.c.id == answers.c.response_id)
        .join(participants, participants.c.id == responses.c.participant_id)
        .where(participants.c.telegram_id == key.telegram_id)
    )
    async with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in await connection.execute(statement)}


async def count(engine: AsyncEngine, table: object, *where: object) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(
            select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        )
    return int(value or 0)


async def test_round_trip_every_question_type(
    store: Store, survey: Survey, url: str, engine: AsyncEngine
) -> None:
    key = tg(1001)
    state = await walk_to_review(store, key, during(survey))
    assert state.phase is Phase.REVIEW
    for question_id, answer in EXPECTED.items():
        assert state.answers[question_id] == answer, question_id
    types = {survey.by_id[q].type for q in state.answers}
    assert {t.value for t in types} == {
        "consent",
        "single_choice",
        "multi_choice",
        "ranking",
        "scale",
        "number",
        "text",
        "email",
        "organisation_id",
    }
    assert state.answers["organisation"] == Answer("73282932000074")

    # A new database and store, as after a restart, read exactly the same state.
    async with Database(url) as other:
        reloaded = await Store(other, survey, file_hash="0" * 64).load(key)
    assert reloaded.state == state
    assert reloaded.status == "draft"
    assert reloaded.participant is not None and reloaded.participant.telegram_id == 1001

    rows = await answer_rows(engine, key)
    assert set(rows) == set(state.answers)
    assert rows["fee_acceptable"] == (None, None)
    assert rows["dissatisfaction"] == (["red_tape", "other"], "Trop de réunions")
    assert rows["member_since"] == (2012, None)
    assert rows["consent"] == (True, None)


async def test_pruned_answers_are_deleted(
    store: Store, survey: Survey, engine: AsyncEngine
) -> None:
    key = tg(1002)
    now = during(survey)
    state = await walk_to_review(store, key, now)
    hidden_later = {"cluster_name", "member_since", "services_used", "services_value"}
    assert hidden_later <= set(state.answers)

    edit = await store.apply(
        key, stepper(survey, Edit("cluster_member", state.step), now), clock=fixed(now)
    )
    assert edit.state.current == "cluster_member"
    changed = await store.apply(
        key,
        stepper(survey, lambda s: Choose("cluster_member", "no", s.step), now),
        clock=fixed(now),
    )
    assert changed.state.answers["cluster_member"] == Answer("no")
    assert not hidden_later & set(changed.state.answers)

    rows = await answer_rows(engine, key)
    assert set(rows) == set(changed.state.answers)
    assert (await store.load(key)).state == changed.state


async def test_version_counts_changes_only(store: Store, survey: Survey) -> None:
    key = tg(1003)
    now = during(survey)
    first = await store.apply(key, stepper(survey, Start(), now), clock=fixed(now))
    assert first.version == 1 and first.status == "draft"
    # Refused input and /status change nothing: nothing is written, the version stays.
    refused = await store.apply(key, stepper(survey, TextInput("peut-être"), now), clock=fixed(now))
    assert refused.result is not None and refused.result.output.notices
    status = await store.apply(key, stepper(survey, Status(), now), clock=fixed(now))
    assert refused.version == status.version == 1
    accepted = await store.apply(key, stepper(survey, TextInput("1"), now), clock=fixed(now))
    assert accepted.version == 2
    assert (await store.load(key)).version == 2


async def test_nothing_started_creates_no_response(
    store: Store, survey: Survey, engine: AsyncEngine
) -> None:
    key = tg(1004)
    now = during(survey)
    snapshot = await store.load(key, language_hint="en")
    assert snapshot.participant is None and snapshot.state == new_state(survey, "en")

    await store.apply(key, stepper(survey, Status(), now), clock=fixed(now), language_hint="en")
    assert await count(engine, responses) == 0
    assert await count(engine, participants, participants.c.telegram_id == 1004) == 1

    switched = await store.apply(key, stepper(survey, SwitchLanguage("fr"), now), clock=fixed(now))
    assert switched.state.language == "fr"
    loaded = await store.load(key, language_hint="en")
    assert loaded.state.language == "fr" and loaded.status is None

    started = await store.apply(key, stepper(survey, Start(), now), clock=fixed(now))
    assert started.state.language == "fr" and started.version == 1
    assert await count(engine, responses) == 1


async def test_language_hint_and_switch(store: Store, survey: Survey) -> None:
    key = tg(1005)
    now = during(survey)
    started = await store.apply(
        key, stepper(survey, Start(), now), clock=fixed(now), language_hint="en"
    )
    assert started.state.language == "en"
    await store.apply(key, stepper(survey, SwitchLanguage("fr"), now), clock=fixed(now))
    assert (await store.load(key, language_hint="en")).state.language == "fr"
    assert (await store.load(tg(9999), language_hint="de")).state.language == "fr"


async def test_duplicate_update_is_not_applied_twice(store: Store, survey: Survey) -> None:
    key = tg(1006)
    now = during(survey)
    await store.apply(key, stepper(survey, Start(), now), clock=fixed(now), update_id=500)
    calls = 0

    def step(state: State):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return stepper(survey, Choose("consent", "accept", state.step), now)(state)

    first = await store.apply(key, step, clock=fixed(now), update_id=501)
    again = await store.apply(key, step, clock=fixed(now), update_id=501)
    assert calls == 1
    assert not first.duplicate and again.duplicate and again.result is None
    assert again.state == first.state and again.version == first.version == 2
    # The same update id for someone else is a duplicate too: ids are global.
    other = await store.apply(
        tg(1007), stepper(survey, Start(), now), clock=fixed(now), update_id=501
    )
    assert other.duplicate


async def test_closing_date_is_checked_when_writing(
    store: Store, survey: Survey, engine: AsyncEngine
) -> None:
    closes = survey.closes_at
    just_before = closes - timedelta(seconds=1)

    # Accepted: written one second before the closing.
    on_time = tg(1010)
    review = await walk_to_review(store, on_time, during(survey))
    accepted = await store.apply(
        on_time,
        stepper(survey, Submit("REF-ON-TIME", review.step), just_before),
        clock=fixed(just_before),
    )
    assert not accepted.refused_closed
    assert accepted.status == "submitted"
    assert accepted.state.phase is Phase.SUBMITTED
    assert accepted.state.reference == "REF-ON-TIME"
    assert accepted.state.submitted_at == just_before

    # Refused: the engine saw an open survey, but the write happens at the closing time.
    late = tg(1011)
    review = await walk_to_review(store, late, during(survey))
    refused = await store.apply(
        late, stepper(survey, Submit("REF-LATE", review.step), just_before), clock=fixed(closes)
    )
    assert refused.refused_closed
    assert refused.status == "draft"
    assert refused.state == review
    stored = await store.load(late)
    assert stored.status == "draft"
    assert stored.state.phase is Phase.REVIEW
    assert stored.state.reference is None and stored.state.submitted_at is None
    assert stored.state.answers == review.answers
    assert set(await answer_rows(engine, late)) == set(review.answers)
    assert (await count(engine, responses, responses.c.reference == "REF-LATE")) == 0

    # A second Submit on the accepted response: the same receipt, one response.
    again = await store.apply(
        on_time,
        stepper(survey, Submit("REF-OTHER", accepted.state.step), just_before),
        clock=fixed(just_before),
    )
    assert again.state.reference == "REF-ON-TIME"
    assert again.state.submitted_at == just_before
    assert again.result is not None
    assert [n.key for n in again.result.output.notices] == ["already_submitted"]
    loaded = await store.load(on_time)
    assert loaded.state.reference == "REF-ON-TIME" and loaded.status == "submitted"
    assert await count(engine, responses, responses.c.reference == "REF-OTHER") == 0
    assert await store.counts_by_status() == {"draft": 1, "submitted": 1, "preview": 0}


async def test_amended_submission_keeps_its_receipt(db: Database) -> None:
    survey = texts_survey(3, allow_amend=True)
    store = Store(db, survey, file_hash="1" * 64)
    key = tg(1020)
    now = during(survey)
    clock = fixed(now)
    await store.apply(key, stepper(survey, Start(), now), clock=clock)
    for text in ("a", "b", "c"):
        await store.apply(key, stepper(survey, TextInput(text), now), clock=clock)
    review = (await store.load(key)).state
    first = await store.apply(key, stepper(survey, Submit("REF-1", review.step), now), clock=clock)
    assert first.status == "submitted"

    later = now + timedelta(days=1)
    await store.apply(key, stepper(survey, Amend(), later), clock=fixed(later))
    state = (await store.load(key)).state
    await store.apply(key, stepper(survey, Edit("q02", state.step), later), clock=fixed(later))
    await store.apply(key, stepper(survey, TextInput("B"), later), clock=fixed(later))
    state = (await store.load(key)).state
    second = await store.apply(
        key, stepper(survey, Submit("REF-2", state.step), later), clock=fixed(later)
    )
    assert second.state.phase is Phase.SUBMITTED
    assert second.state.reference == "REF-1"
    assert second.state.submitted_at == now
    assert second.state.answers["q02"] == Answer("B")
    assert (await store.load(key)).state == second.state
    # both submissions are kept: the first with its answers, the amended one as version 2
    history = await store.submitted_versions("REF-1")
    assert history is not None
    assert [(v.number, v.submitted_at) for v in history.versions] == [(1, now), (2, later)]
    assert history.versions[0].answers["q02"] == {"value": "b", "other": None}
    assert history.versions[1].answers["q02"] == {"value": "B", "other": None}
    assert await store.submitted_versions("REF-2") is None


async def test_a_taken_reference_is_drawn_again_by_the_store(store: Store, db: Database) -> None:
    survey = texts_survey(1)
    store = Store(db, survey, file_hash="1" * 64)
    now = during(survey)
    for telegram_id in (1030, 1031):
        await store.apply(tg(telegram_id), stepper(survey, Start(), now), clock=fixed(now))
        await store.apply(tg(telegram_id), stepper(survey, TextInput("x"), now), clock=fixed(now))
    state = (await store.load(tg(1030))).state
    await store.apply(
        tg(1030), stepper(survey, Submit("SAME", state.step), now), clock=fixed(now), update_id=7
    )
    state = (await store.load(tg(1031))).state
    draws = iter(["SAME", "OTHER"])  # the first draw collides too
    retried = await store.apply(
        tg(1031),
        stepper(survey, Submit("SAME", state.step), now),
        clock=fixed(now),
        update_id=8,
        draw_reference=lambda: next(draws),
    )
    assert not retried.duplicate and retried.state.reference == "OTHER"
    assert retried.result is not None
    receipt = retried.result.output.screens[-1]
    assert isinstance(receipt, ReceiptScreen) and receipt.reference == "OTHER"
    assert (await store.load(tg(1031))).state.reference == "OTHER"
    assert (await store.load(tg(1030))).state.reference == "SAME"
    history = await store.submitted_versions("OTHER")
    assert history is not None and [v.number for v in history.versions] == [1]
    # the update id was recorded once, with the submission that was written
    again = await store.apply(
        tg(1031), stepper(survey, Submit("X", state.step), now), clock=fixed(now), update_id=8
    )
    assert again.duplicate
    # every draw taken: the store gives up and says so, nothing written
    await store.apply(tg(1032), stepper(survey, Start(), now), clock=fixed(now))
    await store.apply(tg(1032), stepper(survey, TextInput("x"), now), clock=fixed(now))
    before = (await store.load(tg(1032))).state
    with pytest.raises(ReferenceTaken):
        await store.apply(
            tg(1032),
            stepper(survey, Submit("SAME", before.step), now),
            clock=fixed(now),
            draw_reference=lambda: "OTHER",
        )
    assert (await store.load(tg(1032))).state == before


async def test_preview_is_stored_as_preview_and_ignores_the_window(
    store: Store, survey: Survey
) -> None:
    key = ParticipantKey.preview("alice")
    long_after = survey.closes_at + timedelta(days=400)
    state = await store.apply(
        key,
        stepper(survey, Start(), long_after, preview=True),
        clock=fixed(long_after),
        preview=True,
    )
    assert state.status == "preview"
    await store.apply(
        key,
        stepper(survey, Choose("consent", "accept", state.state.step), long_after, preview=True),
        clock=fixed(long_after),
        preview=True,
    )
    resumed = await store.load(key)
    assert resumed.status == "preview"
    assert resumed.state.answers == {"consent": Answer(True)}
    assert resumed.participant is not None and resumed.participant.preview_name == "alice"
    assert resumed.participant.telegram_id is None
    assert (await store.load(ParticipantKey.preview("bob"))).participant is None
    assert await store.counts_by_status() == {"draft": 0, "submitted": 0, "preview": 1}


async def test_erase_removes_everything_of_one_participant(
    store: Store, survey: Survey, engine: AsyncEngine
) -> None:
    now = during(survey)
    for telegram_id in (1040, 1041):
        state = await walk_to_review(store, tg(telegram_id), now)
    await store.apply(
        tg(1041), stepper(survey, Submit("KEEP", state.step), now), clock=fixed(now), update_id=42
    )
    assert await store.erase(tg(1040))
    assert not await store.erase(tg(1040))
    assert not await store.erase(tg(5555))

    assert (await store.load(tg(1040))).participant is None
    assert await answer_rows(engine, tg(1040)) == {}
    assert await count(engine, participants, participants.c.telegram_id == 1040) == 0
    kept = await store.load(tg(1041))
    assert kept.status == "submitted" and kept.state.reference == "KEEP"
    assert set(await answer_rows(engine, tg(1041))) == set(kept.state.answers)
    assert await count(engine, responses) == 1
    assert await count(engine, processed_updates) == 1  # no personal data: kept

    # Someone erased can start again from scratch.
    again = await store.apply(tg(1040), stepper(survey, Start(), now), clock=fixed(now))
    assert again.version == 1 and again.state.answers == {}


async def test_mark_blocked(store: Store, survey: Survey, engine: AsyncEngine) -> None:
    now = during(survey)
    assert not await store.mark_blocked(1050, True)
    await store.apply(tg(1050), stepper(survey, Start(), now), clock=fixed(now))
    assert await store.mark_blocked(1050, True, now=now)
    snapshot = await store.load(tg(1050))
    assert snapshot.participant is not None and snapshot.participant.blocked
    # Writing to the bot again means it is no longer blocked.
    await store.apply(tg(1050), stepper(survey, Status(), now), clock=fixed(now))
    snapshot = await store.load(tg(1050))
    assert snapshot.participant is not None and not snapshot.participant.blocked


async def test_timestamps_are_aware_utc(store: Store, survey: Survey, engine: AsyncEngine) -> None:
    paris = survey.opens_at + timedelta(days=1)  # an aware time at +01:00
    await store.apply(tg(1060), stepper(survey, Start(), paris), clock=fixed(paris))
    async with engine.connect() as connection:
        started = await connection.scalar(select(responses.c.started_at))
    assert started is not None
    assert started.utcoffset() == timedelta(0)
    assert started == paris

    naive = datetime(2022, 2, 1, 12, 0)
    with pytest.raises(Exception, match="naive"):
        await store.apply(tg(1061), stepper(survey, Start(), paris), clock=lambda: naive)


async def test_register_survey_records_the_file_hash(db: Database, survey: Survey) -> None:
    first = Store(db, survey, file_hash=survey_file_hash("version 1"))
    assert await first.register_survey() is None
    second = Store(db, survey, file_hash=survey_file_hash(b"version 2"))
    assert await second.register_survey() == survey_file_hash("version 1")
    assert await second.register_survey() == survey_file_hash("version 2")


async def test_settings(store: Store) -> None:
    assert await store.get_setting("pseudonym_key") is None
    assert await store.setdefault_setting("pseudonym_key", "first") == "first"
    assert await store.setdefault_setting("pseudonym_key", "second") == "first"
    assert await store.get_setting("pseudonym_key") == "first"


async def test_forget_processed_updates(store: Store, survey: Survey) -> None:
    now = during(survey)
    await store.apply(tg(1070), stepper(survey, Start(), now), clock=fixed(now), update_id=1)
    later = now + timedelta(days=2)
    await store.apply(tg(1070), stepper(survey, Status(), later), clock=fixed(later), update_id=2)
    assert await store.forget_processed_updates(now + timedelta(days=1)) == 1
    replay = await store.apply(
        tg(1070), stepper(survey, Status(), later), clock=fixed(later), update_id=2
    )
    assert replay.duplicate


async def test_forget_processed_updates_in_batches(store: Store, survey: Survey) -> None:
    now = during(survey)
    for update_id in range(1, 12):
        moment = now + timedelta(minutes=update_id)
        await store.apply(
            tg(1071), stepper(survey, Status(), moment), clock=fixed(moment), update_id=update_id
        )
    # the ten oldest go, three by three; the newest stays
    assert (
        await store.forget_processed_updates(now + timedelta(minutes=10, seconds=1), batch=3) == 10
    )
    assert (
        await store.apply(tg(1071), stepper(survey, Status(), now), clock=fixed(now), update_id=11)
    ).duplicate
    assert not (
        await store.apply(tg(1071), stepper(survey, Status(), now), clock=fixed(now), update_id=10)
    ).duplicate


async def test_update_ids_are_scoped_to_the_bot(db: Database, survey: Survey) -> None:
    """A database reused with another bot token: the new bot's update ids start again from
    small numbers and must not be taken for redeliveries of the old bot's updates."""
    now = during(survey)
    old = Store(db, survey, file_hash="0" * 64, bot_id=111)
    new = Store(db, survey, file_hash="0" * 64, bot_id=222)
    for update_id in (1, 2):
        await old.apply(
            tg(1080), stepper(survey, Start(), now), clock=fixed(now), update_id=update_id
        )
    first = await new.apply(tg(1081), stepper(survey, Start(), now), clock=fixed(now), update_id=1)
    assert not first.duplicate
    assert first.version == 1
    again = await new.apply(tg(1081), stepper(survey, Status(), now), clock=fixed(now), update_id=1)
    assert again.duplicate
    assert await count(db.engine, processed_updates) == 3
    bots = select(processed_updates.c.bot_id, processed_updates.c.update_id).order_by(
        processed_updates.c.bot_id, processed_updates.c.update_id
    )
    async with db.engine.connect() as connection:
        assert (await connection.execute(bots)).all() == [(111, 1), (111, 2), (222, 1)]
    # the trimmer forgets old ids of every bot, the key being (bot, update id)
    assert await new.forget_processed_updates(now + timedelta(seconds=1), batch=2) == 3
    assert await count(db.engine, processed_updates) == 0


def synthetic(survey: Survey, index: int, status: str) -> NewResponse:
    submitted_at = datetime(2022, 2, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=index)
    values: dict[str, Answer] = {
        "consent": Answer(True),
        "actor_type": Answer("research"),
        "region": Answer("other", f"Région n°{index}") if index % 7 == 0 else Answer("bretagne"),
        "satisfaction_overall": Answer(index % 5 + 1),
        "priorities": Answer(("skills", "collab_rd", "territories")),
        "comments": Answer(f"Réponse {index} ✓"),
    }
    submitted = status == "submitted"
    state = State(
        language="en" if index % 3 == 0 else "fr",
        phase=Phase.SUBMITTED if submitted else Phase.REVIEW,
        answers=values,
        step=40,
        reference=f"R{index:07d}" if submitted else None,
        submitted_at=submitted_at if submitted else None,
    )
    key = ParticipantKey.preview(f"p{index}") if status == "preview" else tg(2_000_000 + index)
    return NewResponse(
        key,
        state,
        started_at=submitted_at - timedelta(minutes=12),
        status=status,  # type: ignore[arg-type]
    )


async def test_bulk_insert_and_stream(store: Store, survey: Survey) -> None:
    statuses = ["submitted"] * 5 + ["draft", "preview"]
    rows = [synthetic(survey, i, statuses[i % len(statuses)]) for i in range(2_345)]
    assert await store.bulk_insert_responses(rows, batch_size=500) == len(rows)
    expected = {"submitted": 0, "draft": 0, "preview": 0}
    for row in rows:
        expected[row.status or "draft"] += 1
    assert await store.counts_by_status() == expected

    batches = [batch async for batch in store.stream_responses(batch_size=400)]
    assert all(len(batch) <= 400 for batch in batches)
    streamed = [row for batch in batches for row in batch]
    assert len(streamed) == expected["submitted"]
    ids = [row.id for row in streamed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_reference = {row.state.reference: row for row in rows if row.state.reference}
    for got in streamed:
        assert got.status == "submitted"
        assert got.reference is not None
        source = by_reference[got.reference]
        assert got.answers == dict(source.state.answers)
        assert got.telegram_id == source.participant.telegram_id
        assert got.language == source.state.language
        assert got.submitted_at == source.state.submitted_at
        assert got.state_data["phase"] == "submitted"

    everything = [r async for batch in store.stream_responses(1000, True, True) for r in batch]
    assert len(everything) == len(rows)
    previews = [r for r in everything if r.status == "preview"]
    assert previews and all(r.telegram_id is None and r.preview_name for r in previews)

    # A bulk-inserted response is an ordinary one: it loads.
    loaded = await store.load(rows[0].participant)
    assert loaded.state.answers == rows[0].state.answers and loaded.status == "submitted"
