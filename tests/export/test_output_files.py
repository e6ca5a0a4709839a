"""What `consultbot export` and `consultbot report` may write, and how: an existing file only with
`--force`; never the database (nor its -wal/-shm/-journal), the questionnaire or a file inside the
installed packages, even with `--force`, whatever symlink leads there; through a temporary file
renamed into place, none left behind on failure; mode 0600, in a folder created 0700."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import bot
import dialogs
import storage
from bot.cli import main
from dialogs import Survey
from storage.repository import Store
from tests.export.helpers import BUNDLED, FULL, SHORT, read_csv, read_json, response

PACKAGES = [Path(p.__file__).resolve().parent for p in (bot, dialogs, storage)]


def consultbot() -> list[str]:
    """The installed `consultbot` script (the one the operator runs), else `python -m bot.cli`."""
    script = Path(sys.executable).parent / "consultbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def run_cli(
    cwd: Path, url: str, *args: str, survey: Path = BUNDLED
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SURVEY_FILE", "BOT_TOKEN")
    }
    env |= {"LOG_LEVEL": "WARNING", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [*consultbot(), *args, "--database-url", url, "--survey", str(survey)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        umask=0o022,  # the usual umask: the files must be private all the same
    )


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


async def seeded(store: Store, survey: Survey) -> None:
    await store.bulk_insert_responses(
        [
            response(survey, 1001, FULL, reference="FULL-0001"),
            response(survey, 1002, SHORT, reference="SHORT-002"),
        ]
    )


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# -- existing files: only with --force ---------------------------------------------------------


async def test_export_refuses_an_existing_file_unless_forced(
    store: Store, survey: Survey, url: str, tmp_path: Path
) -> None:
    await seeded(store, survey)
    out = tmp_path / "answers.csv"
    out.write_text("someone's spreadsheet\n", encoding="utf-8")
    done = run_cli(tmp_path, url, "export", "--out", str(out))
    one_line_error(done, str(out), "exists", "--force")
    assert out.read_text(encoding="utf-8") == "someone's spreadsheet\n"
    assert not (tmp_path / "answers-codebook.csv").exists()
    assert leftovers(tmp_path) == []

    done = run_cli(tmp_path, url, "export", "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert len(read_csv(out)) == 2
    assert leftovers(tmp_path) == []


async def test_export_refuses_an_existing_codebook_unless_forced(
    store: Store, survey: Survey, url: str, tmp_path: Path
) -> None:
    await seeded(store, survey)
    book = tmp_path / "answers-codebook.csv"
    book.write_text("keep\n", encoding="utf-8")
    done = run_cli(tmp_path, url, "export", "--out", str(tmp_path / "answers.csv"))
    one_line_error(done, str(book), "exists", "--force")
    assert book.read_text(encoding="utf-8") == "keep\n"
    assert not (tmp_path / "answers.csv").exists()
    done = run_cli(tmp_path, url, "export", "--out", str(tmp_path / "answers.csv"), "--force")
    assert done.returncode == 0, done.stderr
    assert book.read_text(encoding="utf-8-sig").startswith("column,")


async def test_report_refuses_an_existing_file_unless_forced(
    store: Store, survey: Survey, url: str, tmp_path: Path
) -> None:
    await seeded(store, survey)
    out = tmp_path / "report.html"
    out.write_text("last week's report", encoding="utf-8")
    done = run_cli(tmp_path, url, "report", "--out", str(out))
    one_line_error(done, str(out), "exists", "--force")
    assert out.read_text(encoding="utf-8") == "last week's report"
    done = run_cli(tmp_path, url, "report", "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert leftovers(tmp_path) == []


# -- never the database, the questionnaire or the program, even with --force ------------------


@pytest.mark.parametrize("command", ["export", "report"])
async def test_the_live_database_is_never_overwritten(
    store: Store, survey: Survey, url: str, tmp_path: Path, command: str
) -> None:
    await seeded(store, survey)
    database = db_path(url)
    before = database.stat().st_ino  # (the bytes change: the store's checkpoints)
    link = tmp_path / "elsewhere" / "innocent.json"
    link.parent.mkdir()
    link.symlink_to(database)
    hard = tmp_path / "elsewhere" / "hard-link.csv"
    os.link(database, hard)
    for target in (database, link, hard):
        options = ["--format", "json"] if command == "export" else []
        done = run_cli(tmp_path, url, command, "--out", str(target), "--force", *options)
        one_line_error(done, "database")
    assert database.stat().st_ino == before
    assert database.read_bytes().startswith(b"SQLite format 3\0")
    assert link.is_symlink()
    assert hard.stat().st_ino == before
    assert leftovers(tmp_path) == []
    # the bot's data is all there
    done = run_cli(tmp_path, url, "export", "--out", str(tmp_path / "check.json"))
    assert done.returncode == 0, done.stderr
    assert read_json(tmp_path / "check.json")["count"] == 2


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_the_database_companions_are_never_written(
    url: str, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = Path(f"{db_path(url)}{suffix}")
    code = main(
        ["export", "--format", "csv", "--out", str(target), "--force", "--database-url", url]
    )
    assert code == 2
    assert not target.exists() or not target.read_bytes().startswith(b"\xef\xbb\xbf")


async def test_a_codebook_beside_the_export_never_replaces_the_database(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    """The CSV's codebook goes to <stem>-codebook.csv: the same rules hold for it."""
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "answers-codebook.csv"
    url = f"sqlite+aiosqlite:///{database}"
    from storage.schema import upgrade

    await upgrade(url)
    before = digest(database)
    done = run_cli(tmp_path, url, "export", "--out", str(folder / "answers.csv"), "--force")
    one_line_error(done, "database")
    assert digest(database) == before
    assert not (folder / "answers.csv").exists()


