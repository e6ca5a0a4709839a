"""The conventions every `consultbot` command follows (the bot's and the web channel's).

- The questionnaire is `--survey PATH`, by default `SURVEY_FILE`; the database `--database-url`,
  by default `DATABASE_URL`.
- A usage error (a bad option or value) is one line on stderr, `consultbot ...: ...`, and exit
  status 2 (`ArgumentParser.error`, `UsageError`); a failure (a file that cannot be read, an
  unreachable database) is one line and exit status 1 (`SystemExit("consultbot: ...")`).
- `--lang` is one of the questionnaire's languages (`check_language`).
- `-v/--verbose` shows the logs of the libraries (alembic, aiogram, SQLAlchemy), quiet otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dialogs import Survey

LIBRARY_LOGGERS = ("alembic", "aiogram", "aiohttp", "asyncio", "matplotlib")
"""Loggers quiet (warnings and errors only) in the staff commands unless `-v`. SQLAlchemy keeps
its own level (WARNING: statements are never logged) and aiosqlite the one `bot.logs` gives it
(its DEBUG lines hold the statements' parameters)."""


class UsageError(Exception):
    """A command was given a value it cannot use: one line on stderr and exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with its errors on one line (`consultbot export: ...`)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def add_survey_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--survey",
        default=None,
        metavar="PATH",
        help="the questionnaire file (default: SURVEY_FILE)",
    )


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", default=None, metavar="URL", help="the database (default: DATABASE_URL)"
    )


def add_verbose_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`-v`, on the main parser (`top`) and on each command: a command's own default must not
    hide `consultbot -v export ...`, hence SUPPRESS there."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="also show the logs of the libraries (alembic, aiogram, SQLAlchemy)",
    )


def add_deprecated_survey_argument(parser: argparse.ArgumentParser) -> None:
    """The questionnaire as a positional argument, as it was given before `--survey` (hidden)."""
    parser.add_argument("file", nargs="?", default=None, help=argparse.SUPPRESS)


def survey_path(args: argparse.Namespace) -> str | None:
    """`--survey`, or the deprecated positional file (with a warning), or None."""
    given: str | None = getattr(args, "survey", None)
    old: str | None = getattr(args, "file", None)
    if old is not None:
        if given is not None:
            raise UsageError("give the questionnaire once, with --survey")
        sys.stderr.write(
            "consultbot: warning: the questionnaire as an argument is deprecated: use --survey\n"
        )
        return old
    return given


def check_language(language: str | None, survey: Survey, option: str = "--lang") -> None:
    """UsageError unless `language` is None or one of the survey's languages."""
    if language is not None and language not in survey.languages:
        raise UsageError(
            f"{option} {language}: the questionnaire's languages are {', '.join(survey.languages)}"
        )


def quiet_libraries(verbose: bool) -> None:
    """The libraries' logs: shown with `-v`, warnings and errors only otherwise."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    if not verbose:
        logging.getLogger("sqlalchemy").setLevel(max(logging.WARNING, _level("sqlalchemy")))


def _level(name: str) -> int:
    return logging.getLogger(name).level


def walk(parser: argparse.ArgumentParser) -> Sequence[tuple[str, argparse.ArgumentParser]]:
    """Every parser under `parser` (itself first), with its program name."""
    found: list[tuple[str, argparse.ArgumentParser]] = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(walk(child))
    return found


def missing_help(parser: argparse.ArgumentParser) -> list[str]:
    """The commands without a description and the options without a help text."""
    missing: list[str] = []
    for prog, each in walk(parser):
        if not each.description:
            missing.append(f"{prog}: no description")
        for action in each._actions:
            if action.help == argparse.SUPPRESS:
                continue
            if not action.help:
                missing.append(f"{prog}: {'/'.join(action.option_strings) or action.dest}")
    return missing


def fail(message: str) -> Any:
    """A failure: one line and exit status 1."""
    raise SystemExit(f"consultbot: {message}")
