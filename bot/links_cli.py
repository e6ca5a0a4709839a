"""`consultbot links create` and `consultbot links list`: invitation links by source.

    consultbot links create --source pole:aerospace-valley [--label TEXT] [--code CODE]
    consultbot links list

`create` prints the Telegram deep link `https://t.me/<bot username>?start=<code>` (the username
is BOT_USERNAME, or asked of Telegram with getMe when unset) and, when WEB_BASE_URL is set, the
web form's link `<WEB_BASE_URL>/?src=<code>`. `list` shows every link with the participants whose
source it is, how many of them started (answered a question) and submitted, and how many opened it
after coming first through another link.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from bot.config import ConfigError, Settings
from bot.export_cli import _with_store
from storage.links import LinkError, LinkStore

TELEGRAM_LINK = "https://t.me/{username}?start={code}"
WEB_LINK = "{base}/?src={code}"


async def bot_username(settings: Settings) -> str:
    """BOT_USERNAME, or the username Telegram gives for BOT_TOKEN."""
    if settings.bot_username:
        return settings.bot_username
    if not settings.bot_token:
        raise ConfigError(
            "set BOT_USERNAME (the bot's @username) or BOT_TOKEN to build the Telegram link"
        )
    from bot.app import build_bot

    bot = build_bot(settings.bot_token, settings.api_url)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    if not me.username:
        raise ConfigError("Telegram gave no username for this bot: set BOT_USERNAME")
    return me.username


def telegram_link(username: str, code: str) -> str:
    return TELEGRAM_LINK.format(username=username, code=code)


def web_link(settings: Settings, code: str) -> str | None:
    return WEB_LINK.format(base=settings.web_base_url, code=code) if settings.web_base_url else None


def cmd_links(args: argparse.Namespace, settings: Settings) -> int:
    async def create(store: Any) -> int:
        username = await bot_username(settings)
        await store.register_survey()
        links = LinkStore(store.db, store.survey.id)
        now = datetime.now(UTC)
        link = await links.create(args.source, now=now, label=args.label, code=args.code)
        print(f"source: {link.source}" + (f" ({link.label})" if link.label else ""))
        print(f"telegram: {telegram_link(username, link.code)}")
        web = web_link(settings, link.code)
        if web is not None:
            print(f"web: {web}")
        return 0

    async def listing(store: Any) -> int:
        rows = await LinkStore(store.db, store.survey.id).counts()
        if not rows:
            print("no invitation links yet: consultbot links create --source KIND:NAME")
            return 0
        header = ("code", "source", "label", "participants", "started", "submitted", "later")
        table = [
            (
                row.link.code,
                row.link.source,
                row.link.label or "",
                str(row.participants),
                str(row.started),
                str(row.submitted),
                str(row.later),
            )
            for row in rows
        ]
        widths = [max(len(r[i]) for r in (header, *table)) for i in range(len(header))]
        for line in (header, *table):
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        return 0

    try:
        work = create if args.action == "create" else listing
        if args.action == "create" and not args.source:
            print("consultbot links create: --source is required", file=sys.stderr)
            return 2
        result: int = asyncio.run(_with_store(settings, args, work))
    except (ConfigError, LinkError) as exc:
        print(f"consultbot links: {exc}", file=sys.stderr)
        return 2
    return result


def add_links_command(subparsers: Any) -> None:
    links = subparsers.add_parser(
        "links",
        help="invitation links by source (a pôle, a region...)",
        description="create: a Telegram deep link (and a web link when WEB_BASE_URL is set) for "
        "one source; list: every link with its participants, started and submitted.",
    )
    links.add_argument("action", choices=["create", "list"])
    links.add_argument("--source", default=None, help="e.g. pole:aerospace-valley")
    links.add_argument("--label", default=None, help="a note for the organisers")
    links.add_argument(
        "--code", default=None, help="the start code (default: 12 random characters)"
    )
    links.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    links.add_argument("--survey", default=None, help="the questionnaire file (SURVEY_FILE)")
    links.set_defaults(func=cmd_links)
