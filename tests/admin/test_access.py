"""Admin commands exist only for ADMIN_IDS: anyone else gets exactly the unknown-command reply."""

from __future__ import annotations

import pytest

from bot.i18n import t
from storage.broadcasts import BroadcastStore
from tests.admin.conftest import ADMIN
from tests.admin.population import populate
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, polling_bot

pytestmark = pytest.mark.e2e

STRANGER = 7


async def test_non_admin_gets_the_unknown_command_reply(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock, ADMIN_IDS=str(ADMIN)) as running:
        await populate(running.ctx.store, not_started=3, in_progress=3, submitted=3, now=clock())
        stranger = Participant(api, STRANGER, running=running)
        unknown = t("fr", "unknown_command")
        for command in ("/stats", "/broadcast", "/export", "/stats@test_bot"):
            before = len(stranger.messages())
            reply = await stranger.send(command)
            assert reply.text == unknown
            assert len(stranger.messages()) == before + 1
        # The next text is an answer to the survey, not a broadcast text.
        await stranger.send("Bonjour à tous")
        # An admin's button, forged or replayed by someone else, does nothing admin-like.
        await stranger.press("adm:y:00000000")
        await stranger.press("adm:s:00000000:all")
        assert api.calls("sendDocument") == []
        assert api.calls("sendPhoto") == []
        for message in stranger.messages():
            assert "Participants" not in (message.text or "")
            assert "destinataires" not in (message.text or "")
        store = BroadcastStore(running.ctx.store.db, running.ctx.survey.id)
        assert await store.reminder_ids() == set()
        assert (await store.counts(1)).total == 0


async def test_admin_gets_stats_and_export(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock, ADMIN_IDS=f"1,{ADMIN}") as running:
        await populate(running.ctx.store, not_started=4, in_progress=5, submitted=6, now=clock())
        admin = Participant(api, ADMIN, running=running)
        await admin.send("/stats")
        texts = [m.text or "" for m in admin.messages()]
        assert any("Envoyées : 6" in text for text in texts), texts
        assert any("En cours : 5" in text for text in texts), texts
        assert any("55%" in text for text in texts), texts  # 6 of 11 started
        # then every closed question's counts, as `consultbot stats` prints them
        distributions = "\n".join(t for t in texts if t.startswith("Q1 "))
        assert "(n=6)" in distributions and "Q2 " in distributions, texts
        photos = api.calls("sendPhoto")
        assert photos and all(call.ok for call in photos)
        await admin.send("/export")
        documents = api.calls("sendDocument")
        assert len(documents) == 1 and documents[0].ok
        document = documents[0].params["document"]
        assert document.filename.endswith(".xlsx")
        assert document.data[:2] == b"PK"  # a zip: an XLSX workbook
