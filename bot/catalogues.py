"""Compile the translation catalogues (.po → .mo) and check that they are complete and current.

python -m bot.catalogues            # compile
python -m bot.catalogues --check    # exit 1 if a .mo is stale or a key is missing
"""

from __future__ import annotations

import argparse
import io
import logging
import sys

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LANGUAGES, LOCALES_DIR
from channels.cli import ArgumentParser
from dialogs.screens import NOTICE_KEYS

log = logging.getLogger(__name__)


def _messages(catalog: object) -> dict[str, str]:
    return {m.id: m.string for m in catalog if m.id}  # type: ignore[attr-defined]


def problems() -> list[str]:
    found: list[str] = []
    keys: dict[str, set[str]] = {}
    for language in LANGUAGES:
        folder = LOCALES_DIR / language / "LC_MESSAGES"
        with (folder / f"{DOMAIN}.po").open("rb") as source:
            po = read_po(source, locale=language)
        messages = _messages(po)
        keys[language] = set(messages)
        for key, text in messages.items():
            if not text:
                found.append(f"{language}: {key!r} has no translation")
        for notice in NOTICE_KEYS:
            if f"notice.{notice}" not in messages:
                found.append(f"{language}: notice.{notice} is missing")
        mo_path = folder / f"{DOMAIN}.mo"
        if not mo_path.is_file():
            found.append(f"{language}: {mo_path} is not compiled")
            continue
        with mo_path.open("rb") as compiled:
            if _messages(read_mo(compiled)) != messages:
                found.append(f"{language}: {mo_path} is older than its .po; compile it")
    first, *others = LANGUAGES
    for language in others:
        for key in sorted(keys[first] ^ keys[language]):
            found.append(f"{key!r} is in one catalogue but not in the other ({first}, {language})")
    return found


def compile_all() -> None:
    for language in LANGUAGES:
        folder = LOCALES_DIR / language / "LC_MESSAGES"
        with (folder / f"{DOMAIN}.po").open("rb") as source:
            po = read_po(source, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, po)
        (folder / f"{DOMAIN}.mo").write_bytes(buffer.getvalue())


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m bot.catalogues",
        description="Compile the translation catalogues (.po to .mo), then name every missing "
        "or stale translation (exit 1 if any).",
    )
    parser.add_argument("--check", action="store_true", help="compile nothing: only check (for CI)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.check:
        compile_all()
    found = problems()
    for problem in found:
        sys.stderr.write(problem + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
