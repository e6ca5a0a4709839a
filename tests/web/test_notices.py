"""The engine's notices in the web's own words: a button of an older page (another tab, the
browser's previous page) changes nothing, and the page says so about a page, not a message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from tests.web.conftest import Site
from tests.web.test_security import CSRF, STEP, Visitor

QUESTION = re.compile(r'data-question="([a-z0-9_]+)"')
NOTICES = re.compile(r'<div class="notices" id="notices" role="alert">(.*?)</div>', re.S)


@pytest_asyncio.fixture(loop_scope="session")
async def visitor(site: Site) -> AsyncIterator[Visitor]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Visitor(site, session)


async def test_a_button_of_an_older_page_changes_nothing_and_says_so_in_web_words(
    visitor: Visitor,
) -> None:
    await visitor.start()
    _, consent, _ = await visitor.get("/c")
    old_step = STEP.findall(consent)[-1]
    assert await visitor.act(f"c:{old_step}:consent:accept") == 303
    _, page, _ = await visitor.get("/c")
    question = QUESTION.search(page)
    assert question and question.group(1) != "consent"

    # the consent's button again, as from the tab still showing it
    data = {"csrf": CSRF.findall(page)[-1], "a": f"c:{old_step}:consent:accept", "step": old_step}
    status, again, _ = await visitor.post("/c", data, follow=True)

    assert status == 200
    notices = NOTICES.search(again)
    assert notices, again
    assert "page plus ancienne" in notices.group(1) and "message" not in notices.group(1)
    assert QUESTION.findall(again)[-1] == question.group(1)
    _, reloaded, _ = await visitor.get("/c")
    assert STEP.findall(reloaded)[-1] == STEP.findall(page)[-1]
