"""The `consultbot` command line: run, try, check, import, db upgrade (and the admin and export
tools)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_dotenv
from bot.logs import setup_logging
from bot.survey_file import load_or_exit, load_survey_file
from dialogs import SurveyError

log = logging.getLogger("consultbot")


def utc_now() -> datetime:
    return datetime.now(UTC)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file) if args.file else settings.survey_file
    try:
        loaded = load_survey_file(path)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    except SurveyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    survey = loaded.survey
    from dialogs.retention import retention_warnings

    warnings = retention_warnings(survey)
    for warning in warnings:
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print(
        f"{path}: OK — {survey.id}: {len(survey.sections)} sections, {len(survey.questions)} "
        f"questions, languages {', '.join(survey.languages)}, open "
        f"{survey.opens_at.isoformat()} to {survey.closes_at.isoformat()} ({survey.timezone})"
    )
    return 0


def web_cli() -> Any:
    """The web channel's command line (`web/cli.py`), found by name at run time: bot/ and web/
    are sibling channels and never import each other."""
    return importlib.import_module("web.cli")


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    result: int = web_cli().run_command(args, settings.database_url, settings.survey_file)
    return result


def cmd_try(args: argparse.Namespace, settings: Settings) -> int:
    from bot.preview import run_preview

    loaded = load_or_exit(Path(args.file) if args.file else settings.survey_file)
    if args.web:
        result: int = web_cli().run_preview(loaded, settings.database_url, args.listen)
        return result
    return asyncio.run(
        run_preview(
            loaded,
            settings,
            name=args.as_name,
            language=args.lang,
            fresh=args.fresh,
            memory=args.no_store,
            clock=utc_now,
        )
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.clock import clock_from_env
    from bot.runner import PollingConflict, StartupError, run_polling, run_webhook
    from storage.schema import SchemaOutOfDate

    clock = clock_from_env(os.environ.get("CONSULTBOT_NOW"))
    background = background_tasks()
    try:
        if args.webhook:
            asyncio.run(run_webhook(settings, clock, background))
        else:
            asyncio.run(run_polling(settings, clock, background))
    except (ConfigError, SchemaOutOfDate) as exc:
        print(f"consultbot: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"consultbot: {exc}", file=sys.stderr)
        return 1
    except PollingConflict as exc:
        print(
            f"consultbot: stopped: Telegram answered 409 Conflict to getUpdates ({exc}): another "
            "process is polling with this BOT_TOKEN (or a webhook is set). Run one polling "
            "process per token, or several in webhook mode (`consultbot run --webhook`).",
            file=sys.stderr,
        )
        return 3
    except SurveyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    return 0


def background_tasks() -> list:  # type: ignore[type-arg]
    """The workers that run beside the handlers (broadcasts, scheduled reminders)."""
    from bot.workers import WORKERS

    return list(WORKERS)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from storage.schema import current_revision, downgrade, upgrade

    url = args.database_url or settings.database_url
    if args.action == "upgrade":
        asyncio.run(upgrade(url, args.revision or "head"))
    elif args.action == "downgrade":
        asyncio.run(downgrade(url, args.revision or "-1"))
    revision = asyncio.run(current_revision(url))
    print(f"database schema at revision {revision or '(empty)'}")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Anonymise the participants once the retention period of the survey file is over."""
    import os

    from bot.clock import clock_from_env
    from bot.export_cli import _with_store
    from storage.retention import PurgeResult, purge

    now = clock_from_env(os.environ.get("CONSULTBOT_NOW"))()

    async def work(store: Any) -> tuple[PurgeResult, str]:
        return await purge(store, now=now, dry_run=args.dry_run), store.survey.timezone

    result, timezone = asyncio.run(_with_store(settings, args, work))
    print(describe_purge(result, timezone))
    return 0


def describe_purge(result: Any, timezone: str) -> str:
    """What `consultbot purge` prints (for the operator, in English like the other commands)."""
    from zoneinfo import ZoneInfo

    if result.due_at is None:
        return (
            "the questionnaire file has no retention: block: nothing is ever anonymised "
            "(see README, Data protection)"
        )
    local = result.due_at.astimezone(ZoneInfo(timezone))
    when = f"{local.isoformat(timespec='minutes')} ({timezone})"
    if not result.ran:
        return f"anonymisation is due at {when}: nothing done before then"
    counts = result.counts
    what = (
        f"{counts.participants} participants (their Telegram id), "
        f"{counts.email_answers} e-mail answers, {counts.free_texts} free texts, "
        f"{counts.drafts} unsubmitted responses, {counts.deliveries} pending deliveries"
    )
    if result.dry_run:
        return f"dry run (anonymisation due since {when}): would remove {what}; nothing changed"
    return f"anonymisation due since {when}: removed {what}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consultbot", description="A conversational survey bot for public consultations."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a questionnaire file")
    check.add_argument("file", nargs="?", help="the YAML file (default: SURVEY_FILE)")
    check.set_defaults(func=cmd_check)

    trial = sub.add_parser("try", help="answer the questionnaire in the terminal (a preview)")
    trial.add_argument("file", nargs="?", help="the YAML file (default: SURVEY_FILE)")
    trial.add_argument(
        "--as", dest="as_name", default="preview", help="preview participant name, to resume"
    )
    trial.add_argument("--lang", default=None, help="language to start in (fr, en)")
    trial.add_argument("--fresh", action="store_true", help="forget this name's earlier preview")
    trial.add_argument(
        "--no-store", action="store_true", help="keep the preview in memory, store nothing"
    )
    trial.add_argument(
        "--web", action="store_true", help="preview the web channel in a browser instead"
    )
    trial.add_argument("--listen", default=None, help="with --web: host:port (127.0.0.1:8081)")
    trial.set_defaults(func=cmd_try)

    run = sub.add_parser("run", help="run the bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true", help="serve Telegram's webhook instead")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database schema migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / one step back)")
    db.add_argument("--database-url", help="default: DATABASE_URL")
    db.set_defaults(func=cmd_db)

    purge = sub.add_parser(
        "purge",
        help="anonymise the participants once the retention period (retention:) is over",
        description="Before the date of the file's retention: block, says when and does "
        "nothing. Afterwards removes the participants' Telegram ids and what the block lists "
        "(e-mail answers, free texts, drafts); responses stay, under their pseudonym.",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would be removed, change nothing"
    )
    purge.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    purge.add_argument("--survey", default=None, help="the questionnaire file (SURVEY_FILE)")
    purge.set_defaults(func=cmd_purge)

    web_cli().add_web_commands(sub)
    sub.choices["web"].set_defaults(func=cmd_web)

    from bot.export_cli import add_export_commands
    from bot.import_cli import add_import_command

    add_export_commands(sub)
    add_import_command(sub)
    from bot.links_cli import add_links_command

    add_links_command(sub)
    from bot.admin_cli import add_admin_commands

    add_admin_commands(sub)
    return parser


PRIVATE_UMASK = 0o077
"""Every file and folder the commands create (the SQLite database and its -wal/-shm, exports,
codebooks, reports, charts) holds personal data: readable by the owner only (0600 / 0700)."""


def main(argv: Sequence[str] | None = None) -> int:
    previous = os.umask(PRIVATE_UMASK)
    try:
        load_dotenv()
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            print(f"consultbot: {exc}", file=sys.stderr)
            return 2
        setup_logging(settings.log_level, settings.log_format)
        result: int = args.func(args, settings)
        return result
    finally:
        os.umask(previous)  # main() called in a process that goes on (tests)


if __name__ == "__main__":
    sys.exit(main())
