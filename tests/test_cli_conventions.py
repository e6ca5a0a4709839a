"""The conventions every `consultbot` command follows: help for every command and option, the
questionnaire as `--survey`, `--lang` checked against the questionnaire, errors as one line (exit 2
for usage, 1 for failures), settings unrelated to a command never blocking it, library logs quiet
unless `-v`, progress on a terminal's stderr only."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalogues import build_parser as catalogues_parser
from bot.cli import build_parser, main
from channels.cli import LIBRARY_LOGGERS, missing_help, walk
from tests.storage.helpers import BUNDLED

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("ADMIN_IDS", "BOT_TOKEN", "DATABASE_URL", "SURVEY_FILE", "LOG_LEVEL", "WEB_LISTEN")


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder without `.env`, a database of its own, the library loggers restored."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    levels = {name: logging.getLogger(name).level for name in (*LIBRARY_LOGGERS, "sqlalchemy")}
    yield tmp_path
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("consultbot"), text
    return lines[0]


def test_every_command_and_option_has_a_help_text() -> None:
    parser = build_parser()
    commands = [prog for prog, _ in walk(parser)]
    assert "consultbot export" in commands and "consultbot web" in commands
    assert len(commands) == 14
    assert missing_help(parser) == []
    assert missing_help(catalogues_parser()) == []


def test_every_command_that_reads_a_questionnaire_takes_survey() -> None:
    parser = build_parser()
    takes = {
        prog.removeprefix("consultbot ")
        for prog, each in walk(parser)
        if any("--survey" in action.option_strings for action in each._actions)
    }
    assert takes == {
        "check", "try", "run", "purge", "web", "export", "report", "links", "stats", "history",
        "broadcast",
    }  # fmt: skip


def test_a_malformed_unrelated_setting_does_not_block_a_command(
    operator: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "abc")
    assert main(["check"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["export", "--out", str(operator / "out.csv")]) == 0
    assert "exported 0 responses" in capsys.readouterr().out

    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    assert main(["run"]) == 2
    captured = capsys.readouterr()
    assert one_line(captured.err) == (
        "consultbot: ADMIN_IDS must be numeric Telegram user ids separated by commas "
        "(12345,67890), not 'abc'"
    )
    assert captured.out == ""


def test_a_setting_every_command_uses_stops_them_all(
    operator: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    assert main(["check"]) == 2
    assert "LOG_LEVEL must be one of DEBUG, INFO" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("url", ["garbage", "mysql://db/x", "sqlite:///plain.db"])
def test_a_database_url_the_program_cannot_use_is_one_line_and_creates_nothing(
    operator: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["stats"]) == 2
    assert one_line(capsys.readouterr().err).startswith(
        "consultbot: DATABASE_URL must be a database URL such as sqlite+aiosqlite:///"
    )
    monkeypatch.delenv("DATABASE_URL")
    assert main(["stats", "--database-url", url]) == 2
    assert one_line(capsys.readouterr().err).startswith(
        "consultbot: DATABASE_URL (or --database-url)"
    )
    assert sorted(path.name for path in operator.iterdir()) == []


def test_a_usage_error_is_one_line_and_exit_status_2(
    operator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["export", "--format", "csv"])
    assert raised.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("consultbot export: the following arguments are required: --out")
    assert main(["web", "invite", "--count", "0"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "consultbot: --count must be between 1 and 100000 (not 0)"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["try", "--no-store"],
        ["stats"],
        ["export", "--out", "x.csv"],
        ["report", "--out", "x.html"],
        ["web", "invite"],
    ],
)
def test_lang_is_one_of_the_questionnaire_s_languages(
    operator: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main([*argv, "--lang", "de"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "consultbot: --lang de: the questionnaire's languages are fr, en"
    )
    assert not (operator / "x.csv").exists() and not (operator / "x.html").exists()
    # refused before the database is opened: none is created or migrated for a bad option
    assert not (operator / "cli.db").exists()


def test_the_questionnaire_as_an_argument_still_works_with_a_warning(
    operator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(BUNDLED)]) == 0
    captured = capsys.readouterr()
    assert "OK" in captured.out and "use --survey" in one_line(captured.err)
    assert main(["check", "--survey", str(BUNDLED), str(BUNDLED)]) == 2
    assert "give the questionnaire once" in one_line(capsys.readouterr().err)


def consultbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=base | (env or {}),
        timeout=120,
        check=False,
    )


def test_a_failure_is_one_line_and_exit_status_1(tmp_path: Path) -> None:
    unreachable = "postgresql+asyncpg://consultbot@127.0.0.1:1/nowhere"
    done = consultbot("stats", "--database-url", unreachable, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "cannot connect" in one_line(done.stderr) and "Traceback" not in done.stderr
    done = consultbot("check", "--survey", str(tmp_path / "nowhere.yaml"), cwd=tmp_path)
    assert done.returncode == 1
    assert "cannot read the survey file" in one_line(done.stderr)


def test_library_logs_are_quiet_unless_verbose(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    quiet = consultbot("db", "upgrade", "--database-url", url, cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "alembic" not in quiet.stderr and "storage.schema" in quiet.stderr
    url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    verbose = consultbot("db", "upgrade", "-v", "--database-url", url, cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert "alembic.runtime.migration" in verbose.stderr
    assert "sqlalchemy.engine" not in verbose.stderr  # statements are never logged


def test_progress_goes_to_a_terminal_s_stderr_never_to_stdout(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    setup = consultbot("db", "upgrade", "--database-url", database, cwd=tmp_path)
    assert setup.returncode == 0, setup.stderr
    seed = (
        "import asyncio, sys\n"
        "from benchmarks.generate import synthetic_responses\n"
        "from channels.survey_file import load_survey_file\n"
        "from tests.e2e.harness import open_store\n"
        "from tests.storage.helpers import BUNDLED\n"
        "async def main():\n"
        "    loaded = load_survey_file(BUNDLED)\n"
        "    async with open_store(sys.argv[1], loaded) as store:\n"
        "        await store.register_survey()\n"
        "        await store.bulk_insert_responses(list(synthetic_responses(loaded.survey, 50)))\n"
        "asyncio.run(main())\n"
    )
    seeded = subprocess.run(
        [sys.executable, "-c", seed, database],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "export", "--out", "r.csv", "--database-url",
             database],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING",
                 "TERM": "xterm"},
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
            check=False,
        )  # fmt: skip
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once everything is read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert done.stdout.decode().startswith("exported 50 responses")
    assert len(done.stdout.decode().splitlines()) == 1
    assert b"export csv" in drawn and b"50/50" in drawn
    assert b"\x1b[" not in (tmp_path / "r.csv").read_bytes()
    piped = consultbot("export", "--out", "s.csv", "--database-url", database, cwd=tmp_path)
    assert piped.returncode == 0 and "export csv" not in piped.stderr