def test_the_questionnaire_and_the_program_are_never_written(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    questionnaire = tmp_path / "survey.yaml"
    questionnaire.write_bytes(BUNDLED.read_bytes())
    existing = PACKAGES[0] / "zz-existing.txt"
    via_link = tmp_path / "program"
    via_link.symlink_to(PACKAGES[2], target_is_directory=True)
    targets = [questionnaire, existing, via_link / "zz-report.html"]
    targets += [folder / "zz-export.csv" for folder in PACKAGES]
    try:
        existing.write_text("part of the program", encoding="utf-8")
        sources = {path: digest(path) for path in (questionnaire, existing)}
        for target in targets:
            for command in ("export", "report"):
                argv = [command, "--out", str(target), "--force", "--database-url", url]
                argv += ["--survey", str(questionnaire)]
                if command == "export":
                    argv += ["--format", "csv"]
                assert main(argv) == 2, (command, target)
        assert {path: digest(path) for path in sources} == sources
        for folder in PACKAGES:
            assert sorted(p.name for p in folder.glob("zz-*")) == (
                ["zz-existing.txt"] if folder == PACKAGES[0] else []
            )
            assert leftovers(folder) == []
    finally:
        for folder in PACKAGES:
            for path in folder.glob("*zz-*"):
                path.unlink()


# -- no temporary file left behind ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
async def test_a_writer_failing_midway_leaves_no_temporary_file(
    store: Store,
    survey: Survey,
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    await seeded(store, survey)
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    previous = out_dir / f"answers.{fmt}"
    previous.write_bytes(b"the previous export")

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("disk full")

    # while the codebook is written (CSV and XLSX), then while the rows are
    monkeypatch.setattr("bot.export.neutralize", broken)
    if fmt == "json":
        monkeypatch.setattr("bot.export.JsonWriter.write", broken)
    argv = ["export", "--out", str(previous), "--force", "--database-url", url]
    with pytest.raises(RuntimeError, match="disk full"):
        await _in_thread(argv)
    assert sorted(p.name for p in out_dir.iterdir()) == [previous.name]
    assert previous.read_bytes() == b"the previous export"

    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("bot.export.RowEncoder.encode_batch", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await _in_thread(argv)
    assert sorted(p.name for p in out_dir.iterdir()) == [previous.name]


async def test_a_report_failing_while_written_leaves_no_temporary_file(
    store: Store, survey: Survey, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seeded(store, survey)
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def unwritable(*args: object, **kwargs: object) -> tuple[str, int, int]:
        return "<!DOCTYPE html>" + "x" * 100_000 + "\ud800", 0, 0  # UTF-8 fails at the end

    monkeypatch.setattr("bot.report.render_report", unwritable)
    with pytest.raises((UnicodeEncodeError, SystemExit)):  # a ValueError: one line, exit 1
        await _in_thread(["report", "--out", str(out_dir / "report.html"), "--database-url", url])
    assert list(out_dir.iterdir()) == []


async def _in_thread(argv: list[str]) -> int:
    """main() calls asyncio.run: run it away from the test's event loop."""
    import asyncio

    return await asyncio.to_thread(main, argv)


# -- private modes ---------------------------------------------------------------------------------


async def test_exports_and_reports_are_private(
    store: Store, survey: Survey, url: str, tmp_path: Path
) -> None:
    await seeded(store, survey)
    folder = tmp_path / "new" / "exports"
    for name in ("answers.csv", "answers.xlsx", "answers.json"):
        done = run_cli(tmp_path, url, "export", "--out", str(folder / name))
        assert done.returncode == 0, done.stderr
    done = run_cli(tmp_path, url, "report", "--out", str(folder / "report.html"))
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in folder.iterdir())
    assert written == [
        "answers-codebook.csv",
        "answers.csv",
        "answers.json",
        "answers.xlsx",
        "report.html",
    ]
    assert {name: oct(mode(folder / name)) for name in written} == {
        name: oct(0o600) for name in written
    }
    assert oct(mode(folder)) == oct(0o700)
    assert oct(mode(folder.parent)) == oct(0o700)
