"""`consultbot web invite` prints one working invitation link per invitee, and the invitee who
opens theirs is that participant (no new one); `consultbot web --help` and `try --web` exist."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from bot.cli import build_parser, main
from channels.survey_file import load_survey_file
from storage.database import Database
from storage.repository import Store
from tests.storage.helpers import BUNDLED
from web.app import WebChannel
from web.cli import load_signer


def test_the_command_line_knows_the_web_channel() -> None:
    parser = build_parser()
    assert parser.parse_args(["web"]).action == "serve"
    assert parser.parse_args(["web", "--listen", "0.0.0.0:9000"]).listen == "0.0.0.0:9000"
    assert parser.parse_args(["try", "--web"]).web is True


async def test_invitation_links_identify_their_invitee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'invite.db'}"
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("WEB_BASE_URL", "https://consultation.example/")
    monkeypatch.delenv("WEB_SECRET", raising=False)
    import asyncio

    code = await asyncio.to_thread(main, ["web", "invite", "--count", "2", "--lang", "en"])
    assert code == 0
    links = capsys.readouterr().out.split()
    assert len(links) == 2 and len(set(links)) == 2
    assert all(link.startswith("https://consultation.example/i/") for link in links)

    loaded = load_survey_file(BUNDLED)
    db = Database(database)
    store = Store(db, loaded.survey, file_hash=loaded.file_hash)
    channel = WebChannel(
        store, clock=lambda: loaded.survey.opens_at, signer=await load_signer(store)
    )
    runner = web.AppRunner(channel.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        path = links[0].removeprefix("https://consultation.example")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(f"http://{host}:{port}{path}") as response:
                page = await response.text()
                assert response.status == 200
                assert 'lang="en"' in page  # the invitee's language
            async with session.get(f"http://{host}:{port}/i/{path[3:-1]}x") as response:
                assert response.status == 404
        async with db.engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT channel, language FROM participants"))
            ).all()
        assert [tuple(row) for row in rows] == [("web", "en"), ("web", "en")]
    finally:
        await runner.cleanup()
        await db.close()
