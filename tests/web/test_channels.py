"""One consultation, two channels: a Telegram user and a web participant are separate
participants (never merged), an export holds both channels' responses with their channel, and
Telegram broadcasts leave web participants out."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from bot.export import ExportOptions, export_responses
from dialogs.events import Choose, Start, Submit
from storage.broadcasts import segment_query
from storage.models import participants
from storage.repository import ParticipantKey
from tests.storage.helpers import fixed, stepper, walk_to_review
from tests.web.conftest import Site


async def test_telegram_and_web_answers_stay_apart_and_export_with_their_channel(
    site: Site, tmp_path: Path
) -> None:
    store, survey, now = site.store, site.survey, site.clock.now
    telegram = ParticipantKey.telegram(424242)
    web = ParticipantKey.web("a-web-participant-key")
    # Telegram: started and consented, then nothing more
    await store.apply(telegram, stepper(survey, Start(), now), clock=fixed(now))
    await store.apply(
        telegram,
        stepper(survey, lambda s: Choose("consent", "accept", s.step), now),
        clock=fixed(now),
    )
    # the web: the whole questionnaire, submitted
    state = await walk_to_review(store, web, now)
    await store.apply(web, stepper(survey, Submit("WEB1-2345", state.step), now), clock=fixed(now))

    telegram_state = (await store.load(telegram)).state
    web_state = (await store.load(web)).state
    assert list(telegram_state.answers) == ["consent"]
    assert telegram_state.reference is None
    assert web_state.reference == "WEB1-2345" and len(web_state.answers) > 10

    out = tmp_path / "export.csv"
    await export_responses(store, ExportOptions(format="csv", out=out, include_drafts=True))
    with out.open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    by_channel = {row["channel"]: row for row in rows}
    assert set(by_channel) == {"telegram", "web"}
    assert by_channel["telegram"]["status"] == "draft"
    assert by_channel["web"]["status"] == "submitted"
    assert by_channel["web"]["reference"] == "WEB1-2345"
    assert by_channel["telegram"]["pseudonym"] != by_channel["web"]["pseudonym"]
    assert by_channel["web"]["region"] == "bretagne"
    assert by_channel["telegram"]["region"] == ""

    async with store.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(
                    participants.c.channel, participants.c.telegram_id, participants.c.web_key
                ).order_by(participants.c.id)
            )
        ).all()
        everyone = (await connection.execute(segment_query(survey.id, "all"))).all()
    assert [tuple(row) for row in stored] == [
        ("telegram", 424242, None),
        ("web", None, "a-web-participant-key"),
    ]
    assert [row[1] for row in everyone] == [424242]  # broadcasts reach Telegram users only

    # the admins' figures and the report say where the responses came from
    from bot.charts import format_stats
    from bot.figures import compute_stats
    from bot.report import ReportOptions, write_report

    stats = await compute_stats(store)
    assert stats.channels == {"telegram": 1, "web": 1}
    assert "Telegram 1 · web 1" in format_stats(stats, "en")
    report = tmp_path / "report.html"
    await write_report(store, ReportOptions(out=report, language="en", include_drafts=True))
    assert "Answered in Telegram: 1 · on the web: 1." in report.read_text(encoding="utf-8")


async def test_anonymisation_cuts_web_participants_off_their_links_too(site: Site) -> None:
    import aiohttp

    from storage.pseudonyms import load_pseudonymizer
    from storage.retention import purge

    store, survey, now = site.store, site.survey, site.clock.now
    key = "web-key-to-be-anonymised"
    state = await walk_to_review(store, ParticipantKey.web(key), now)
    await store.apply(
        ParticipantKey.web(key),
        stepper(survey, Submit("ANON-2345", state.step), now),
        clock=fixed(now),
    )
    expected = (await load_pseudonymizer(store)).for_key(None, None, key)
    due = survey.anonymise_time()
    assert due is not None
    result = await purge(store, now=due)
    assert result.counts.participants == 1
    async with store.engine.connect() as connection:
        row = (
            await connection.execute(
                select(participants.c.web_key, participants.c.pseudonym, participants.c.channel)
            )
        ).one()
    assert tuple(row) == (None, expected, "web")
    link = f"{site.url}/r/{site.channel.signer.sign(key)}"
    async with aiohttp.ClientSession() as session, session.get(link) as response:
        assert response.status == 404
