"""The `retention:` block of a questionnaire file: when participants' data is anonymised and what
goes; every mistake named with its file and field; and `consultbot check` warning (exit 0) when
the privacy notice promises a retention date that the file does not configure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dialogs import SurveyError
from dialogs.model import DraftsPolicy
from dialogs.retention import dates_in, retention_warnings
from tests.dialogs.helpers import BUNDLED_PATH, REPO, bundled_survey, make_survey

FILE = "test-survey.yaml"
CLOSES = datetime(2024, 4, 1, 0, 0, tzinfo=UTC) - timedelta(hours=2)  # the base file's close

NOTICE_FR = (
    "Vos réponses servent à la consultation. Elles sont conservées jusqu’au 30 juin 2024, "
    "puis anonymisées."
)
NOTICE_EN = "Your answers are kept until June 30, 2024, then anonymised."


def test_the_bundled_survey_keeps_its_notice_promise() -> None:
    survey = bundled_survey()
    retention = survey.retention
    assert retention is not None
    assert retention.email_answers and not retention.free_texts
    assert retention.drafts is DraftsPolicy.KEEP
    # "conservées jusqu'au 31 décembre 2022": anonymised at the midnight ending that day, Paris.
    assert survey.anonymise_time() == datetime(2022, 12, 31, 23, 0, tzinfo=UTC)
    assert retention_warnings(survey) == []


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"anonymise_at": date(2024, 6, 30)}, datetime(2024, 6, 30, 22, 0, tzinfo=UTC)),
        ({"anonymise_at": "2024-06-30"}, datetime(2024, 6, 30, 22, 0, tzinfo=UTC)),
        (
            {"anonymise_at": "2024-07-01T08:00:00+02:00"},
            datetime(2024, 7, 1, 6, 0, tzinfo=UTC),
        ),
        ({"anonymise_after": "90d"}, CLOSES + timedelta(days=90)),
        ({"anonymise_after": "0d"}, CLOSES),
    ],
)
def test_when(block: dict[str, Any], expected: datetime) -> None:
    survey = make_survey(retention=block)
    assert survey.anonymise_time() == expected
    assert survey.retention is not None
    assert survey.retention.email_answers  # e-mails go by default
    assert not survey.retention.free_texts  # free texts only on request
    assert survey.retention.drafts is DraftsPolicy.KEEP


def test_what() -> None:
    survey = make_survey(
        retention={
            "anonymise_after": "30d",
            "email_answers": False,
            "free_texts": True,
            "drafts": "delete",
        }
    )
    retention = survey.retention
    assert retention is not None
    assert not retention.email_answers and retention.free_texts
    assert retention.drafts is DraftsPolicy.DELETE


def test_no_block_no_anonymisation() -> None:
    survey = make_survey()
    assert survey.retention is None and survey.anonymise_time() is None


@pytest.mark.parametrize(
    ("block", "where", "message"),
    [
        ("2024-06-30", "retention", "must be a mapping"),
        ({}, "retention", "exactly one of anonymise_at"),
        (
            {"anonymise_at": "2024-06-30", "anonymise_after": "90d"},
            "retention",
            "exactly one of anonymise_at",
        ),
        ({"anonymise_at": "fin juin"}, "retention: anonymise_at", "ISO 8601"),
        ({"anonymise_at": "2024-06-30T00:00:00"}, "retention: anonymise_at", "UTC offset"),
        ({"anonymise_at": 2024}, "retention: anonymise_at", "must be a date"),
        ({"anonymise_at": "2024-03-15"}, "retention: anonymise_at", "must not come before"),
        ({"anonymise_after": "3 mois"}, "retention: anonymise_after", "such as 90d"),
        ({"anonymise_after": 90}, "retention: anonymise_after", "such as 90d"),
        ({"anonymise_after": "90d", "drafts": "purge"}, "retention: drafts", "keep or delete"),
        ({"anonymise_after": "90d", "free_texts": "oui"}, "retention: free_texts", "true or false"),
        (
            {"anonymise_after": "90d", "email_answers": 1},
            "retention: email_answers",
            "true or false",
        ),
        ({"anonymise_after": "90d", "emails": True}, "retention: emails", "unknown key"),
    ],
)
def test_mistakes_are_named(block: Any, where: str, message: str) -> None:
    with pytest.raises(SurveyError) as refused:
        make_survey(retention=block)
    lines = str(refused.value).splitlines()
    assert any(line.startswith(f"{FILE}: {where}:") and message in line for line in lines), lines


def test_dates_in_a_notice() -> None:
    text = (
        "jusqu’au 31 décembre 2022 ; until December 31, 2022; until 1st March 2023; "
        "2023-01-15; le 1er avril 2023; 30/06/2024; pas une date : 31 février 2023"
    )
    assert [day for day, _ in dates_in(text)] == [
        date(2022, 12, 31),
        date(2022, 12, 31),
        date(2023, 3, 1),
        date(2023, 1, 15),
        date(2023, 4, 1),
        date(2024, 6, 30),
    ]


def test_a_promise_not_configured_is_warned_about() -> None:
    privacy = {"fr": NOTICE_FR, "en": NOTICE_EN}
    unconfigured = make_survey(privacy=privacy)
    warnings = retention_warnings(unconfigured)
    assert len(warnings) == 2
    assert "30 juin 2024" in warnings[0] and "no retention: block" in warnings[0]
    assert "June 30, 2024" in warnings[1]
    other_date = make_survey(privacy=privacy, retention={"anonymise_at": "2024-12-31"})
    assert all("2025-01-01T00:00+01:00" in w for w in retention_warnings(other_date))
    # Configured as promised: the last day kept, or the instant that ends it.
    assert (
        retention_warnings(make_survey(privacy=privacy, retention={"anonymise_at": "2024-06-30"}))
        == []
    )
    assert (
        retention_warnings(
            make_survey(privacy=privacy, retention={"anonymise_at": "2024-07-01T00:00:00+02:00"})
        )
        == []
    )
    # A date in a sentence that is not about keeping data is not a retention promise.
    opening = make_survey(privacy={"fr": "Consultation ouverte le 1er mars 2024.", "en": "Hi."})
    assert retention_warnings(opening) == []


def check(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--survey", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def test_check_warns_and_exits_0(tmp_path: Path) -> None:
    # The bundled file without its retention: block still promises 31 December 2022.
    source = BUNDLED_PATH.read_text(encoding="utf-8")
    start = source.index("\nretention:\n")
    end = source.index("\nreminders:\n")
    stripped = tmp_path / "no-retention.yaml"
    stripped.write_text(source[:start] + source[end:], encoding="utf-8")
    shutil.copytree(BUNDLED_PATH.parent / "data", tmp_path / "data")  # its long lists
    done = check(stripped, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2, done.stderr
    assert f"{stripped}: warning: privacy (fr)" in warnings[0]
    assert "31 décembre 2022" in warnings[0] and "no retention: block" in warnings[0]
    assert "December 31, 2022" in done.stderr or "31 December 2022" in done.stderr

    bundled = check(BUNDLED_PATH, tmp_path)
    assert bundled.returncode == 0 and "warning" not in bundled.stderr
