"""Fixtures of the web channel's tests: the channel served on a free port of this event loop, on a
SQLite file migrated to the latest revision, with a clock the test moves; and real Chromium
(the system's `chromium`, driven by Playwright's async API in the same loop)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pytest_asyncio import is_async_test

from channels.survey_file import load_survey_file
from dialogs import Survey
from storage.database import Database
from storage.repository import Store
from tests.sqlite_template import migrated_sqlite
from tests.storage.helpers import BUNDLED
from web.app import WebChannel, WebConfig
from web.security import Signer

SECRET = b"a test secret of the web channel, 32+ bytes"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    url: str
    store: Store
    clock: Clock
    channel: WebChannel
    survey: Survey
    extra: dict[str, Any] = field(default_factory=dict)


async def serve(
    tmp_path: Path, config: WebConfig | None = None, *, name: str = "web.db"
) -> tuple[Site, web.AppRunner]:
    database = await migrated_sqlite(tmp_path / name)
    db = Database(database)
    loaded = load_survey_file(BUNDLED)
    store = Store(db, loaded.survey, file_hash=loaded.file_hash)
    await store.register_survey()
    clock = Clock(loaded.survey.opens_at + timedelta(days=3))
    channel = WebChannel(store, clock=clock, signer=Signer(SECRET), config=config)
    runner = web.AppRunner(channel.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return Site(f"http://{host}:{port}", store, clock, channel, loaded.survey), runner


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test here runs in the session's event loop: the one Chromium of the session
    (`browser`) is driven from it."""
    here = Path(__file__).resolve().parent
    in_session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if is_async_test(item) and here in Path(item.path).resolve().parents:
            item.add_marker(in_session_loop, append=False)


@pytest_asyncio.fixture(loop_scope="session")
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    served, runner = await serve(tmp_path)
    try:
        yield served
    finally:
        await runner.cleanup()
        await served.store.db.close()


async def seeded_cookie(site: Site, *, to_review: bool = True) -> dict[str, Any]:
    """A web participant walked through the bundled survey by the store (up to the review), and
    the session cookie a browser needs to be them."""
    from storage.repository import ParticipantKey
    from tests.storage.helpers import walk_to_review
    from web.app import SESSION_COOKIE
    from web.security import new_web_key

    key = new_web_key()
    if to_review:
        await walk_to_review(site.store, ParticipantKey.web(key), site.clock.now)
    token = site.channel.signer.sign(key)
    return {"name": SESSION_COOKIE, "value": token, "url": site.url}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Chromium, launched once for the session (each test gets its own contexts)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(chromium: Any) -> AsyncIterator[Any]:
    """The session's Chromium; the contexts (cookies, pages) a test opened are closed after it,
    so that no test sees another's."""
    try:
        yield chromium
    finally:
        for context in list(chromium.contexts):
            await context.close()
