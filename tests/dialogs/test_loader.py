"""Loading questionnaire files: the bundled consultation loads; a broken file is refused with
EVERY problem named (file, question id, what is wrong), by `parse_survey` and by `consultbot check`.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from dialogs import Survey, SurveyError
from dialogs.limits import MAX_BUTTON_LABEL, MAX_LIST_LABEL
from dialogs.model import QuestionType
from tests.dialogs.helpers import (
    BASE_YAML,
    BUNDLED_PATH,
    REPO,
    Change,
    add_question,
    load,
    question_data,
    set_question,
    variant_yaml,
)

BROKEN_FILE = "broken-survey.yaml"


def _long_label(data: dict[str, Any]) -> None:
    options = question_data(data, "role")["options"]
    options[0]["label"] = {"fr": "E" * (MAX_BUTTON_LABEL + 1), "en": "Company"}


def _options(count: int) -> list[dict[str, Any]]:
    return [{"id": f"r{n}", "label": f"Région {n}"} for n in range(1, count + 1)]


# (name, change, where the problem is, what the message says)
PROBLEMS: list[tuple[str, Change, str, str]] = [
    (
        "duplicate id",
        add_question("final", {"id": "role", "type": "text", "text": "Encore ?"}),
        "question role",
        "duplicate question id",
    ),
    (
        "show_if naming a later question",
        set_question("staff", show_if='name == "Jo"'),
        "question staff",
        "show_if refers to a later question: name",
    ),
    (
        "show_if naming an unknown question",
        set_question("why", show_if="ghost <= 2"),
        "question why",
        "show_if refers to an unknown question: ghost",
    ),
    (
        "show_if naming an unknown option",
        set_question("tools", show_if='role == "nobody"'),
        "question tools",
        "'nobody' is not an option of role",
    ),
    (
        "option label too long for a button",
        _long_label,
        "question role, option company",
        f"{MAX_BUTTON_LABEL + 1} characters, more than {MAX_BUTTON_LABEL}",
    ),
    (
        "closes_at before opens_at",
        lambda data: data.update(closes_at="2024-02-29T23:59:59+01:00"),
        "closes_at",
        "must be after opens_at",
    ),
    (
        "missing language text",
        set_question("name", text={"fr": "Votre nom ?"}),
        "question name: text",
        "missing the 'en' text",
    ),
    (
        "bad type",
        set_question("comment", type="essay"),
        "question comment",
        "type must be one of",
    ),
    (
        "too many options",
        add_question(
            "profile",
            {
                # A ranking stays within a keyboard; choices take long lists (test_longlist).
                "id": "region",
                "type": "ranking",
                "text": "Région ?",
                "options": _options(15),
                "top": 3,
            },
        ),
        "question region",
        "15 choices (with other) do not fit",
    ),
    (
        "scale of 12 points",
        add_question(
            "opinion",
            {"id": "nps", "type": "scale", "text": "Recommanderiez-vous ?", "min": 0, "max": 11},
        ),
        "question nps",
        "a scale has at most 11 points",
    ),
    (
        "always-false show_if",
        set_question("budget", show_if="sat <= 0"),
        "question budget",
        "show_if can never be true",
    ),
]


def problems_of(text: str, filename: str = BROKEN_FILE) -> list[str]:
    with pytest.raises(SurveyError) as caught:
        load(text, filename)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


def broken_yaml() -> str:
    return variant_yaml(*(change for _, change, _, _ in PROBLEMS))


def assert_named(problems: list[str], where: str, message: str) -> None:
    prefix = f"{BROKEN_FILE}: {where}"
    matching = [p for p in problems if p.startswith(prefix) and message in p]
    assert matching, f"no problem {prefix!r} saying {message!r} in:\n" + "\n".join(problems)


# -- the bundled consultation --------------------------------------------------------------------


def test_the_bundled_consultation_loads(bundled: Survey) -> None:
    assert bundled.languages == ("fr", "en")
    assert bundled.timezone == "Europe/Paris"
    assert 5 <= len(bundled.sections) <= 7
    assert 20 <= len(bundled.questions) <= 30
    assert {q.type for q in bundled.questions} == set(QuestionType)
    assert sum(q.show_if is not None for q in bundled.questions) >= 2
    assert len({q.id for q in bundled.questions}) == len(bundled.questions)
    assert bundled.questions[0].type is QuestionType.CONSENT
    assert any(q.other for q in bundled.questions)
    assert any(not q.required for q in bundled.questions)
    # closed on 7 March 2022 at the end of the day, Paris time
    assert bundled.closes_at == datetime(2022, 3, 7, 23, 0, tzinfo=UTC)
    assert bundled.opens_at < bundled.closes_at


def test_the_bundled_consultation_speaks_french_and_english(bundled: Survey) -> None:
    for text in (bundled.title, bundled.description, bundled.privacy):
        assert text.languages() == {"fr", "en"}
    for question in bundled.questions:
        assert question.text.languages() == {"fr", "en"}, question.id
        for option in question.options:
            assert option.label.languages() == {"fr", "en"}, (question.id, option.id)
            for label in option.label.values.values():
                limit = MAX_LIST_LABEL if question.searchable else MAX_BUTTON_LABEL
                assert 0 < len(label) <= limit, (question.id, option.id)


def test_the_test_questionnaire_loads(survey: Survey) -> None:
    assert [s.id for s in survey.sections] == ["profile", "company", "opinion", "final"]
    role = survey.by_id["role"]
    assert [o.id for o in role.choices()] == ["company", "research", "public", "other"]
    assert survey.by_id["why"].show_if is not None
    assert survey.by_id["tools"].required is False
    assert survey.by_id["tools"].min_choices == 0
    assert survey.by_id["priorities"].top == 3
    assert survey.by_id["name"].text.get("en") == "Your name?"


# -- broken files --------------------------------------------------------------------------------


def test_a_broken_file_names_every_problem_at_once() -> None:
    problems = problems_of(broken_yaml())
    for _, _, where, message in PROBLEMS:
        assert_named(problems, where, message)
    assert len(problems) >= len(PROBLEMS)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [(change, where, message) for _, change, where, message in PROBLEMS],
    ids=[name for name, _, _, _ in PROBLEMS],
)
def test_each_problem_alone(change: Change, where: str, message: str) -> None:
    problems = problems_of(variant_yaml(change))
    assert_named(problems, where, message)


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        (
            [set_question("why", show_if="sat <= (2")],
            "question why",
            "show_if: ",
        ),
        (
            [set_question("why", show_if="why == 1")],
            "question why",
            "refers to the question itself",
        ),
        ([set_question("sat", min=5, max=5)], "question sat", "max must be greater than min"),
        ([set_question("priorities", top=6)], "question priorities", "top must be between 1"),
        ([set_question("why", min=3, max=2)], "question why", "min is greater than max"),
        ([set_question("name", max_length=5000)], "question name", "max_length must be at most"),
        ([set_question("name", colour="red")], "question name", "unknown key 'colour'"),
        ([set_question("consent", required=False)], "question consent", "always required"),
        ([set_question("role", options=[{"id": "a", "label": "A"}])], "question role", "at least"),
        ([set_question("staff", show_if="role == 3")], "question staff", "not an option of role"),
        ([lambda d: d.pop("title")], "title", "required key is missing"),
        ([lambda d: d.update(timezone="Europe/Pariss")], "timezone", "unknown time zone"),
        ([lambda d: d.update(opens_at="2024-03-01T09:00:00")], "opens_at", "UTC offset"),
        ([lambda d: d.update(opens_at="le 1er mars")], "opens_at", "ISO 8601"),
        ([lambda d: d.update(languages=["fr", "en", "de"])], "title", "missing the 'de' text"),
    ],
)
def test_more_problems(changes: list[Change], where: str, message: str) -> None:
    assert_named(problems_of(variant_yaml(*changes)), where, message)


def test_show_if_parse_error_gives_the_column() -> None:
    problems = problems_of(variant_yaml(set_question("why", show_if="sat <= 2 and")))
    assert any("question why" in p and "column 13" in p for p in problems), problems


def test_not_yaml() -> None:
    problems = problems_of("id: [\n", "bad.yaml")
    assert problems and problems[0].startswith("bad.yaml: line ")


def test_not_a_mapping() -> None:
    assert problems_of("- a\n- b\n", "list.yaml") == [
        "list.yaml: file: the top level must be a mapping"
    ]


def test_a_valid_variant_loads() -> None:
    # the changes used above are what break the file, not the way it is rebuilt
    survey = load(variant_yaml(set_question("budget", show_if="sat <= 3")))
    assert survey.by_id["budget"].show_if is not None
    assert load(BASE_YAML) == load(variant_yaml())


# -- consultbot check ----------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean working directory (no .env) and environment for `consultbot`."""
    monkeypatch.chdir(tmp_path)
    for name in ("SURVEY_FILE", "ADMIN_IDS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_check_accepts_the_bundled_file(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--survey", str(BUNDLED_PATH)]) == 0
    out = capsys.readouterr()
    assert "OK" in out.out
    assert "poles-competitivite-2022" in out.out
    assert out.err == ""


