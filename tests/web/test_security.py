"""The web channel's defences, over plain HTTP: CSRF, signed cookies and links, one participant
never reaching another's answers, security headers on every response, the body cap and the rate
limit (which bites, says so, and recovers)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from storage.repository import ParticipantKey
from tests.web.conftest import Site, serve
from web.app import CSRF_COOKIE, SESSION_COOKIE, WebConfig
from web.security import RateLimiter, Signer

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STEP = re.compile(r'name="step" value="(\d+)"')


class Visitor:
    """A browser without a browser: a cookie jar, forms read from the pages."""

    def __init__(self, site: Site, session: aiohttp.ClientSession) -> None:
        self.site = site
        self.session = session

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(self.site.url + path, allow_redirects=True) as response:
            return response.status, await response.text(), response

    async def csrf(self, path: str = "/") -> str:
        _, page, _ = await self.get(path)
        found = CSRF.search(page)
        assert found, page
        return found.group(1)

    async def post(
        self, path: str, data: dict[str, str], *, follow: bool = False
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.post(
            self.site.url + path, data=data, allow_redirects=follow
        ) as response:
            return response.status, await response.text(), response

    async def start(self) -> None:
        status, _, response = await self.post("/start", {"csrf": await self.csrf()})
        assert status == 303 and response.headers["Location"] == "/c#q"

    async def act(self, action: str, text: str | None = None) -> int:
        _, page, _ = await self.get("/c")
        data = {"csrf": CSRF.findall(page)[-1], "a": action, "step": STEP.findall(page)[-1]}
        if text is not None:
            data["text"] = text
        status, _, _ = await self.post("/c", data)
        return status

    def cookie(self, name: str) -> str:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        raise KeyError(name)


@pytest_asyncio.fixture(loop_scope="session")
async def visitors(site: Site) -> AsyncIterator[tuple[Visitor, Visitor]]:
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as one,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as two,
    ):
        yield Visitor(site, one), Visitor(site, two)


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(
    site: Site, visitors: tuple[Visitor, Visitor]
) -> None:
    alice, _ = visitors
    token = await alice.csrf()
    for data in ({}, {"csrf": ""}, {"csrf": token[:-2] + "xx"}, {"csrf": "A" * 300}):
        status, page, _ = await alice.post("/start", data)
        assert status == 403
        assert "formulaire a expiré" in page or "form has expired" in page
    # a token of another visitor's cookie is no good either
    _, bob = visitors
    status, _, _ = await bob.post("/start", {"csrf": token})
    assert status == 403
    async with site.store.engine.connect() as connection:
        count = (await connection.exec_driver_sql("SELECT count(*) FROM participants")).scalar()
    assert count == 0
    await alice.start()


async def test_a_tampered_cookie_is_refused(site: Site, visitors: tuple[Visitor, Visitor]) -> None:
    alice, _ = visitors
    await alice.start()
    assert await alice.act("c:1:consent:accept") == 303
    real = alice.cookie(SESSION_COOKIE)
    key, _, signature = real.rpartition(".")
    for forged in (key + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"), key, "x"):
        async with (
            aiohttp.ClientSession() as mallory,
            mallory.get(
                site.url + "/c", headers={"Cookie": f"{SESSION_COOKIE}={forged}"}
            ) as response,
        ):
            page = await response.text()
            assert response.status == 400
            assert "session n’a pas été reconnue" in page or "not recognised" in page
            assert "Set-Cookie" in response.headers  # the bad cookie is removed


async def test_one_participant_cannot_read_another_ones_pages(
    site: Site, visitors: tuple[Visitor, Visitor]
) -> None:
    alice, bob = visitors
    await alice.start()
    await alice.act("c:1:consent:accept")
    await alice.act("c:2:actor_type:other")
    await alice.act("text", "Secret d’Alice")
    _, alice_page, _ = await alice.get("/c")
    await bob.start()
    _, bob_page, _ = await bob.get("/c")
    assert "Secret d’Alice" not in bob_page
    alice_key = site.channel.signer.verify(alice.cookie(SESSION_COOKIE))
    bob_token = bob.cookie(SESSION_COOKIE)
    assert alice_key is not None
    # Alice's key with Bob's signature, and a link made of it: refused
    _, _, bob_signature = bob_token.rpartition(".")
    forged = f"{alice_key}.{bob_signature}"
    status, page, _ = await bob.get(f"/r/{forged}")
    assert status == 404 and "Secret d’Alice" not in page
    status, page, _ = await bob.get(f"/i/{forged}")
    assert status == 404 and "Secret d’Alice" not in page
    # a token signed with another secret
    other = Signer(b"another secret of at least 16 bytes").sign(alice_key)
    status, _, _ = await bob.get(f"/r/{other}")
    assert status == 404
    # no URL names a participant: Bob's pages are Bob's whatever he asks for
    for path in ("/c", "/", "/c?participant=1", "/c?key=" + alice_key):
        _, page, _ = await bob.get(path)
        assert "Secret d’Alice" not in page
    # Alice's real resume link (hers to give) does open her answers
    link = re.search(r'class="resume-link" href="([^"]+)"', alice_page)
    assert link is not None
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as device,
        device.get(link.group(1)) as response,
    ):
        assert "Secret d’Alice" in await response.text()


async def test_security_headers_on_every_response(
    site: Site, visitors: tuple[Visitor, Visitor]
) -> None:
    alice, _ = visitors
    await alice.start()
    responses = []
    for path in ("/", "/c", "/nowhere", "/r/nothing", "/static/app.css", "/static/app.js"):
        _, _, response = await alice.get(path)
        responses.append((path, response))
    _, _, response = await alice.post("/c", {"csrf": "wrong"})
    responses.append(("POST /c refused", response))
    _, _, response = await alice.post("/start", {"csrf": await alice.csrf()})
    responses.append(("POST /start (redirect)", response))
    for name, response in responses:
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, name
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert response.headers.get("Referrer-Policy") == "no-referrer", name
    _, page, _ = await alice.get("/c")
    assert "<script>" not in page and "style=" not in page  # nothing inline for the CSP to allow
    cookie = next(c for c in alice.session.cookie_jar if c.key == SESSION_COOKIE)
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert CSRF_COOKIE in {c.key for c in alice.session.cookie_jar}


async def test_cookies_are_secure_behind_https(tmp_path: Path) -> None:
    served, runner = await serve(tmp_path, WebConfig(base_url="https://consultation.example"))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(served.url + "/") as response:
                page = await response.text()
                first = response.headers.getall("Set-Cookie")
                assert "Strict-Transport-Security" in response.headers
            assert any(CSRF_COOKIE in h and "Secure" in h for h in first)
            nonce = response.cookies[CSRF_COOKIE].value
            token = CSRF.search(page)
            assert token is not None
            async with session.post(
                served.url + "/start",
                data={"csrf": token.group(1)},
                headers={"Cookie": f"{CSRF_COOKIE}={nonce}"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                session_cookie = [
                    h for h in response.headers.getall("Set-Cookie") if SESSION_COOKIE in h
                ]
                assert session_cookie and "Secure" in session_cookie[0]
                assert "HttpOnly" in session_cookie[0] and "SameSite=Lax" in session_cookie[0]
    finally:
        await runner.cleanup()
        await served.store.db.close()


async def test_a_one_megabyte_body_is_refused_and_nothing_stored(
    site: Site, visitors: tuple[Visitor, Visitor]
) -> None:
    alice, _ = visitors
    await alice.start()
    await alice.act("c:1:consent:accept")
    _, page, _ = await alice.get("/c")
    data = {"csrf": CSRF.findall(page)[-1], "a": "c:2:actor_type:other", "text": "x" * 1_000_000}
    status, page, _ = await alice.post("/c", data)
    assert status == 413
    assert "trop volumineux" in page or "too large" in page

    # a chunked body (no Content-Length) is cut at the cap too
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"a=text&text=" + b"y" * 16_384

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with alice.session.post(site.url + "/c", data=chunks(), headers=form) as response:
        assert response.status == 413
    key = site.channel.signer.verify(alice.cookie(SESSION_COOKIE))
    assert key is not None
    snapshot = await site.store.load(ParticipantKey.web(key))
    assert list(snapshot.state.answers) == ["consent"]


async def test_the_rate_limit_bites_with_a_clear_page_and_recovers(
    site: Site, visitors: tuple[Visitor, Visitor]
) -> None:
    alice, bob = visitors
    now = [0.0]
    site.channel.participant_limit = RateLimiter(60, 3, monotonic=lambda: now[0])
    site.channel.ip_limit = RateLimiter(600, 40, monotonic=lambda: now[0])
    await alice.start()  # before her cookie, the address' bucket only
    assert await alice.act("c:1:consent:accept") == 303
    assert await alice.act("c:2:actor_type:company_sme") == 303
    assert await alice.act("c:3:company_rd:regular") == 303
    _, page, _ = await alice.get("/c")
    data = {"csrf": CSRF.findall(page)[-1], "a": "b:4", "step": "4"}
    status, page, response = await alice.post("/c", data)
    assert status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Attendez" in page or "Wait" in page
    assert "vos réponses sont conservées" in page or "your answers are kept" in page
    # Bob, another participant at the same address, is not held back by Alice's limit
    await bob.start()
    now[0] += 1.5  # at 60 a minute, one request is back after a second
    assert await alice.act("b:4") == 303
    key = site.channel.signer.verify(alice.cookie(SESSION_COOKIE))
    assert key is not None
    assert (await site.store.load(ParticipantKey.web(key))).state.current == "company_rd"
    # the address' own bucket: 40 at once, then refused, then back
    codes = [(await alice.get("/"))[0] for _ in range(45)]
    assert codes.count(429) >= 1 and codes[0] == 200
    now[0] += 10
    assert (await alice.get("/"))[0] == 200
