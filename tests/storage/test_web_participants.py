"""Web participants in the store, on SQLite and PostgreSQL: known by their web key, channel
`web`, never the same participant as a Telegram user; invitations create them unstarted."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dialogs import Survey
from dialogs.events import Choose, Start
from storage.models import participants
from storage.repository import ParticipantKey, Store
from tests.storage.helpers import during, fixed, stepper


async def test_web_participants_answer_apart_from_telegram_users(
    store: Store, survey: Survey
) -> None:
    now = during(survey)
    web, telegram = ParticipantKey.web("web-1"), ParticipantKey.telegram(9001)
    for key in (web, telegram):
        await store.apply(key, stepper(survey, Start(), now), clock=fixed(now))
    await store.apply(
        web, stepper(survey, lambda s: Choose("consent", "accept", s.step), now), clock=fixed(now)
    )
    assert list((await store.load(web)).state.answers) == ["consent"]
    assert (await store.load(telegram)).state.answers == {}
    assert await store.add_web_participants(["invited-1", "invited-2"], "en", now=now) == 2
    snapshot = await store.load(ParticipantKey.web("invited-2"))
    assert snapshot.participant is not None and snapshot.state.language == "en"
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(participants.c.channel, participants.c.web_key).order_by(participants.c.id)
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("web", "web-1"),
        ("telegram", None),
        ("web", "invited-1"),
        ("web", "invited-2"),
    ]
    with pytest.raises(IntegrityError):  # one web key, one participant
        await store.add_web_participants(["web-1"], "fr", now=now)
    assert await store.erase(web)
    assert (await store.load(web)).participant is None


def test_a_participant_key_has_exactly_one_key() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ParticipantKey(telegram_id=1, web_key="x")
    with pytest.raises(ValueError, match="exactly one"):
        ParticipantKey()
    assert str(ParticipantKey.web("abcdefghij")) == "web:abcdef…"
