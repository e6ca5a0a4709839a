"""`consultbot web`: serve the web channel; `consultbot web invite`: invitation links;
`consultbot try --web`: the web channel as a preview (any date, answers stored as preview).

The `consultbot` command (in `bot/cli.py`) finds this module by name at run time
(`importlib.import_module("web.cli")`): bot/ and web/ are sibling channels and never import each
other, and this module receives the few settings it needs as plain values.

Settings: `WEB_LISTEN` (host:port, default 127.0.0.1:8081), `WEB_BASE_URL` (the public address,
for resume and invitation links; `https://...` makes the cookies Secure), `WEB_SECRET` (signs
cookies and links; by default a random secret generated once and kept in the database),
`WEB_RATE_PER_MINUTE` (per participant, default 120), `WEB_IP_RATE_PER_MINUTE` (default 600).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from channels.clock import clock_from_env
from channels.survey_file import LoadedSurvey, load_or_exit
from storage.database import Database
from storage.repository import Store
from storage.schema import SchemaOutOfDate, ensure_schema
from web.app import WebChannel, WebConfig
from web.security import Signer, new_web_key

log = logging.getLogger("consultbot.web")

DEFAULT_LISTEN = "127.0.0.1:8081"
SECRET_SETTING = "web_secret"


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise SystemExit(f"consultbot: --listen / WEB_LISTEN must be host:port, not {value!r}")
    return host or "127.0.0.1", int(port)


def config_from_env(env: dict[str, str] | None = None, *, preview: bool = False) -> WebConfig:
    source = dict(os.environ if env is None else env)

    def number(name: str, default: float) -> float:
        raw = source.get(name, "").strip()
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise SystemExit(f"consultbot: {name} must be a number, not {raw!r}") from exc

    per_participant = number("WEB_RATE_PER_MINUTE", 120)
    per_ip = number("WEB_IP_RATE_PER_MINUTE", 600)
    return WebConfig(
        base_url=source.get("WEB_BASE_URL", "").strip().rstrip("/"),
        preview=preview,
        participant_per_minute=per_participant,
        participant_burst=max(5, int(per_participant // 4)),
        ip_per_minute=per_ip,
        ip_burst=max(20, int(per_ip // 5)),
    )


async def load_signer(store: Store, env: dict[str, str] | None = None) -> Signer:
    """`WEB_SECRET`, or the secret generated once and kept in the `settings` table."""
    source = os.environ if env is None else env
    given = source.get("WEB_SECRET", "")
    if given:
        return Signer(given.encode("utf-8"))
    stored = await store.setdefault_setting(SECRET_SETTING, secrets.token_hex(32))
    return Signer(bytes.fromhex(stored))


async def serve(
    loaded: LoadedSurvey,
    database_url: str,
    listen: str,
    config: WebConfig,
    clock: Callable[[], datetime],
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the web channel until SIGINT/SIGTERM (or `stop`)."""
    from aiohttp import web

    await ensure_schema(database_url)
    db = Database(database_url)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        signer = await load_signer(store)
        channel = WebChannel(store, clock=clock, signer=signer, config=config)
        runner = web.AppRunner(channel.app(), handle_signals=False, access_log=None)
        await runner.setup()
        host, port = parse_listen(listen)
        site = web.TCPSite(runner, host, port)
        await site.start()
        address = f"http://{host}:{port}/"
        log.info(
            "web channel%s listening on %s (survey %s)",
            " (preview)" if config.preview else "",
            address,
            loaded.survey.id,
        )
        if ready is not None:
            ready(address)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("web channel stopping")
        await runner.cleanup()
    finally:
        await db.close()


async def invite(
    loaded: LoadedSurvey, database_url: str, count: int, language: str | None, base_url: str
) -> list[str]:
    """Create `count` invited web participants; their links, one per invitee."""
    await ensure_schema(database_url)
    db = Database(database_url)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        signer = await load_signer(store)
        keys = [new_web_key() for _ in range(count)]
        lang = language if language in loaded.survey.languages else loaded.survey.default_language
        await store.add_web_participants(keys, lang)
    finally:
        await db.close()
    base = base_url.rstrip("/") or f"http://{DEFAULT_LISTEN}"
    return [f"{base}/i/{signer.sign(key)}" for key in keys]


def add_web_commands(sub: Any) -> None:
    """The `consultbot web` command, added to the parser of `bot/cli.py`."""
    web_parser = sub.add_parser(
        "web",
        help="serve the web channel (the consultation in a browser)",
        description="Serve the questionnaire as web pages, on the same DATABASE_URL as the bot. "
        "`consultbot web invite --count N` prints N invitation links, one per invitee.",
    )
    web_parser.add_argument(
        "action", nargs="?", choices=["serve", "invite"], default="serve", help="default: serve"
    )
    web_parser.add_argument(
        "--listen", default=None, help=f"host:port (WEB_LISTEN, {DEFAULT_LISTEN})"
    )
    web_parser.add_argument("--survey", default=None, help="the questionnaire file (SURVEY_FILE)")
    web_parser.add_argument("--count", type=int, default=1, help="invite: how many links")
    web_parser.add_argument("--lang", default=None, help="invite: the invitees' language")
    web_parser.set_defaults(web_command=True)


def run_command(args: argparse.Namespace, database_url: str, survey_file: Path) -> int:
    """Run `consultbot web ...` with the settings the main command line read."""
    loaded = load_or_exit(Path(args.survey) if args.survey else survey_file)
    if args.action == "invite":
        if args.count < 1 or args.count > 100_000:
            raise SystemExit("consultbot: --count must be between 1 and 100000")
        links = asyncio.run(
            invite(loaded, database_url, args.count, args.lang, os.environ.get("WEB_BASE_URL", ""))
        )
        for link in links:
            print(link)
        return 0
    listen = args.listen or os.environ.get("WEB_LISTEN") or DEFAULT_LISTEN
    clock = clock_from_env(os.environ.get("CONSULTBOT_NOW"))
    try:
        asyncio.run(serve(loaded, database_url, listen, config_from_env(), clock))
    except SchemaOutOfDate as exc:
        raise SystemExit(f"consultbot: {exc}") from exc
    return 0


def run_preview(loaded: LoadedSurvey, database_url: str, listen: str | None) -> int:
    """`consultbot try --web`: the web channel as a preview on this machine."""
    address = listen or os.environ.get("WEB_LISTEN") or DEFAULT_LISTEN
    clock = clock_from_env(os.environ.get("CONSULTBOT_NOW"))

    def ready(url: str) -> None:
        print(f"preview of the web channel: open {url} (answers stored as preview; Ctrl-C stops)")

    asyncio.run(
        serve(loaded, database_url, address, config_from_env(preview=True), clock, ready=ready)
    )
    return 0
