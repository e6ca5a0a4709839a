"""`consultbot web`: serve the web channel; `consultbot web invite`: invitation links;
`consultbot try --web`: the web channel as a preview (any date, answers stored as preview).

The `consultbot` command (in `bot/cli.py`) finds this module by name at run time
(`importlib.import_module("web.cli")`): bot/ and web/ are sibling channels and never import each
other, and this module receives the few settings it needs as plain values.

Its settings are the `web` group of `channels.settings.Settings` (`WEB_LISTEN`, `WEB_BASE_URL`,
`WEB_SECRET`, `WEB_RATE_PER_MINUTE`, `WEB_IP_RATE_PER_MINUTE`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from channels import heap
from channels.cli import (
    UsageError,
    add_database_option,
    add_survey_option,
    check_language,
)
from channels.progress import working
from channels.settings import Settings, host_port
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
    try:
        return host_port(value, default_host="127.0.0.1")
    except ValueError:
        raise UsageError(f"--listen must be host:port, not {value!r}") from None


def web_config(settings: Settings, *, preview: bool = False) -> WebConfig:
    per_participant = settings.web_rate_per_minute
    per_ip = settings.web_ip_rate_per_minute
    return WebConfig(
        base_url=settings.web_base_url,
        preview=preview,
        participant_per_minute=per_participant,
        participant_burst=max(5, int(per_participant // 4)),
        ip_per_minute=per_ip,
        ip_burst=max(20, int(per_ip // 5)),
    )


async def load_signer(store: Store, secret: str = "") -> Signer:
    """`secret` (WEB_SECRET), or the secret generated once and kept in the `settings` table."""
    if secret:
        return Signer(secret.encode("utf-8"))
    stored = await store.setdefault_setting(SECRET_SETTING, secrets.token_hex(32))
    return Signer(bytes.fromhex(stored))


async def serve(
    loaded: LoadedSurvey,
    database_url: str,
    listen: str,
    config: WebConfig,
    clock: Callable[[], datetime],
    *,
    secret: str = "",
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
    pool_size: int | None = None,
) -> None:
    """Serve the web channel until SIGINT/SIGTERM (or `stop`); `pool_size`: PostgreSQL's
    connections (`DATABASE_POOL_SIZE`)."""
    from aiohttp import web

    await ensure_schema(database_url)
    db = Database(database_url, pool_size=pool_size)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        signer = await load_signer(store, secret)
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
    loaded: LoadedSurvey,
    database_url: str,
    count: int,
    language: str | None,
    base_url: str,
    secret: str = "",
) -> list[str]:
    """Create `count` invited web participants; their links, one per invitee."""
    await ensure_schema(database_url)
    db = Database(database_url)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        signer = await load_signer(store, secret)
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
        "action",
        nargs="?",
        choices=["serve", "invite"],
        default="serve",
        help="serve the pages (default), or print invitation links",
    )
    web_parser.add_argument(
        "--listen", default=None, help=f"host:port (default: WEB_LISTEN, {DEFAULT_LISTEN})"
    )
    add_survey_option(web_parser)
    add_database_option(web_parser)
    web_parser.add_argument("--count", type=int, default=1, help="invite: how many links")
    web_parser.add_argument(
        "--lang", default=None, help="invite: the invitees' language (one of the questionnaire's)"
    )
    web_parser.set_defaults(web_command=True)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `consultbot web ...` with the settings the main command line read."""
    loaded = load_or_exit(Path(args.survey) if args.survey else settings.survey_file)
    database_url = args.database_url or settings.database_url
    if args.action == "invite":
        if args.count < 1 or args.count > 100_000:
            raise UsageError(f"--count must be between 1 and 100000 (not {args.count})")
        check_language(args.lang, loaded.survey)
        with working(f"creating {args.count:,} invitation links"):
            links = asyncio.run(
                invite(
                    loaded,
                    database_url,
                    args.count,
                    args.lang,
                    settings.web_base_url,
                    settings.web_secret,
                )
            )
        for link in links:
            print(link)
        return 0
    listen = args.listen or settings.web_listen
    parse_listen(listen)

    def ready(address: str) -> None:
        heap.settle()  # this entry point owns the collector's policy of the serving process

    try:
        asyncio.run(
            serve(
                loaded,
                database_url,
                listen,
                web_config(settings),
                settings.clock(),
                secret=settings.web_secret,
                ready=ready,
                pool_size=settings.database_pool_size,
            )
        )
    except SchemaOutOfDate as exc:
        raise SystemExit(f"consultbot: {exc}") from exc
    return 0


def run_preview(loaded: LoadedSurvey, settings: Settings, listen: str | None) -> int:
    """`consultbot try --web`: the web channel as a preview on this machine."""
    address = listen or settings.web_listen
    parse_listen(address)

    def ready(url: str) -> None:
        print(f"preview of the web channel: open {url} (answers stored as preview; Ctrl-C stops)")

    asyncio.run(
        serve(
            loaded,
            settings.database_url,
            address,
            web_config(settings, preview=True),
            settings.clock(),
            secret=settings.web_secret,
            ready=ready,
        )
    )
    return 0
