"""The `consultbot export` and `consultbot report` subcommands (wired into `bot.cli`).

    consultbot export --format csv --out responses.csv [--include-drafts] [--include-preview]
                      [--lang fr|en] [--with-telegram-ids] [--delimiter ';']
    consultbot report --out report.html [--lang fr|en] [--include-drafts]

Both read the database of `DATABASE_URL` (or `--database-url`) for the survey of `SURVEY_FILE`.
A progress bar is drawn on stderr when it is a terminal; the summary goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.config import Settings
from bot.survey_file import load_or_exit

T = TypeVar("T")


class ProgressBar:
    """`\\r`-redrawn progress on a terminal (nothing when the stream is not one)."""

    def __init__(self, label: str, stream: TextIO | None = None, *, width: int = 30) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done:,}/{total:,} ({fraction:.0%})")
        self._drawn = True
        if done >= total:  # complete: end the line before anything else is logged
            self.stream.write("\n")
            self._drawn = False
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


async def _with_store(
    settings: Settings, args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]
) -> T:
    from storage.database import create_engine
    from storage.repository import Store
    from storage.schema import SchemaOutOfDate, ensure_schema

    loaded = load_or_exit(Path(args.survey) if args.survey else settings.survey_file)
    url = args.database_url or settings.database_url
    try:
        await ensure_schema(url)
    except SchemaOutOfDate as exc:
        raise SystemExit(f"consultbot: {exc}") from exc
    engine = create_engine(url)
    try:
        store = Store(engine, loaded.survey, file_hash=loaded.file_hash)
        return await work(store)
    finally:
        await engine.dispose()


def _check_language(args: argparse.Namespace, store: Any) -> None:
    if args.lang is not None and args.lang not in store.survey.languages:
        raise SystemExit(
            f"consultbot: --lang {args.lang}: the survey's languages are "
            f"{', '.join(store.survey.languages)}"
        )


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from storage.export import FORMATS, ExportOptions, export_responses

    out = Path(args.out)
    chosen: str = args.format or (out.suffix.lstrip(".").lower() or "csv")
    fmt = next((f for f in FORMATS if f == chosen), None)
    if fmt is None:
        raise SystemExit(f"consultbot: --format must be csv, xlsx or json (not {chosen!r})")
    options = ExportOptions(
        format=fmt,
        out=out,
        language=args.lang,
        include_drafts=args.include_drafts,
        include_preview=args.include_preview,
        with_telegram_ids=args.with_telegram_ids,
        delimiter=args.delimiter,
    )
    bar = ProgressBar(f"export {fmt}")

    async def work(store: Any) -> Any:
        _check_language(args, store)
        return await export_responses(store, options, progress=bar)

    try:
        result = asyncio.run(_with_store(settings, args, work))
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

    options = ReportOptions(
        out=Path(args.out), language=args.lang, include_drafts=args.include_drafts
    )
    bar = ProgressBar("report")

    async def work(store: Any) -> Any:
        _check_language(args, store)
        return await write_report(store, options, progress=bar)

    try:
        result = asyncio.run(_with_store(settings, args, work))
    finally:
        bar.close()
    sys.stdout.write(f"report of {result.responses:,} responses written to {result.path}\n")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--lang", default=None, help="language of the texts (default: the first)")
    parser.add_argument(
        "--include-drafts", action="store_true", help="also responses not submitted yet"
    )
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    parser.add_argument("--survey", default=None, help="the questionnaire file (SURVEY_FILE)")


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
        choices=["csv", "xlsx", "json"],
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
    export.set_defaults(func=cmd_export)

    report = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report: a chart per closed question, the free texts",
    )
    _common(report)
    report.set_defaults(func=cmd_report)
