"""`consultbot import` on real .xlsx files: the committed example, the summary, bad spreadsheets
(one clear error naming the sheet and row, a non-zero exit, nothing written), `--on-unsupported
fail`, and an imported form answered to the receipt with `consultbot try`, its conditional
questions shown exactly when their `relevant` holds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.forms.helpers import choice_rows, form, write_workbook

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "surveys" / "examples" / "mobilites-douces.xlsx"
EXAMPLE_YAML = EXAMPLE.with_suffix(".yaml")
EXAMPLE_DATES = [
    "--opens-at",
    "2022-03-15T09:00:00+01:00",
    "--closes-at",
    "2022-04-30T00:00:00+02:00",
]
REFERENCE = re.compile(r"Référence de votre contribution : [A-Z0-9]{4}-[A-Z0-9]{4}")


def run_import(*args: str | Path) -> int:
    return main(["import", *(str(a) for a in args)])


def test_the_example_imports_to_the_committed_questionnaire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mobilites.yaml"
    assert run_import(EXAMPLE, "--out", out, *EXAMPLE_DATES) == 0
    assert out.read_text(encoding="utf-8") == EXAMPLE_YAML.read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert "10 questions in 4 sections" in printed
    assert (
        "questions: 1 consent, 2 multi_choice, 2 number, 1 ranking, 1 scale, "
        "1 single_choice, 2 text"
    ) in printed
    assert "languages: fr, en (default fr)" in printed
    assert "survey row 19 'lieu': geopoint: a GPS position cannot be asked in a chat" in printed
    assert "survey row 2 'debut': metadata field 'start'" in printed
    assert "OK for `consultbot check`" in printed
    assert main(["check", "--survey", str(out)]) == 0


def test_the_generated_file_names_each_question_s_row(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.read_text(encoding="utf-8")
    assert "      # survey row 11\n      - id: km_velo\n" in text
    assert "show_if: '\"velo\" in modes'" in text


def test_the_id_option_and_default_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.yaml"
    assert run_import(EXAMPLE, "--out", out, "--id", "Vélo 2022") == 0
    text = out.read_text(encoding="utf-8")
    assert "id: velo-2022\n" in text
    assert "open from " in capsys.readouterr().out


# -- bad spreadsheets ---------------------------------------------------------------------------

BAD = {
    "no survey sheet": (
        {"questions": [["type", "name"], ["text", "a"]]},
        "the workbook has no 'survey' sheet (its sheets: 'questions')",
    ),
    "missing list": (
        form(
            [
                {"type": "text", "name": "a", "label": "A"},
                {"type": "select_one colours", "name": "b", "label": "B"},
            ],
            choice_rows("yn", "yes", "no"),
        ),
        "sheet 'survey', row 3: select_one colours: the 'choices' sheet has no list 'colours'",
    ),
    "duplicate names": (
        form(
            [
                {"type": "text", "name": "a", "label": "A"},
                {"type": "text", "name": "b", "label": "B"},
                {"type": "integer", "name": "a", "label": "A again"},
            ]
        ),
        "sheet 'survey', row 4: duplicate name 'a' (also row 2)",
    ),
    "unknown field": (
        form(
            [
                {"type": "text", "name": "a", "label": "A"},
                {"type": "text", "name": "b", "label": "B", "relevant": "${c} = 'x'"},
            ]
        ),
        "sheet 'survey', row 3: relevant names an unknown field ${c}",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_spreadsheet_gives_one_clear_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheets, message = BAD[case]
    path = write_workbook(tmp_path / "bad.xlsx", sheets)
    out = tmp_path / "out.yaml"
    assert run_import(path, "--out", out) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{path}: {message}"]
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.xlsx", "the file is empty"),
        (b"type,name\ntext,a\n", "form.xlsx", "not an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0" + bytes(60), "old.xls", "the old Excel .xls format cannot be read"),
    ],
)
def test_a_file_that_is_not_a_workbook(
    content: bytes, name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out.yaml"
    assert run_import(path, "--out", out) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{path}: {message}")
    assert "Traceback" not in err[0]
    assert not out.exists()


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_import(tmp_path / "nope.xlsx", "--out", tmp_path / "o.yaml") == 1
    assert capsys.readouterr().err == f"consultbot: {tmp_path / 'nope.xlsx'}: no such file\n"


def test_bad_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.yaml"
    assert run_import(EXAMPLE, "--out", out, "--opens-at", "2022-03-15") == 2
    assert "needs a UTC offset" in capsys.readouterr().err
    assert (
        run_import(
            EXAMPLE, "--out", out, *EXAMPLE_DATES[:2], "--closes-at", "2022-01-01T00:00:00+00:00"
        )
        == 2
    )
    assert "--closes-at must be after --opens-at" in capsys.readouterr().err
    assert not out.exists()


def test_on_unsupported_fail_lists_every_construct_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.yaml"
    assert run_import(EXAMPLE, "--out", out, "--on-unsupported", "fail") == 1
    err = capsys.readouterr().err
    assert "survey row 19 'lieu': geopoint" in err
    assert "1 thing(s) cannot run in a chat (--on-unsupported fail): nothing written" in err
    assert not out.exists()


def test_on_unsupported_skip_and_an_untranslatable_relevant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_workbook(
        tmp_path / "f.xlsx",
        form(
            [
                {"type": "integer", "name": "n", "label": "N"},
                {"type": "text", "name": "t", "label": "T", "relevant": "${n} mod 2 = 0"},
                {"type": "text", "name": "u", "label": "U"},
            ]
        ),
    )
    out = tmp_path / "out.yaml"
    assert run_import(path, "--out", out, "--on-unsupported", "skip") == 0
    printed = capsys.readouterr().out
    assert "survey row 3 't': relevant '${n} mod 2 = 0' cannot be translated" in printed
    assert "question left out" in printed
    assert "id: t\n" not in out.read_text(encoding="utf-8")


# -- consultbot try, to the receipt -------------------------------------------------------------


def run_try(tmp_path: Path, survey: Path, lines: list[str]) -> str:
    script = tmp_path / "answers.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "PYTHONIOENCODING": "utf-8",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
    }
    with script.open(encoding="utf-8") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "try", "--no-store", "--survey", str(survey)],
            stdin=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("! ")] == []
    return done.stdout


KM = "Combien de kilomètres faites-vous à vélo par semaine ?"
BRAKES = "Qu’est-ce qui vous empêche de faire plus de vélo ?"
WHY = "Qu’est-ce qui devrait changer en priorité ?"


def test_an_imported_form_is_answered_to_the_receipt_with_try(tmp_path: Path) -> None:
    survey = tmp_path / "mobilites.yaml"
    assert run_import(EXAMPLE, "--out", survey, *EXAMPLE_DATES) == 0
    # A cyclist (10 km a week: the brakes are asked), dissatisfied (why is asked).
    cyclist = run_try(
        tmp_path,
        survey,
        [
            "1",
            "34",
            "3",
            "3",
            "10",
            "1 3",
            "2",
            "Plus de pistes séparées.",
            "1 2 3 4",
            "/skip",
            "submit",
        ],
    )
    assert KM in cyclist and BRAKES in cyclist and WHY in cyclist
    assert "▰▰▰▰▰▰▰▰▰▱ 90 %" in cyclist  # the tenth and last question
    assert "→ 1. Nouvelles pistes ; 2. Parkings à vélos ; 3. Zones 30 ; 4. Vélos en location" in (
        cyclist
    )
    assert REFERENCE.search(cyclist[cyclist.index("✅") :])
    # A driver, satisfied: no kilometres, no "why"; the brakes are asked (not a cyclist).
    driver = run_try(
        tmp_path,
        survey,
        [
            "1",
            "52",
            "1",
            "1",
            "3",
            "4",
            "2 1 4 3",
            "/skip",
            "submit",
        ],
    )
    assert KM not in driver and WHY not in driver and BRAKES in driver
    assert len(re.findall(r"^[▰▱]{10} \d+ %", driver, re.M)) == 8, driver  # eight questions asked
    assert REFERENCE.search(driver[driver.index("✅") :])
    # A keen cyclist (50 km): neither the brakes nor, satisfied, the why.
    keen = run_try(tmp_path, survey, ["1", "25", "2", "3", "50", "5", "1 2 3 4", "/skip", "submit"])
    assert KM in keen and BRAKES not in keen and WHY not in keen
    assert REFERENCE.search(keen[keen.index("✅") :])


def test_a_list_from_a_file_is_copied_beside_the_questionnaire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Assumes the long-list questionnaire format (merged separately): until then the file
    written does not pass `consultbot check`, so only what is written is checked here."""
    (tmp_path / "form").mkdir()
    path = write_workbook(
        tmp_path / "form" / "f.xlsx",
        form(
            [
                {
                    "type": "select_one_from_file communes.csv",
                    "name": "commune",
                    "label": "Commune",
                },
                {"type": "select_one big", "name": "big", "label": "Big"},
            ],
            choice_rows("big", *(f"b{i}" for i in range(20))),
        ),
    )
    (tmp_path / "form" / "communes.csv").write_text(
        "name,label\n" + "".join(f"C{i},Commune {i}\n" for i in range(1, 31)), encoding="utf-8"
    )
    out = tmp_path / "out" / "survey.yaml"
    run_import(path, "--out", out)
    text = out.read_text(encoding="utf-8")
    assert "options_file: communes.options.csv\n" in text
    assert len(re.findall(r"- id: b\d+\n", text)) == 20
    csv_lines = (tmp_path / "out" / "communes.options.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[:3] == ["id,label", "c1,Commune 1", "c2,Commune 2"]
    assert len(csv_lines) == 31
    printed = capsys.readouterr().out
    assert "30 choices of communes.csv — written to communes.options.csv" in printed
    assert "20 choices — a searchable long list" in printed
    # Beside the form, the form's own list is left as it is.
    original = (tmp_path / "form" / "communes.csv").read_bytes()
    run_import(path, "--out", tmp_path / "form" / "survey.yaml")
    assert (tmp_path / "form" / "communes.csv").read_bytes() == original
    assert (tmp_path / "form" / "communes.options.csv").exists()


def test_an_output_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(EXAMPLE, "--out", tmp_path) == 1  # a failure, not a usage error
    assert capsys.readouterr().err == f"consultbot: {tmp_path}: cannot write: Is a directory\n"
