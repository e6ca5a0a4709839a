"""The staff export: round trips in CSV, XLSX and JSON, statuses, pseudonyms, formula
neutralisation, encodings, the codebook, the command line."""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from analysis.codebook import build_columns
from benchmarks.generate import synthetic_answers, synthetic_responses
from bot.config import Settings
from bot.export import (
    FORMULA_PREFIXES,
    ExportOptions,
    ExportTooLarge,
    codebook_path,
    export_responses,
    neutralize,
)
from bot.export_cli import ProgressBar, add_export_commands
from dialogs import Answer, Phase, Survey
from dialogs.events import Start, Submit
from storage.database import Database
from storage.pseudonyms import KEY_SETTING, Pseudonymizer
from storage.repository import ParticipantKey, Store
from tests.export.helpers import (
    BUNDLED,
    FULL,
    SHORT,
    by_reference,
    decode_row,
    read_csv,
    read_json,
    read_xlsx,
    response,
    without_skipped,
)
from tests.storage.helpers import during, fixed, stepper, walk_to_review

FORMATS = ("csv", "xlsx", "json")


def read_rows(fmt: str, path: Path) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(read_csv(path))
    if fmt == "xlsx":
        return read_xlsx(path)
    rows: list[dict[str, Any]] = read_json(path)["responses"]
    return rows


async def export(store: Store, tmp_path: Path, fmt: str, **options: Any) -> Path:
    out = tmp_path / f"export-{fmt}-{random.randrange(10**9)}.{fmt}"
    await export_responses(store, ExportOptions(format=fmt, out=out, **options))  # type: ignore[arg-type]
    return out


async def seed(store: Store, survey: Survey) -> dict[str, dict[str, Answer]]:
    """Crafted responses, 40 synthetic ones, a draft and a preview; the submitted answers by
    reference."""
    rows = [
        response(survey, 1001, FULL, reference="FULL-0001"),
        response(survey, 1002, SHORT, reference="SHORT-002", language="en"),
        response(survey, 1003, {"consent": Answer(True)}, status="draft"),
        response(survey, 0, SHORT, status="preview", preview_name="alice", reference="PRV-1"),
    ]
    rows += list(synthetic_responses(survey, 40, seed=7, first_id=2_000_000))
    await store.bulk_insert_responses(rows)
    return {
        row.state.reference: dict(row.state.answers)
        for row in rows
        if row.status == "submitted" or (row.status is None and row.state.phase is Phase.SUBMITTED)
        if row.state.reference is not None
    }


@pytest.mark.parametrize("fmt", FORMATS)
async def test_export_reads_back_as_the_stored_answers(
    any_store: Store, survey: Survey, tmp_path: Path, fmt: str
) -> None:
    expected = await seed(any_store, survey)
    assert len(expected) == 42
    out = await export(any_store, tmp_path, fmt)
    rows = by_reference(read_rows(fmt, out))
    assert set(rows) == set(expected)
    for reference, answers in expected.items():
        assert decode_row(survey, rows[reference]) == without_skipped(answers), reference
    full = rows["FULL-0001"]
    assert full["status"] == "submitted"
    assert full["language"] == "fr"
    assert rows["SHORT-002"]["language"] == "en"
    assert full["started_at_utc"] == "2022-01-18T08:00:00Z"
    assert full["started_at_local"] == "2022-01-18T09:00:00+01:00"
    assert full["submitted_at_utc"] == "2022-01-19T08:00:00Z"
    assert full["submitted_at_local"] == "2022-01-19T09:00:00+01:00"
    # codes in the data, 0/1 per option, ranks as option ids, empty when not asked
    assert full["actor_type"] == "other"
    assert str(full["dissatisfaction.red_tape"]) == "1"
    assert str(full["dissatisfaction.overlap"]) == "0"
    assert full["priorities.1"] == "skills"
    assert full["company_rd"] in (None, "")
    short = rows["SHORT-002"]
    assert all(
        short[f"dissatisfaction.{o.id}"] in (None, "")
        for o in survey.by_id["dissatisfaction"].choices()
    )
    assert short["comments"] in (None, "")


async def test_typed_cells_in_xlsx_and_json(store: Store, survey: Survey, tmp_path: Path) -> None:
    await seed(store, survey)
    for fmt in ("xlsx", "json"):
        full = by_reference(read_rows(fmt, await export(store, tmp_path, fmt)))["SHORT-002"]
        assert full["fee_acceptable"] == 1500 and isinstance(full["fee_acceptable"], int)
        assert full["regions_role"] == 3
        assert full["partner_networks.carnot"] == 1
        assert full["partner_networks.satt"] == 0
        assert full["consent"] == 1


