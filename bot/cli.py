"""The `consultbot` command line: run, try, check, import, db upgrade (and the admin and export
tools)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from bot.config import ConfigError, Settings
from bot.logs import describe_exception, setup_logging
from bot.survey_file import load_or_exit, load_survey_file
from channels.cli import (
    ArgumentParser,
    UsageError,
    add_database_option,
    add_deprecated_survey_argument,
    add_survey_option,
    add_verbose_option,
    check_language,
    quiet_libraries,
    survey_path,
)
from dialogs import SurveyError
from storage.database import UnsupportedDatabase

log = logging.getLogger("consultbot")


def utc_now() -> datetime:
    return datetime.now(UTC)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.survey) if args.survey else settings.survey_file
    try:
        loaded = load_survey_file(path)
    except OSError as exc:
        print(f"consultbot: cannot read the survey file {path}: {exc.strerror}", file=sys.stderr)
        return 1
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
    result: int = web_cli().run_command(args, settings)
    return result


def cmd_try(args: argparse.Namespace, settings: Settings) -> int:
    from bot.preview import run_preview

    loaded = load_or_exit(Path(args.survey) if args.survey else settings.survey_file)
    check_language(args.lang, loaded.survey)
    if args.web:
        settings.require("web")
        result: int = web_cli().run_preview(loaded, settings, args.listen)
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
    from bot.runner import PollingConflict, StartupError, run_polling, run_webhook
    from storage.schema import SchemaOutOfDate

    settings = settings.with_survey(args.survey)
    clock = settings.clock()
    background = [settle_heap, *background_tasks()]
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


async def settle_heap(ctx: Any, bot: Any) -> None:
    """Started with the workers, once the bot is built: the collector's policy of a serving
    process (`channels.heap`), owned by this entry point."""
    from channels import heap

    heap.settle()


def background_tasks() -> list:  # type: ignore[type-arg]
    """The workers that run beside the handlers (broadcasts, scheduled reminders)."""
    from bot.workers import WORKERS

    return list(WORKERS)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from channels.progress import working
    from storage.schema import current_revision, downgrade, upgrade

    url = args.database_url or settings.database_url
    with working(f"database {args.action}"):
        if args.action == "upgrade":
            asyncio.run(upgrade(url, args.revision or "head"))
        elif args.action == "downgrade":
            asyncio.run(downgrade(url, args.revision or "-1"))
    revision = asyncio.run(current_revision(url))
    print(f"database schema at revision {revision or '(empty)'}")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Anonymise the participants once the retention period of the survey file is over."""
    from bot.export_cli import _with_store
    from channels.progress import working
    from storage.retention import PurgeResult, purge

    now = settings.clock()()

    async def work(store: Any) -> tuple[PurgeResult, str]:
        with working("anonymising" if not args.dry_run else "counting"):
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


