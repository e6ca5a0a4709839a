"""The web channel: the same questionnaire, engine and database as the Telegram bot, in a browser.

Server-rendered HTML forms, POST then redirect (303): it works without JavaScript; `app.js` only
moves the focus and stops a second click. Routes:

    GET  /             landing: title, description, dates, privacy notice, Start (or Continue)
    POST /start        creates the web participant (cookie) and starts, or resumes
    GET  /c            the conversation: the last answers as a thread, then the current screen
    POST /c            one action (an option, the typed answer, back, skip, edit, submit, language)
    GET  /r/TOKEN      resume link (and /i/TOKEN, invitation link): sets the cookie, continues
    GET  /healthz      database reachable?      GET /metrics   Prometheus counters
    GET  /static/...   the stylesheet and the script (no CDN, nothing from elsewhere)

A participant is only ever reached through their own signed token (cookie or link): no URL
names a participant, so changing a URL or a cookie shows nobody else's answers.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import hdrs, web
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from channels.i18n import format_deadline, t
from channels.reference import new_reference
from dialogs.engine import current_screen, transition, window_screen
from dialogs.events import Event, Stale, Start, Submit
from dialogs.model import Survey
from dialogs.screens import ClosedScreen, QuestionScreen, Screen
from dialogs.state import Phase, State
from storage.repository import Applied, ParticipantKey, Store
from web import actions, metrics
from web.render import WebRenderer, buttons
from web.security import SECURITY_HEADERS, RateLimiter, Signer, new_web_key

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "consultbot_session"
CSRF_COOKIE = "consultbot_csrf"
COOKIE_MAX_AGE = 180 * 24 * 3600
RECENT_COOKIES = 20_000
"""`Cookie` headers remembered with the session token and CSRF nonce they hold (those of at
most `MAX_REMEMBERED_COOKIE` characters: ours take about 110)."""
MAX_REMEMBERED_COOKIE = 300
FLASH_KEEP = 5_000
"""Flashes kept for redirects not followed yet (a followed one is removed at once)."""

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNGUARDED = frozenset({"/healthz", "/metrics"})


@dataclass(frozen=True)
class WebConfig:
    """How the web channel runs (from `WEB_*` variables, see `web.cli`)."""

    base_url: str = ""
    """The public address (`WEB_BASE_URL`), for resume links; else the request's own."""
    preview: bool = False
    """`consultbot try --web`: any date, answers stored as preview."""
    max_body: int = 32 * 1024
    ip_per_minute: float = 600
    ip_burst: int = 120
    participant_per_minute: float = 120
    participant_burst: int = 30

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


@dataclass
class Flash:
    """What the next page shows once: the engine's notices, and the text typed if it was refused."""

    notices: list[Markup] = field(default_factory=list)
    typed: str = ""
    page: str | None = None
    """The conversation page after the action, rendered by the POST from the state it stored:
    the GET of the redirect serves it without reading the database again (once)."""


