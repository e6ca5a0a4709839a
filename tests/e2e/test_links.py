"""Invitation links by source, end to end: `consultbot links create` prints the deep link, two
participants start through different links, the export and `consultbot links list` show where
each came from; a malformed or unknown code changes nothing and shows nothing."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.runner import Running
from dialogs import Survey
from storage.links import LinkError, LinkStore
from storage.models import link_starts, participants
from tests.admin.test_cli import consultbot
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, answer_current

pytestmark = pytest.mark.e2e

DEEP_LINK = re.compile(r"^telegram: https://t\.me/test_bot\?start=([A-Za-z0-9_-]{1,64})$", re.M)


async def participant_rows(running: Running) -> dict[int, tuple[int | None, int]]:
    """telegram id -> (first link id, how many links they opened)."""
    p, s = participants, link_starts
    opened = select(func.count()).where(s.c.participant_id == p.c.id).correlate(p).scalar_subquery()

    def read(connection):  # type: ignore[no-untyped-def]
        rows = connection.execute(select(p.c.telegram_id, p.c.link_id, opened)).all()
        return {telegram_id: (link_id, n) for telegram_id, link_id, n in rows}

    return await running.ctx.store.db.runner.read(read)


async def test_two_deep_links_a_bad_code_the_export_and_the_list(
    api: RecordingBotAPI,
    running: Running,
    database_url: str,
    survey: Survey,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    code, out, err = await consultbot(
        api, database_url, "links", "create", "--source", "pole:aerospace-valley", "--label", "mail"
    )
    assert code == 0, err
    aero = DEEP_LINK.search(out)
    assert aero is not None, out
    assert "web:" not in out  # no WEB_BASE_URL: no web link
    # With BOT_USERNAME set the username is not asked of Telegram (nor aiogram loaded).
    code, out, err = await consultbot(
        api, database_url, "links", "create", "--source", "region:bretagne",
        extra={"BOT_USERNAME": "test_bot"},
    )  # fmt: skip
    assert code == 0, err
    bzh = DEEP_LINK.search(out)
    assert bzh is not None
    aero_code, bzh_code = aero.group(1), bzh.group(1)
    assert aero_code != bzh_code

    plain = Participant(api, 501, running=running)
    welcome = (await plain.send("/start")).text
    welcome_back = (await plain.send("/start")).text

    alice = Participant(api, 502, running=running)
    bob = Participant(api, 503, running=running)
    mallory = Participant(api, 504, running=running)
    assert (await alice.send(f"/start {aero_code}")).text == welcome
    assert (await bob.send(f"/start {bzh_code}")).text == welcome
    # A malformed code and an unknown one: the same welcome, no error, nothing recorded.
    assert (await mallory.send("/start not$a*code")).text == welcome
    assert (await mallory.send("/start " + "x" * 65)).text == welcome_back
    assert (await mallory.send("/start unknownCode1")).text == welcome_back
    # Alice opens the other link later: her source stays the first one; the later one counts.
    await alice.send(f"/start {bzh_code}")
    snapshot = await running.ctx.store.load(alice.key)
    await answer_current(alice, survey, snapshot.state)

    links = {c.link.code: c for c in await LinkStore(running.ctx.store.db, survey.id).counts()}
    rows = await participant_rows(running)
    assert rows[502] == (links[aero_code].link.id, 2)
    assert rows[503] == (links[bzh_code].link.id, 1)
    assert rows[504] == (None, 0)
    assert rows[501] == (None, 0)

    code, out, err = await consultbot(api, database_url, "links", "list")
    assert code == 0, err
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    # code source label participants started submitted later
    assert lines[aero_code][1:] == ["pole:aerospace-valley", "mail", "1", "1", "0", "0"]
    assert lines[bzh_code][1:] == ["region:bretagne", "1", "0", "0", "1"]

    out_file = tmp_path / "export.csv"
    code, _, err = await consultbot(
        api,
        database_url,
        "export",
        "--format",
        "csv",
        "--out",
        str(out_file),
        "--include-drafts",
    )
    assert code == 0, err
    with out_file.open(encoding="utf-8-sig") as handle:
        exported = list(csv.DictReader(handle))
    # Only Alice answered anything; the drafts of the others have no answers but are rows too.
    report = tmp_path / "report.html"
    code, _, err = await consultbot(
        api, database_url, "report", "--out", str(report), "--include-drafts"
    )
    assert code == 0, err
    page = report.read_text(encoding="utf-8")
    assert "<tr><td>pole:aerospace-valley</td><td class='n'>1</td><td class='n'>1</td>" in page
    sources = sorted(row["source"] for row in exported)
    assert "pole:aerospace-valley" in sources
    assert "region:bretagne" in sources
    assert sources.count("pole:aerospace-valley") == 1


def test_the_web_link_only_with_web_base_url() -> None:
    from bot.config import Settings
    from bot.links_cli import web_link

    assert web_link(Settings.from_env({}), "abc") is None
    settings = Settings.from_env({"WEB_BASE_URL": "https://consultation.example.org/"})
    assert web_link(settings, "abc_-1") == "https://consultation.example.org/?src=abc_-1"


async def test_a_code_of_another_survey_or_a_deleted_participant_changes_nothing(
    running: Running, survey: Survey, clock: ManualClock
) -> None:
    links = LinkStore(running.ctx.store.db, survey.id)
    link = await links.create("newsletter", now=clock())
    assert not await links.record_start(999_999, link.code, now=clock())  # never talked to the bot
    other = LinkStore(running.ctx.store.db, "another-survey")
    assert not await other.record_start(999_999, link.code, now=clock())
    with pytest.raises(LinkError, match="invalid source"):
        await links.create("Pôle Aéro", now=clock())
    with pytest.raises(LinkError, match="already taken"):
        await links.create("newsletter", now=clock(), code=link.code)
