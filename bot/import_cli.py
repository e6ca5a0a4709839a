"""The `consultbot import` subcommand (wired into `bot.cli`): an XLSForm workbook (ODK,
KoboToolbox, SurveyCTO) into a questionnaire file.

    consultbot import FORM.xlsx --out survey.yaml [--id ID] [--opens-at ISO --closes-at ISO]
                     [--on-unsupported keep|skip|fail] [--incomplete-languages fill|drop]

Prints a summary (questions by type, languages, what was left out, with the rows of the
spreadsheet); exits 1 when the form cannot be imported, when `--on-unsupported fail` meets
something that cannot run in a chat, or when the questionnaire written does not pass
`consultbot check`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from channels.progress import working
from dialogs import SurveyError, parse_survey
from forms.output import options_csv, questionnaire_yaml
from forms.workbook import csv_loader, read_workbook
from forms.xlsform import FormError, ImportOptions, ImportResult, translate

DEFAULT_DAYS_OPEN = 30


def add_import_command(sub: Any) -> None:
    command = sub.add_parser(
        "import",
        help="make a questionnaire file from an XLSForm (ODK / KoboToolbox) workbook",
        description="Translate an XLSForm workbook into a questionnaire file, print what was "
        "imported and left out, and check the file written as `consultbot check` does.",
    )
    command.add_argument("form", help="the .xlsx workbook (sheets survey, choices, settings)")
    command.add_argument("--out", required=True, help="the questionnaire file to write (.yaml)")
    command.add_argument("--id", dest="survey_id", help="the survey id (default: form_id)")
    command.add_argument(
        "--opens-at",
        help=f"ISO 8601 with offset (default: now; closes {DEFAULT_DAYS_OPEN} days on)",
    )
    command.add_argument("--closes-at", help="ISO 8601 with offset")
    command.add_argument(
        "--on-unsupported",
        choices=["keep", "skip", "fail"],
        default="keep",
        help="a relevant that cannot be translated: keep the question unconditional, skip it, "
        "or fail on anything that cannot run in a chat (default: keep)",
    )
    command.add_argument(
        "--incomplete-languages",
        choices=["fill", "drop"],
        default="fill",
        help="a language with missing labels: fill them from the default language, or drop "
        "the language (default: fill)",
    )
    command.add_argument(
        "--lang", default="fr", help="the language of a plain 'label' column (default: fr)"
    )
    command.add_argument("--timezone", default="Europe/Paris", help="default: Europe/Paris")
    command.set_defaults(func=cmd_import)


def _instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{option} {text!r} is not an ISO 8601 date-time") from exc
    if value.utcoffset() is None:
        raise ValueError(f"{option} {text!r} needs a UTC offset, e.g. +01:00")
    return value


def cmd_import(args: argparse.Namespace, settings: Settings, now: datetime | None = None) -> int:
    form = Path(args.form)
    out = Path(args.out)
    start = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    try:
        opens_at = _instant(args.opens_at, "--opens-at") if args.opens_at else start
        closes_at = (
            _instant(args.closes_at, "--closes-at")
            if args.closes_at
            else opens_at + timedelta(days=DEFAULT_DAYS_OPEN)
        )
    except ValueError as exc:
        print(f"consultbot: import: {exc}", file=sys.stderr)
        return 2
    if closes_at <= opens_at:
        print("consultbot: import: --closes-at must be after --opens-at", file=sys.stderr)
        return 2
    options = ImportOptions(
        opens_at=opens_at,
        closes_at=closes_at,
        survey_id=args.survey_id,
        source_name=form.stem,
        timezone=args.timezone,
        default_language=args.lang,
        on_unsupported=args.on_unsupported,
        incomplete_languages=args.incomplete_languages,
    )
    try:
        with working(f"reading {form.name}"):
            sheets = read_workbook(form)
            result = translate(sheets, options, csv_loader(form.parent))
    except FileNotFoundError:
        print(f"consultbot: {form}: no such file", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"consultbot: {form}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except FormError as exc:
        print(f"{form}: {exc}", file=sys.stderr)
        return 1
    if args.on_unsupported == "fail" and result.unsupported:
        print_summary(result, form, out, sys.stderr)
        print(
            f"{form}: {len(result.unsupported)} thing(s) cannot run in a chat "
            "(--on-unsupported fail): nothing written",
            file=sys.stderr,
        )
        return 1
    text = questionnaire_yaml(result, form.name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for name, rows in result.option_files.items():
            (out.parent / name).write_text(options_csv(rows), encoding="utf-8")
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"consultbot: {exc.filename or out}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    print_summary(result, form, out, sys.stdout)
    try:
        parse_survey(text, str(out))
    except SurveyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if result.long_lists:
            print(
                f"{out}: the long lists ({', '.join(result.long_lists)}) need the long-list "
                "questionnaire format",
                file=sys.stderr,
            )
        print(
            f"{out}: written, but {len(exc.problems)} problem(s) for `consultbot check`",
            file=sys.stderr,
        )
        return 1
    print(f"{out}: OK for `consultbot check`; try it with `consultbot try --survey {out}`")
    return 0


def print_summary(result: ImportResult, form: Path, out: Path, stream: TextIO) -> None:
    data = result.questionnaire
    counts = result.counts() if data else {}
    total = sum(counts.values())

    def say(line: str = "") -> None:
        print(line, file=stream)

    if data:
        say(f"{form} -> {out}: {total} questions in {len(data['sections'])} sections")
        say("  questions: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
        say(f"  languages: {', '.join(result.languages)} (default {result.languages[0]})")
        say(f"  open from {data['opens_at']} to {data['closes_at']} ({data['timezone']})")
    for language, places in result.incomplete.items():
        action = "left out" if language in result.dropped_languages else "filled from the default"
        shown = ", ".join(places[:8]) + (", ..." if len(places) > 8 else "")
        say(
            f"  language {language} is incomplete: {len(places)} text(s) missing ({shown}): "
            f"{action}"
        )
    if result.unsupported:
        say(f"  cannot run in a chat or not translated ({len(result.unsupported)}):")
        for issue in result.unsupported:
            say(f"    {issue}")
    if result.notes:
        say(f"  left out or adapted ({len(result.notes)}):")
        for issue in result.notes:
            say(f"    {issue}")