def test_check_defaults_to_the_bundled_file(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_names_every_problem(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cli_env / BROKEN_FILE
    path.write_text(broken_yaml(), encoding="utf-8")
    assert main(["check", "--survey", str(path)]) != 0
    out = capsys.readouterr()
    lines = out.err.splitlines()
    for _, _, where, message in PROBLEMS:
        assert any(line.startswith(f"{path}: {where}") and message in line for line in lines), (
            f"{where}: {message} not reported"
        )
    assert "OK" not in out.out


def test_check_of_a_missing_file(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--survey", str(cli_env / "nowhere.yaml")]) != 0
    assert "nowhere.yaml" in capsys.readouterr().err


def test_check_as_a_command(tmp_path: Path) -> None:
    broken = tmp_path / BROKEN_FILE
    broken.write_text(broken_yaml(), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "check", "--survey", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env | {"PYTHONPATH": str(REPO)},
            timeout=60,
            check=False,
        )

    good = check(BUNDLED_PATH)
    assert good.returncode == 0, good.stderr
    bad = check(broken)
    assert bad.returncode != 0
    for _, _, where, message in PROBLEMS:
        assert f"{broken}: {where}" in bad.stderr
        assert message in bad.stderr


@pytest.mark.parametrize(
    ("show_if", "message"),
    [
        ("count(sat) > 1", "count() counts the options chosen, but sat is a scale"),
        ("length(role) > 1", "length() measures a text, but role is a single_choice"),
        ('count(tools) == "two"', "count(tools) is a number; compare it with a number"),
    ],
)
def test_count_and_length_must_fit_their_question(show_if: str, message: str) -> None:
    problems = problems_of(variant_yaml(set_question("comment", show_if=show_if)))
    assert_named(problems, "question comment", message)


def test_count_and_length_conditions_load_and_can_be_true() -> None:
    survey = load(
        variant_yaml(
            set_question("priorities", show_if="count(tools) == 3"),
            set_question("name", show_if="length(comment) > 40 or count(why) >= 2"),
        )
    )
    assert survey.by_id["priorities"].show_if is not None
    problems = problems_of(variant_yaml(set_question("name", show_if="count(tools) > 4")))
    assert_named(problems, "question name", "show_if can never be true")
