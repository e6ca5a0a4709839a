"""The `consultbot export` and `consultbot report` subcommands (wired into `bot.cli`).

    consultbot export --format csv --out responses.csv [--include-drafts] [--include-preview]
                      [--lang fr|en] [--with-telegram-ids] [--delimiter ';'] [--public] [--force]
    consultbot export --crosstab QUESTION_ID --format csv|xlsx --out tables.csv [--min-cell K]
    consultbot export --themes --format csv --out themes.csv [--public]
    consultbot report --out report.html [--lang fr|en] [--include-drafts] [--force]
                      [--by QUESTION_ID] [--min-cell K] [--public] [--themes]

Both read the database of `DATABASE_URL` (or `--database-url`) for the survey of `SURVEY_FILE`.
A progress bar is drawn on stderr when it is a terminal (`channels.progress`); the summary goes to
stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import analysis
import bot
import dialogs
import storage
from bot.config import Settings
from bot.survey_file import load_or_exit
from channels import heap
from channels.cli import (
    UsageError,
    add_database_option,
    add_survey_option,
    check_language,
)
from channels.progress import ProgressBar, working
from storage.files import OutputRefused, Protected, check_target

T = TypeVar("T")


async def _with_store(
    settings: Settings, args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]
) -> T:
    from storage.database import Database
    from storage.repository import Store
    from storage.schema import SchemaOutOfDate, ensure_schema

    loaded = load_or_exit(Path(args.survey) if args.survey else settings.survey_file)
    # A bad --lang is refused before the database is opened (let alone created or migrated).
    check_language(getattr(args, "lang", None), loaded.survey)
    url = args.database_url or settings.database_url
    try:
        await ensure_schema(url)
    except SchemaOutOfDate as exc:
        raise SystemExit(f"consultbot: {exc}") from exc
    db = Database(url)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        heap.freeze_built()
        return await work(store)
    finally:
        await db.close()


def protected_outputs(settings: Settings, args: argparse.Namespace) -> Protected:
    """What an export or report must never replace: the SQLite databases (the one read and the
    bot's DATABASE_URL) and their companions, the questionnaires (the one read and SURVEY_FILE),
    `.env`, the installed packages."""
    from sqlalchemy.engine import make_url

    from storage.database import sqlite_path

    databases = set()
    for raw in {settings.database_url, args.database_url or settings.database_url}:
        url = make_url(raw)
        path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
        if path is not None:
            databases.add(path)
    questionnaires = {settings.survey_file, *([Path(args.survey)] if args.survey else [])}
    return Protected.of(
        databases=sorted(databases),
        others=[(path, "the questionnaire") for path in sorted(questionnaires)]
        + [(Path(".env"), "the settings file .env")],
        folders=[
            (Path(package.__file__ or "").resolve().parent, "inside the installed program")
            for package in (analysis, bot, dialogs, storage)
        ],
    )


def _refused(error: OutputRefused) -> int:
    sys.stderr.write(f"consultbot: {error}\n")
    return 2


def _min_cell(args: argparse.Namespace) -> int | None:
    value: int | None = args.min_cell
    if value is not None and value < 0:
        raise UsageError(f"--min-cell must be 0 or more (not {value})")
    return value


def cmd_export_analysis(args: argparse.Namespace, settings: Settings) -> int:
    """`export --crosstab QUESTION_ID` or `export --themes`."""
    from bot.analysis_export import export_crosstab, export_themes

    out = Path(args.out)
    chosen: str = args.format or (out.suffix.lstrip(".").lower() or "csv")
    if args.themes and chosen != "csv":
        raise UsageError(f"--themes is exported as csv (not {chosen!r})")
    if args.crosstab and chosen not in ("csv", "xlsx"):
        raise UsageError(f"--crosstab is exported as csv or xlsx (not {chosen!r})")
    min_cell = _min_cell(args)

    async def work(store: Any) -> Any:
        try:
            if args.crosstab:
                with working("cross-tabulating"):
                    return await export_crosstab(
                        store,
                        out,
                        by=args.crosstab,
                        fmt=chosen,
                        language=args.lang,
                        min_cell=min_cell,
                        include_drafts=args.include_drafts,
                    )
            with working("finding the themes"):
                return await export_themes(
                    store, out, public=args.public, include_drafts=args.include_drafts
                )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc

    result = asyncio.run(_with_store(settings, args, work))
    what = "cross-tabulation rows" if args.crosstab else "free-text answers with their theme"
    sys.stdout.write(f"wrote {result.rows:,} {what} to {result.path}\n")
    return 0


def cmd_export_stat_file(args: argparse.Namespace, settings: Settings, fmt: str, out: Path) -> int:
    """`export --format sav|dta|parquet`: for SPSS, Stata, and Parquet readers."""
    from bot.stat_formats import export_stat_file

    bar = ProgressBar(f"export {fmt}")

    async def work(store: Any) -> Any:
        return await export_stat_file(
            store,
            out,
            fmt,
            language=args.lang,
            include_drafts=args.include_drafts,
            include_preview=args.include_preview,
            with_telegram_ids=args.with_telegram_ids,
            public=args.public,
            progress=bar,
        )

    try:
        result = asyncio.run(_with_store(settings, args, work))
    finally:
        bar.close()
    sys.stdout.write(
        f"exported {result.rows:,} responses ({result.columns} variables) in "
        f"{result.seconds:.1f} s: {result.paths[0]}\n"
    )
    if args.with_telegram_ids:
        sys.stderr.write("warning: this export holds Telegram ids (personal data): keep it safe\n")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.export import FORMATS, ExportOptions, export_responses, output_paths

    if args.crosstab or args.themes:
        if args.crosstab and args.themes:
            raise UsageError("--crosstab and --themes are two exports: choose one")
        try:
            check_target(
                Path(args.out), overwrite=args.force, protected=protected_outputs(settings, args)
            )
        except OutputRefused as error:
            return _refused(error)
        return cmd_export_analysis(args, settings)
    if args.public and args.with_telegram_ids:
        raise UsageError("--public leaves every identifier out: no --with-telegram-ids")
    out = Path(args.out)
    chosen: str = args.format or (out.suffix.lstrip(".").lower() or "csv")
    protected = protected_outputs(settings, args)
    if chosen in ("sav", "dta", "parquet"):
        try:
            check_target(out, overwrite=args.force, protected=protected)
        except OutputRefused as error:
            return _refused(error)
        return cmd_export_stat_file(args, settings, chosen, out)
    fmt = next((f for f in FORMATS if f == chosen), None)
    if fmt is None:
        raise UsageError(f"--format must be csv, xlsx, json, sav, dta or parquet (not {chosen!r})")
    try:
        for path in output_paths(fmt, out):
            check_target(path, overwrite=args.force, protected=protected)
    except OutputRefused as error:
        return _refused(error)
    options = ExportOptions(
        format=fmt,
        out=out,
        language=args.lang,
        include_drafts=args.include_drafts,
        include_preview=args.include_preview,
        with_telegram_ids=args.with_telegram_ids,
        delimiter=args.delimiter,
        public=args.public,
        overwrite=args.force,
        protected=protected,
    )
    bar = ProgressBar(f"export {fmt}")

    async def work(store: Any) -> Any:
        return await export_responses(store, options, progress=bar)

    try:
        result = asyncio.run(_with_store(settings, args, work))
    except OutputRefused as error:  # a file that appeared meanwhile
        return _refused(error)
    finally:
        bar.close()
    sys.stdout.write(
        f"exported {result.rows:,} responses ({result.columns} columns) in "
        f"{result.seconds:.1f} s: {', '.join(str(p) for p in result.paths)}\n"
    )
    if args.with_telegram_ids:
        sys.stderr.write("warning: this export holds Telegram ids (personal data): keep it safe\n")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.report import ReportOptions, write_report

    out = Path(args.out)
    protected = protected_outputs(settings, args)
    try:
        check_target(out, overwrite=args.force, protected=protected)
    except OutputRefused as error:
        return _refused(error)
    options = ReportOptions(
        out=out,
        language=args.lang,
        include_drafts=args.include_drafts,
        overwrite=args.force,
        protected=protected,
        by=args.by,
        min_cell=_min_cell(args),
        public=args.public,
        themes=args.themes,
    )
    bar = ProgressBar("report")

    async def work(store: Any) -> Any:
        try:
            return await write_report(store, options, progress=bar)
        except UnicodeError:  # writing failed: not a question of the options given
            raise
        except ValueError as exc:
            raise UsageError(str(exc)) from exc

    try:
        result = asyncio.run(_with_store(settings, args, work))
    except OutputRefused as error:  # a file that appeared meanwhile
        return _refused(error)
    finally:
        bar.close()
    sys.stdout.write(f"report of {result.responses:,} responses written to {result.path}\n")
    if options.threshold > 1:
        sys.stdout.write(
            f"{result.suppressed:,} figures hidden (counts under {options.threshold} "
            "and those that would reveal them)\n"
        )
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file (never the database, the questionnaire or the program)",
    )
    parser.add_argument(
        "--lang", default=None, help="language of the texts (default: the questionnaire's first)"
    )
    parser.add_argument(
        "--include-drafts", action="store_true", help="also responses not submitted yet"
    )
    add_database_option(parser)
    add_survey_option(parser)
    parser.add_argument(
        "--min-cell",
        type=int,
        default=None,
        metavar="K",
        help="hide every count under K, and whatever would reveal it "
        "(default 5 with --by, --crosstab or --public)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="a version to publish: no e-mail answers, no identifier, counts under 5 hidden",
    )


def add_export_commands(subparsers: Any) -> None:
    """Register `export` and `report` on the `consultbot` subparsers."""
    export = subparsers.add_parser(
        "export",
        help="export the responses (CSV, XLSX or JSON) with their codebook",
        description="One row per response, one column per question; a codebook goes with it "
        "(CSV: <stem>-codebook.csv beside it; XLSX: a second sheet; JSON: inside).",
    )
    export.add_argument(
        "--format",
        choices=["csv", "xlsx", "json", "sav", "dta", "parquet"],
        default=None,
        help="default: from the extension of --out",
    )
    _common(export)
    export.add_argument(
        "--include-preview", action="store_true", help="also the previews of `consultbot try`"
    )
    export.add_argument(
        "--with-telegram-ids",
        action="store_true",
        help="add the participants' Telegram ids (personal data) beside their pseudonyms",
    )
    export.add_argument(
        "--delimiter", default=",", help="CSV field separator (';' for a French spreadsheet)"
    )
    export.add_argument(
        "--crosstab",
        default=None,
        metavar="QUESTION_ID",
        help="export every closed question broken down by this single-choice question (csv, xlsx)",
    )
    export.add_argument(
        "--themes",
        action="store_true",
        help="export the theme of every free-text answer (csv), for staff to review",
    )
    export.set_defaults(func=cmd_export)

    report = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report: a chart per closed question, the free texts",
        description="A self-contained HTML file: the figures, a chart per closed question, the "
        "free texts; --by adds a breakdown, --public a version to publish.",
    )
    _common(report)
    report.add_argument(
        "--by",
        default=None,
        metavar="QUESTION_ID",
        help="break every closed question down by this single-choice question (e.g. actor_type), "
        "with a test of independence",
    )
    report.add_argument(
        "--themes", action="store_true", help="find the themes of every free-text question"
    )
    report.set_defaults(func=cmd_report)