class Texts(dict[str, str]):
    """A language's catalogue texts as the templates read them (`txt["web.send"]`), each looked
    up once: a lookup per text and per page cost more than the rest of a page's texts."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def __missing__(self, key: str) -> str:
        text = self[key] = t(self.lang, key)
        return text


KEY = web.AppKey("consultbot_web", object)
_request_key = getattr(web, "RequestKey", None)  # aiohttp >= 3.13; a plain string before
WEB_KEY: Any = _request_key("web_key", object) if _request_key else "web_key"
CSRF_NONCE: Any = _request_key("csrf_nonce", object) if _request_key else "csrf_nonce"


class WebChannel:
    """One survey's web channel: handlers over a `Store`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        signer: Signer,
        config: WebConfig | None = None,
    ) -> None:
        self.store = store
        self.survey: Survey = store.survey
        self.clock = clock
        self.signer = signer
        self.config = config or WebConfig()
        self.renderer = WebRenderer(self.survey)
        self.ip_limit = RateLimiter(self.config.ip_per_minute, self.config.ip_burst)
        self.participant_limit = RateLimiter(
            self.config.participant_per_minute, self.config.participant_burst
        )
        self.flashes: OrderedDict[str, Flash] = OrderedDict()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            cache_size=-1,
        )
        self.templates.filters["buttons"] = buttons
        self._templates: dict[str, jinja2.Template] = {}
        self._cookies: dict[str, tuple[str | None, str | None]] = {}
        self._signed: dict[str, str] = {}
        """Participants' tokens (`Signer.sign`), for the resume link of every page."""
        self._resumes: dict[tuple[str, str], Markup] = {}
        """The resume section of the pages, per language and link."""
        self.security_headers = tuple(SECURITY_HEADERS.items()) + (
            (("Strict-Transport-Security", "max-age=31536000"),)
            if self.config.secure_cookies
            else ()
        )
        """What `_security_headers` adds to every response."""
        self._shared: dict[str, dict[str, Any]] = {}
        """What every page of a language is given (this channel's survey: fixed)."""

    # -- the application ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.max_body,
            middlewares=[self.guard],
        )
        app[KEY] = self
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/", self.landing)
        app.router.add_post("/start", self.start)
        app.router.add_get("/c", self.conversation)
        app.router.add_post("/c", self.act)
        app.router.add_get("/r/{token}", self.resume)
        app.router.add_get("/i/{token}", self.resume)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_static("/static", HERE / "static", append_version=False)
        return app

    # -- the middleware -------------------------------------------------------------------------

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """What every request goes through, in one middleware (each one more costs a coroutine
        per request): errors as pages, then for pages (not `/static/`, `/healthz`, `/metrics`)
        the body cap, the per-address rate limit, who is asking and the CSRF check of a POST."""
        try:
            path = request.path
            if path.startswith("/static/") or path in UNGUARDED:
                return await handler(request)
            return await self.limits(request, handler)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            key = {
                403: "web.error.csrf",
                404: "web.error.not_found",
                405: "web.error.not_found",
                413: "web.error.too_large",
            }.get(error.status, "web.error.internal")
            return self.message(request, error.status, key)
        except Exception:
            log.exception("web: %s %s failed", request.method, request.path)
            return self.message(request, 500, "web.error.internal")

    async def limits(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The body cap before anything is read, and the per-address rate limit."""
        length = request.content_length
        if length is not None and length > self.config.max_body:
            metrics.REFUSED.labels("too_large").inc()
            return self.message(request, 413, "web.error.too_large")
        wait = self.ip_limit.take(request.remote or "?")
        if wait:
            return self.rate_limited(request, wait)
        return await self.identity(request, handler)

    async def identity(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who is asking (a valid session cookie, or nobody), and the CSRF check of a POST."""
        token, nonce = self.cookies(request)
        request[WEB_KEY] = None
        if token is not None:
            key = self.signer.verify(token)
            if key is None:
                metrics.REFUSED.labels("bad_cookie").inc()
                response = self.message(request, 400, "web.error.session")
                response.del_cookie(SESSION_COOKIE, path="/")
                return response
            request[WEB_KEY] = key
        fresh = None
        if not nonce or len(nonce) > 64:
            nonce = fresh = new_web_key()
        request[CSRF_NONCE] = nonce
        if request.method == "POST":
            form = await request.post()
            posted = form.get("csrf")
            if fresh is not None or not self.signer.check_csrf(
                nonce, posted if isinstance(posted, str) else None
            ):
                metrics.REFUSED.labels("csrf").inc()
                return self.message(request, 403, "web.error.csrf")
            key = request[WEB_KEY]
            if key is not None:
                wait = self.participant_limit.take(key)
                if wait:
                    return self.rate_limited(request, wait)
        answer = await handler(request)
        if fresh is not None:
            answer.set_cookie(
                CSRF_COOKIE,
                fresh,
                httponly=True,
                samesite="Lax",
                secure=self.config.secure_cookies,
                path="/",
            )
        return answer

    def cookies(self, request: web.Request) -> tuple[str | None, str | None]:
        """The session token and the CSRF nonce of the request's cookies. A browser sends the
        same `Cookie` header at every request, and parsing it costs more than the rest of the
        checks: the last headers seen are remembered with what they hold."""
        raw = request.headers.get(hdrs.COOKIE, "")
        found = self._cookies.get(raw)
        if found is None:
            cookies = request.cookies
            found = (cookies.get(SESSION_COOKIE), cookies.get(CSRF_COOKIE))
            if len(raw) <= MAX_REMEMBERED_COOKIE:
                if len(self._cookies) >= RECENT_COOKIES:
                    self._cookies.clear()
                self._cookies[raw] = found
        return found

    # -- pages ----------------------------------------------------------------------------------

    def language(self, request: web.Request, state: State | None = None) -> str:
        languages = self.survey.languages
        asked = request.query.get("lang")
        if asked in languages:
            return asked
        if state is not None and state.phase is not Phase.NEW:
            return state.language
        for part in request.headers.get("Accept-Language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in languages:
                return code
        return state.language if state is not None else self.survey.default_language

    def render(
        self,
        request: web.Request,
        template: str,
        lang: str,
        *,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        return self.page_response(self.render_text(request, template, lang, **context), status)

    @staticmethod
    def page_response(page: str, status: int = 200) -> web.Response:
        response = web.Response(text=page, content_type="text/html", status=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def render_text(self, request: web.Request, template: str, lang: str, **context: Any) -> str:
        compiled = self._templates.get(template)
        if compiled is None:
            compiled = self._templates[template] = self.templates.get_template(template)
        shared = self._shared.get(lang)
        if shared is None:
            shared = self._shared[lang] = {
                "lang": lang,
                "tx": partial(t, lang),
                "txt": Texts(lang),
                "language_buttons": self.renderer.language_buttons(lang),
                "survey_title": self.renderer.tx(lang, self.survey.title),
                "preview": self.config.preview,
                "languages": self.survey.languages,
            }
        return compiled.render(
            shared, csrf=self.signer.csrf_token(request.get(CSRF_NONCE) or ""), **context
        )

    def message(
        self,
        request: web.Request,
        status: int,
        key: str,
        lang: str | None = None,
        **params: object,
    ) -> web.Response:
        lang = lang or self.language(request)
        return self.render(
            request,
            "message.html",
            lang,
            status=status,
            page_title=t(lang, "web.error.title"),
            page_kind="message",
            heading=t(lang, "web.error.title"),
            texts=[t(lang, key, **params)],
        )

    def rate_limited(self, request: web.Request, wait: float) -> web.Response:
        metrics.REFUSED.labels("rate_limited").inc()
        seconds = max(1, int(wait + 0.999))
        response = self.message(request, 429, "web.error.rate_limited", seconds=seconds)
        response.headers["Retry-After"] = str(seconds)
        return response

    def resume_url(self, request: web.Request, key: str) -> str:
        base = self.config.base_url.rstrip("/") or str(request.url.origin())
        return f"{base}/r/{self.token(key)}"

    def resume_section(self, request: web.Request, key: str, lang: str) -> Markup:
        """The section of a conversation page that gives the resume link (the same on each of
        a participant's pages: rendered once, remembered for the most recent participants)."""
        url = self.resume_url(request, key)
        found = self._resumes.get((lang, url))
        if found is None:
            if len(self._resumes) >= RECENT_COOKIES:
                self._resumes.clear()
            section = self.render_text(request, "resume.html", lang, resume_url=url)
            found = self._resumes[(lang, url)] = Markup(section)
        return found

    def token(self, key: str) -> str:
        """The participant's signed token (remembered for the most recent ones)."""
        token = self._signed.get(key)
        if token is None:
            if len(self._signed) >= RECENT_COOKIES:
                self._signed.clear()
            token = self._signed[key] = self.signer.sign(key)
        return token

    def set_session(self, response: web.StreamResponse, key: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.token(key),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=self.config.secure_cookies,
            path="/",
        )

    async def landing(self, request: web.Request) -> web.StreamResponse:
        key: str | None = request[WEB_KEY]
        state = None
        if key is not None:
            snapshot = await self.store.load(ParticipantKey.web(key))
            if snapshot.participant is not None:
                state = snapshot.state
        lang = self.language(request, state)
        started = state is not None and state.phase is not Phase.NEW
        now = self.clock()
        window_texts: list[Markup] = []
        can_start = True
        if not self.config.preview:
            closed = window_screen(self.survey, state or State(language=lang), now)
            if closed is not None:
                can_start = False
                window_texts = list(self.renderer.screen(lang, closed).texts)
        return self.render(
            request,
            "landing.html",
            lang,
            page_title=self.renderer.tx(lang, self.survey.title),
            page_kind="landing",
            landing=self.renderer.landing(lang),
            started=started,
            can_start=can_start,
            window_texts=window_texts,
            resume_url=self.resume_url(request, key) if started and key else "",
        )

    async def start(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        lang = form.get("lang")
        hint = lang if isinstance(lang, str) and lang in self.survey.languages else None
        key: str | None = request[WEB_KEY]
        new = key is None
        if key is None:
            key = new_web_key()
        applied = await self.apply(key, lambda state, now: Start(), language_hint=hint)
        flash = self.flash(key)
        if applied.result is not None:
            flash.notices += [
                self.renderer.notice(applied.state.language, n)
                for n in applied.result.output.notices
            ]
        self.prepare(request, key, applied, flash)
        response = redirect("/c#q")
        if new:
            metrics.PARTICIPANTS.inc()
            self.set_session(response, key)
        return response

    async def conversation(self, request: web.Request) -> web.StreamResponse:
        key: str | None = request[WEB_KEY]
        if key is None:
            return redirect("/")
        flash = self.flashes.pop(key, None) or Flash()
        if flash.page is not None:
            return self.page_response(flash.page)
        snapshot = await self.store.load(ParticipantKey.web(key))
        state = snapshot.state
        if snapshot.participant is None or state.phase is Phase.NEW:
            return redirect("/")
        return self.page_response(self.conversation_text(request, key, state, flash))

    def conversation_text(
        self,
        request: web.Request,
        key: str,
        state: State,
        flash: Flash,
        screen: Screen | None = None,
    ) -> str:
        """The conversation page of `state` (on `screen` if the engine just gave it), with the
        flash's notices."""
        lang = state.language
        if screen is None:
            screen = current_screen(self.survey, state, self.clock(), preview=self.config.preview)
        view = self.renderer.screen(lang, screen, flash.typed)
        thread = self.renderer.thread(lang, state) if isinstance(screen, QuestionScreen) else ()
        title = view.heading
        if flash.notices:
            title = f"⚠ {title}"
        return self.render_text(
            request,
            "conversation.html",
            lang,
            page_title=f"{title} – {self.renderer.tx(lang, self.survey.title)}",
            page_kind=view.kind,
            view=view,
            thread=thread,
            notices=flash.notices,
            resume=self.resume_section(request, key, lang) if view.kind != "receipt" else "",
        )

    def prepare(self, request: web.Request, key: str, applied: Applied, flash: Flash) -> None:
        """Render the page the redirect will ask for, from the state just stored (and the screen
        the engine gave, when it is the state's own: not after a refused submission)."""
        state = applied.state
        if state.phase is Phase.NEW:
            return
        screens = applied.result.output.screens if applied.result is not None else ()
        screen = screens[-1] if screens and not applied.refused_closed else None
        flash.page = self.conversation_text(request, key, state, flash, screen)

    async def act(self, request: web.Request) -> web.StreamResponse:
        key: str | None = request[WEB_KEY]
        if key is None:
            return self.message(request, 403, "web.error.session")
        form = await request.post()

        def field(name: str) -> str | None:
            value = form.get(name)
            return value if isinstance(value, str) else None

        action = actions.decode(self.survey, field("a") or "", field("text"), field("step"))
        reference: list[str] = []
        """Drawn at the first submission attempt only (most actions are not one)."""

        def event_for(state: State, now: datetime) -> Event:
            if action is None:
                return Stale()
            if isinstance(action, actions.SubmitRequest):
                if not reference:
                    reference.append(new_reference())
                return Submit(reference[0], action.step)
            if isinstance(action, actions.TypedText):
                return actions.typed_event(action, state.step) or Stale()
            return action

        applied = await self.apply(key, event_for)
        flash = self.flash(key)
        lang = applied.state.language
        if applied.result is not None:
            flash.notices += [self.renderer.notice(lang, n) for n in applied.result.output.notices]
            if flash.notices and isinstance(action, actions.TypedText):
                flash.typed = action.text[:10_000]
        closed_now = applied.result is not None and any(
            isinstance(screen, ClosedScreen) for screen in applied.result.output.screens
        )
        if applied.refused_closed or (closed_now and isinstance(action, actions.SubmitRequest)):
            when = format_deadline(lang, self.survey.closes_at, self.survey.timezone)
            flash.notices.append(self.renderer.tm(lang, "submit_refused_closed", time=when))
        self.prepare(request, key, applied, flash)
        return redirect("/c#q")

    async def resume(self, request: web.Request) -> web.StreamResponse:
        key = self.signer.verify(request.match_info["token"])
        snapshot = None if key is None else await self.store.load(ParticipantKey.web(key))
        if key is None or snapshot is None or snapshot.participant is None:
            metrics.REFUSED.labels("bad_link").inc()
            return self.message(request, 404, "web.error.link")
        started = snapshot.state.phase is not Phase.NEW
        response = redirect("/c#q" if started else "/")
        self.set_session(response, key)
        return response

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        try:
            await self.store.db.ping()
        except Exception as exc:
            log.error("health check: database unreachable: %r", exc)
            return web.json_response({"status": "error", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "channel": "web"})

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=generate_latest())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # -- the engine -----------------------------------------------------------------------------

    def flash(self, key: str) -> Flash:
        flash = self.flashes.get(key)
        if flash is None:
            flash = self.flashes[key] = Flash()
            if len(self.flashes) > FLASH_KEEP:
                self.flashes.popitem(last=False)
        return flash

    async def apply(
        self,
        key: str,
        event_for: Callable[[State, datetime], Event],
        *,
        language_hint: str | None = None,
    ) -> Applied:
        now = self.clock()
        preview = self.config.preview
        survey = self.survey
        before: list[State] = []

        def step(state: State) -> Any:
            before[:] = [state]
            return transition(survey, state, event_for(state, now), now, preview=preview)

        applied = await self.store.apply(
            ParticipantKey.web(key),
            step,
            clock=self.clock,
            language_hint=language_hint,
            preview=preview,
        )
        metrics.count_applied(before[0] if before else None, applied)
        return applied


def redirect(location: str) -> web.Response:
    """POST then redirect: 303 See Other, so that reloading the page never sends a form again."""
    return web.Response(status=303, headers={"Location": location})


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    channel = request.app.get(KEY)
    pairs = (
        channel.security_headers if isinstance(channel, WebChannel) else SECURITY_HEADERS.items()
    )
    headers = response.headers
    for name, value in pairs:
        headers.setdefault(name, value)