async def test_an_answer_given_through_the_engine_is_exported(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    key = ParticipantKey.telegram(424242)
    now = during(survey)
    review = await walk_to_review(store, key, now)
    submitted = await store.apply(
        key, stepper(survey, Submit("WALK-0001", review.step), now), clock=fixed(now)
    )
    assert submitted.state.phase is Phase.SUBMITTED
    stored = (await store.load(key)).state.answers
    for fmt in FORMATS:
        rows = by_reference(read_rows(fmt, await export(store, tmp_path, fmt)))
        assert decode_row(survey, rows["WALK-0001"]) == without_skipped(stored)


async def test_drafts_and_previews_only_when_asked(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    await seed(store, survey)
    # a participant who only started, through the engine
    now = during(survey)
    await store.apply(ParticipantKey.telegram(777), stepper(survey, Start(), now), clock=fixed(now))
    for fmt in FORMATS:
        statuses = [r["status"] for r in read_rows(fmt, await export(store, tmp_path, fmt))]
        assert set(statuses) == {"submitted"} and len(statuses) == 42
        with_drafts = read_rows(fmt, await export(store, tmp_path, fmt, include_drafts=True))
        assert sorted({r["status"] for r in with_drafts}) == ["draft", "submitted"]
        assert len(with_drafts) == 44
        everything = read_rows(
            fmt, await export(store, tmp_path, fmt, include_drafts=True, include_preview=True)
        )
        assert len(everything) == 45
        assert next(r for r in everything if r["status"] == "preview")["reference"] == "PRV-1"


async def test_pseudonyms_are_stable_keyed_and_never_the_telegram_id(
    store: Store, survey: Survey, tmp_path: Path, db: Database
) -> None:
    await seed(store, survey)
    first_path = await export(store, tmp_path, "csv")
    first = by_reference(read_csv(first_path))
    # a second Store on the same database (another process) gives the same pseudonyms
    other = Store(db, survey, file_hash="1" * 64)
    second = by_reference(read_rows("json", await export(other, tmp_path, "json")))
    pseudonyms = {ref: row["pseudonym"] for ref, row in first.items()}
    assert pseudonyms == {ref: row["pseudonym"] for ref, row in second.items()}
    assert len(set(pseudonyms.values())) == len(pseudonyms)
    assert all(re.fullmatch(r"P-[0-9a-f]{12}", p) for p in pseudonyms.values())

    key = await store.get_setting(KEY_SETTING)
    assert key is not None and len(bytes.fromhex(key)) == 32
    pseudonym = pseudonyms["FULL-0001"][2:]
    for subject in ("1001", "telegram:1001", (1001).to_bytes(8, "big").hex()):
        for name in ("md5", "sha1", "sha224", "sha256", "sha512", "blake2b", "sha3_256"):
            digest = hashlib.new(name, subject.encode()).hexdigest()
            assert pseudonym not in digest, (name, subject)
    assert Pseudonymizer(bytes(32)).for_key(1001, None) != pseudonyms["FULL-0001"]

    # the Telegram ids are nowhere in the export, unless asked for
    ids = {"1001", "1002", *(str(2_000_000 + i) for i in range(40))}
    assert not any(cell in ids for row in first.values() for cell in row.values())
    assert "telegram_id" not in first["FULL-0001"]
    for fmt in FORMATS:
        rows = by_reference(
            read_rows(fmt, await export(store, tmp_path, fmt, with_telegram_ids=True))
        )
        assert str(rows["FULL-0001"]["telegram_id"]) == "1001"
        assert rows["FULL-0001"]["pseudonym"] == pseudonyms["FULL-0001"]


DANGEROUS = ["=1+1", "+33 6 12 34 56 78", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "\ncmd", "＝1+1"]
DANGEROUS += [
    "\ufe66HYPERLINK(1)",  # small equals sign
    "\uff0bcmd|'/C calc'!A0",  # fullwidth plus
    "\ufe62cmd|'/C calc'!A0",  # small plus
    "\uff0d2+3",  # fullwidth hyphen-minus
    "\ufe632+3",  # small hyphen-minus
    "\uff20SUM(A1)",  # fullwidth commercial at
]


async def test_formulas_are_neutralised_in_csv_and_xlsx(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    rows = []
    for i, text in enumerate(DANGEROUS):
        answers = dict(SHORT)
        answers["comments"] = Answer(text)
        answers["actor_type"] = Answer("other", text + " (autre)")
        answers.pop("company_rd")
        rows.append(response(survey, 5000 + i, answers, reference=f"F-{i}"))
    await store.bulk_insert_responses(rows)
    assert set(FORMULA_PREFIXES) >= {text[0] for text in DANGEROUS}

    csv_rows = by_reference(read_csv(await export(store, tmp_path, "csv")))
    for i, text in enumerate(DANGEROUS):
        assert csv_rows[f"F-{i}"]["comments"] == "'" + text
        assert csv_rows[f"F-{i}"]["actor_type.other_text"] == "'" + text + " (autre)"

    xlsx = await export(store, tmp_path, "xlsx")
    import openpyxl

    book = openpyxl.load_workbook(xlsx)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    comments = header.index("comments") + 1
    found = {}
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
        found[row[header.index("reference")].value] = row[comments - 1]
    for i, text in enumerate(DANGEROUS):
        cell = found[f"F-{i}"]
        # xlsxwriter writes a CR as the OOXML escape _x000D_, which spreadsheets read as a CR
        assert cell.data_type == "s"
        assert cell.value.replace("_x000D_", "\r") == "'" + text
    # no formula anywhere in the raw sheet XML either
    with zipfile.ZipFile(xlsx) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name)
    # JSON is not a spreadsheet: texts are exactly as given
    json_rows = by_reference(read_rows("json", await export(store, tmp_path, "json")))
    assert [json_rows[f"F-{i}"]["comments"] for i in range(len(DANGEROUS))] == DANGEROUS


def test_neutralize() -> None:
    assert neutralize("=cmd") == "'=cmd"
    for trigger in "\ufe66\uff1d\uff0b\ufe62\uff0d\ufe63\uff20":
        assert neutralize(trigger + "SUM(A1)") == "'" + trigger + "SUM(A1)", hex(ord(trigger))
    assert neutralize("") == ""
    assert neutralize("ok = fine") == "ok = fine"
    assert neutralize("'quoted") == "'quoted"


EMAILS_AS_GIVEN = ["+tag@example.org", "-john@example.org", "jeanne+news@example.fr"]
EMAILS_NEUTRALISED = ["=1+2@example.org", "+cmd|'/Ccalc'!A0@example.org", "-2+3!x@example.org"]


async def test_email_addresses_are_exported_as_given_unless_they_could_be_formulas(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    """A valid address that starts with + or - and holds only letters, digits and . _ + - is
    no formula a spreadsheet could run: it is exported as given. Anything else that starts like
    a formula (= always; + or - with a | ! ' or other sign) keeps its quote."""
    from dialogs.answers import parse_email

    emails = EMAILS_AS_GIVEN + EMAILS_NEUTRALISED
    rows = []
    for i, email in enumerate(emails):
        assert parse_email(email) == Answer(email)  # each one a valid answer
        answers = dict(SHORT)
        answers["contact_email"] = Answer(email)
        rows.append(response(survey, 6000 + i, answers, reference=f"E-{i}"))
    await store.bulk_insert_responses(rows)
    csv_rows = by_reference(read_csv(await export(store, tmp_path, "csv")))
    xlsx_rows = by_reference(read_xlsx(await export(store, tmp_path, "xlsx")))
    for i, email in enumerate(emails):
        expected = email if email in EMAILS_AS_GIVEN else "'" + email
        assert csv_rows[f"E-{i}"]["contact_email"] == expected
        assert xlsx_rows[f"E-{i}"]["contact_email"] == expected


async def test_accents_and_emoji_survive_csv_and_xlsx(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    await seed(store, survey)
    csv_path = await export(store, tmp_path, "csv")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert codebook_path(csv_path).read_bytes().startswith(b"\xef\xbb\xbf")
    for fmt in ("csv", "xlsx"):
        path = csv_path if fmt == "csv" else await export(store, tmp_path, fmt)
        full = by_reference(read_rows(fmt, path))["FULL-0001"]
        assert full["comments"] == FULL["comments"].value
        assert full["actor_type.other_text"] == "Fondation d’entreprise 🚀"
        # The pôles' long list: one 0/1 column per pôle, and the "other" text.
        assert full["cluster_name.other_text"] == "Pôle oublié 🌊, bis"
        assert str(full["cluster_name.aerospace_valley"]) == "1"
        assert str(full["cluster_name.axelera"]) == "0"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_codebook_lists_every_question_and_column(
    store: Store, survey: Survey, tmp_path: Path, fmt: str, lang: str
) -> None:
    await seed(store, survey)
    out = await export(store, tmp_path, fmt, language=lang)
    if fmt == "csv":
        book: list[dict[str, Any]] = read_csv(codebook_path(out))
        columns = list(read_csv(out)[0])
    elif fmt == "xlsx":
        book = read_xlsx(out, sheet=1)
        columns = list(read_xlsx(out)[0])
    else:
        document = read_json(out)
        book = document["codebook"]
        columns = document["columns"]
        assert document["count"] == 42
        assert document["survey"]["id"] == survey.id
    assert {row["question_id"] for row in book if row["question_id"]} == set(survey.by_id)
    assert [c.name for c in build_columns(survey)] == columns
    assert list(dict.fromkeys(row["column"] for row in book)) == columns
    for question in survey.questions:
        text = question.text.get(lang)
        assert any(row["question"] == text for row in book if row["question_id"] == question.id)
        for option in question.options:
            labels = {
                row["label"]
                for row in book
                if row["question_id"] == question.id and row["option_id"] == option.id
            }
            assert labels == {option.label.get(lang)}, (question.id, option.id)
    other = [r for r in book if r["column"] == "actor_type" and r["option_id"] == "other"]
    assert other[0]["label"] == ("Autre" if lang == "fr" else "Other")


async def test_an_empty_survey_exports_a_header_and_codebook(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    for fmt in FORMATS:
        out = await export(store, tmp_path, fmt)
        assert read_rows(fmt, out) == []
    assert read_json(out)["count"] == 0


async def test_a_failed_export_leaves_no_file(
    store: Store, survey: Survey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(store, survey)

    def broken(self: object, batch: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.export.RowEncoder.encode_batch", broken)
    for fmt in FORMATS:
        with pytest.raises(RuntimeError):
            await export(store, tmp_path, fmt)
    assert [name for name in files(tmp_path) if "export-" in name] == []


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_synthetic_answers_follow_the_flow(survey: Survey) -> None:
    rng = random.Random(3)
    kinds = set()
    for index in range(300):
        answers = synthetic_answers(survey, rng, index)  # checks visibility itself
        kinds |= {q for q, a in answers.items() if a.value is not None}
    assert kinds == set(survey.by_id)  # every question answered somewhere


async def test_the_command_line(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(store, survey)
    parser = argparse.ArgumentParser()
    add_export_commands(parser.add_subparsers(dest="command", required=True))
    settings = Settings(database_url=url, survey_file=BUNDLED)
    out = tmp_path / "cli" / "answers.csv"
    args = parser.parse_args(["export", "--out", str(out), "--lang", "en", "--delimiter", ";"])
    assert await _run(args.func, args, settings) == 0
    assert "exported 42 responses" in capsys.readouterr().out
    assert len(read_csv(out, delimiter=";")) == 42
    assert (tmp_path / "cli" / "answers-codebook.csv").exists()
    args = parser.parse_args(["export", "--format", "json", "--out", str(tmp_path / "a.data")])
    assert await _run(args.func, args, settings) == 0
    assert read_json(tmp_path / "a.data")["count"] == 42
    args = parser.parse_args(["export", "--out", str(tmp_path / "x.xlsx"), "--lang", "de"])
    with pytest.raises(SystemExit):
        await _run(args.func, args, settings)
    report = tmp_path / "report.html"
    args = parser.parse_args(["report", "--out", str(report), "--include-drafts"])
    assert await _run(args.func, args, settings) == 0
    assert "report of 43 responses" in capsys.readouterr().out
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


async def _run(func: Any, args: argparse.Namespace, settings: Settings) -> int:
    """The CLI calls asyncio.run: run it in a thread, away from the test's event loop."""
    import asyncio

    result: int = await asyncio.to_thread(func, args, settings)
    return result


async def test_xlsx_refuses_more_rows_than_a_sheet_holds(
    store: Store, survey: Survey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(store, survey)
    monkeypatch.setattr("bot.export.XLSX_MAX_ROWS", 10)
    with pytest.raises(ExportTooLarge, match="CSV or JSON"):
        await export(store, tmp_path, "xlsx")
    assert [name for name in files(tmp_path) if "export-" in name] == []


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = ProgressBar("export csv", terminal)
    bar(0, 200)
    bar(200, 200)
    bar.close()
    drawn = terminal.getvalue()
    assert drawn.startswith("\rexport csv [")
    assert "200/200 (100%)" in drawn and drawn.endswith("\n")
    piped = io.StringIO()
    bar = ProgressBar("export csv", piped)
    bar(100, 200)
    bar.close()
    assert piped.getvalue() == ""