NEEDS = "needs"
"""The groups of settings a command uses (`channels.settings`): only those can stop it."""


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="consultbot",
        description="A conversational survey bot for public consultations: run the bot, try "
        "and check a questionnaire, export and analyse the responses. Settings come from the "
        "environment or a .env file (see README, Settings).",
    )
    add_verbose_option(parser, top=True)
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do (`consultbot COMMAND --help` for its options)",
    )

    check = sub.add_parser(
        "check",
        help="validate a questionnaire file",
        description="Read a questionnaire file and name every problem in it (exit 1 if any).",
    )
    add_survey_option(check)
    add_deprecated_survey_argument(check)
    check.set_defaults(func=cmd_check)

    trial = sub.add_parser(
        "try",
        help="answer the questionnaire in the terminal (a preview)",
        description="Play the dialogue in the terminal, whatever the date; the answers are "
        "stored as a preview (left out of exports unless --include-preview).",
    )
    add_survey_option(trial)
    add_deprecated_survey_argument(trial)
    trial.add_argument(
        "--as", dest="as_name", default="preview", help="preview participant name, to resume"
    )
    trial.add_argument(
        "--lang", default=None, help="language to start in (one of the questionnaire's)"
    )
    trial.add_argument("--fresh", action="store_true", help="forget this name's earlier preview")
    trial.add_argument(
        "--no-store", action="store_true", help="keep the preview in memory, store nothing"
    )
    trial.add_argument(
        "--web", action="store_true", help="preview the web channel in a browser instead"
    )
    trial.add_argument("--listen", default=None, help="with --web: host:port (default: WEB_LISTEN)")
    trial.set_defaults(func=cmd_try)

    run = sub.add_parser(
        "run",
        help="run the bot (long polling, or --webhook)",
        description="Serve the bot until SIGTERM: long polling by default, Telegram's webhook "
        "with --webhook; the broadcasts, reminders and retention run beside it.",
    )
    run.add_argument("--webhook", action="store_true", help="serve Telegram's webhook instead")
    add_survey_option(run)
    run.set_defaults(func=cmd_run, needs=("core", "serve", "telegram", "bot", "broadcast"))

    db = sub.add_parser(
        "db",
        help="database schema migrations",
        description="Migrate the database schema (upgrade, downgrade) or show its revision.",
    )
    db.add_argument(
        "action",
        choices=["upgrade", "downgrade", "current"],
        help="upgrade, downgrade, or show the current revision",
    )
    db.add_argument("revision", nargs="?", help="target revision (default: head / one step back)")
    add_database_option(db)
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
    add_database_option(purge)
    add_survey_option(purge)
    purge.set_defaults(func=cmd_purge)

    web_cli().add_web_commands(sub)
    sub.choices["web"].set_defaults(func=cmd_web, needs=("core", "serve", "web"))

    from bot.export_cli import add_export_commands
    from bot.import_cli import add_import_command

    add_export_commands(sub)
    add_import_command(sub)
    from bot.links_cli import add_links_command

    add_links_command(sub)
    from bot.admin_cli import add_admin_commands

    add_admin_commands(sub)
    for command in dict.fromkeys(sub.choices.values()):
        add_verbose_option(command)
    return parser


PRIVATE_UMASK = 0o077
"""Every file and folder the commands create (the SQLite database and its -wal/-shm, exports,
codebooks, reports, charts) holds personal data: readable by the owner only (0600 / 0700)."""


def main(argv: Sequence[str] | None = None) -> int:
    previous = os.umask(PRIVATE_UMASK)
    try:
        args = build_parser().parse_args(argv)
        settings = Settings.load()
        try:
            settings.require(*getattr(args, NEEDS, ("core",)))
            args.survey = survey_path(args)
            setup_logging(settings.log_level, settings.log_format)
            if not serving(args):
                quiet_libraries(args.verbose)
            result: int = args.func(args, settings)
            return result
        except (ConfigError, UsageError) as exc:
            print(f"consultbot: {exc}", file=sys.stderr)
            return 2
        except UnsupportedDatabase as exc:
            print(f"consultbot: DATABASE_URL (or --database-url): {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("consultbot: interrupted", file=sys.stderr)
            return 130
        except (OSError, DBAPIError) as exc:
            if args.verbose:
                raise
            print(f"consultbot: {failure(exc)}", file=sys.stderr)
            return 1
    finally:
        os.umask(previous)  # main() called in a process that goes on (tests)


def serving(args: argparse.Namespace) -> bool:
    """`run` and `web` (serve): the long-running processes, whose library logs go to the
    operator's log at LOG_LEVEL; the staff commands keep them quiet unless `-v`."""
    command: str = args.command
    return command == "run" or (command == "web" and args.action == "serve")


def failure(exc: BaseException) -> str:
    """An expected failure (a file, the network, the database) in one line."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return (
            f"cannot connect: {exc.strerror or exc}; is the database (DATABASE_URL or "
            "--database-url) reachable?"
        )
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, DBAPIError):
        return f"database error: {describe_exception(exc.orig or exc)} (-v for details)"
    return describe_exception(exc)


if __name__ == "__main__":
    sys.exit(main())
