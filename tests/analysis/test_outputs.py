"""The analyses as staff get them: `consultbot report --by … --themes` (checked in a headless
Chromium), `stats --by`, `export --crosstab`, `export --themes` and `--public`."""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import synthetic_responses
from bot.admin_cli import add_admin_commands
from bot.config import Settings
from bot.export_cli import add_export_commands
from channels.cli import UsageError
from dialogs import Answer, Phase, State, Survey
from storage.repository import NewResponse, Store
from tests.analysis.test_themes import VOCABULARIES, generated
from tests.export.helpers import BUNDLED, read_csv, read_xlsx
from tests.export.test_report import CHROMIUM, CHROMIUM_SKIP, chromium

SMALL_GROUP = "training"


async def seed(store: Store, survey: Survey, n: int = 400) -> list[str]:
    """`n` responses where research labs are much less satisfied, only 3 training bodies, and
    comments from three vocabularies; returns the comments' true themes."""
    rng = random.Random(2)
    comments, truth = generated(n, seed=9)
    rows: list[NewResponse] = []
    small = 0
    themes = []
    for index, row in enumerate(synthetic_responses(survey, n, seed=3, first_id=8_000_000)):
        answers = dict(row.state.answers)
        if answers["actor_type"].value == SMALL_GROUP:
            if small == 3:
                answers["actor_type"] = Answer("research")
            else:
                small += 1
        if answers["actor_type"].value == "research":
            answers["satisfaction_overall"] = Answer(rng.choice([1, 1, 2]))
        answers["comments"] = Answer(comments[index])
        themes.append(truth[index])
        state = State(
            language=row.state.language,
            phase=Phase.SUBMITTED,
            answers=answers,
            reference=row.state.reference,
            submitted_at=row.state.submitted_at,
        )
        rows.append(NewResponse(row.participant, state, row.started_at))
    await store.bulk_insert_responses(rows)
    return themes


async def cli(argv: list[str], url: str, capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_export_commands(sub)
    add_admin_commands(sub)
    args = parser.parse_args(argv)
    func: Any = args.func
    capsys.readouterr()
    settings = Settings(database_url=url, survey_file=BUNDLED)
    assert await asyncio.to_thread(func, args, settings) == 0
    return capsys.readouterr().out


async def test_report_by_actor_type_with_themes(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(store, survey)
    path = tmp_path / "report.html"
    out = await cli(
        ["report", "--out", str(path), "--by", "actor_type", "--themes", "--lang", "en"],
        url,
        capsys,
    )
    assert "figures hidden (counts under 5" in out
    page = path.read_text(encoding="utf-8")
    tables = re.findall(r'<table class="crosstab" data-question="([^"]+)"', page)
    closed = [q.id for q in survey.questions if q.type.value != "text" and q.id != "actor_type"]
    assert set(tables) <= set(closed) and "satisfaction_overall" in tables
    satisfaction = re.search(r'data-question="satisfaction_overall".*?</table>.*?</p>', page, re.S)
    assert satisfaction is not None
    assert "Differs by actor type, p &lt; 0.001" in satisfaction[0]
    # the group of 3 training bodies: hidden in every table, its free texts left out
    for table in re.findall(r"<table class=\"crosstab\".*?</table>", page, re.S):
        header = re.findall(r'<th data-group="([^"]*)"', table)
        if SMALL_GROUP not in header:
            continue  # a question not asked to the group (company_rd): nobody to hide
        column = header.index(SMALL_GROUP)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
            cells = re.findall(r"<td[^>]*>", row)
            assert 'data-hidden="1"' in cells[column], row
    assert 'id="suppression"' in page and "Groups of fewer than 5 responses" in page
    assert re.search(r"\d+ free-text answers of those groups are left out.", page)
    assert "e-mail addresses were left" in page
    # three themes in the comments, named by their words
    comments = re.search(r'<section class="question" id="q-comments".*?</section>', page, re.S)
    assert comments is not None
    themes = re.findall(r'<li class="theme" data-theme="\d+" data-terms="([^"]+)"', comments[0])
    assert len(themes) == 3
    words = {w.lower() for vocabulary in VOCABULARIES.values() for w in vocabulary}
    assert all(sum(term in words for term in terms.split()) >= 3 for terms in themes)

    if CHROMIUM is None:
        pytest.skip(CHROMIUM_SKIP)
    dom = chromium("--dump-dom", path.as_uri(), profile=tmp_path / "profile").stdout.decode()
    assert dom.count('<table class="crosstab"') == len(tables)
    assert dom.count('class="theme"') >= 3
    screenshot = tmp_path / "report.png"
    chromium(
        f"--screenshot={screenshot}",
        "--window-size=1000,3000",
        path.as_uri(),
        profile=tmp_path / "p2",
    )
    from PIL import Image

    with Image.open(screenshot) as image:
        assert len(image.convert("RGB").getcolors(maxcolors=10**7) or []) > 50


async def test_stats_by_and_the_spreadsheet_exports(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = await seed(store, survey, 200)
    out = await cli(["stats", "--by", "actor_type", "--lang", "en"], url, capsys)
    assert "By actor type (counts under 5 are hidden" in out
    assert "Differs by actor type, p < 0.001" in out and "< 5" in out

    tables = tmp_path / "tables.csv"
    await cli(["export", "--crosstab", "actor_type", "--out", str(tables)], url, capsys)
    rows = read_csv(tables)
    assert rows and set(rows[0]) >= {"question_id", "group", "count", "column_percent", "verdict"}
    small = [r for r in rows if r["group"] == SMALL_GROUP and r["group_n"] != "0"]
    assert small and all(r["count"] == "< 5" and r["group_n"] == "< 5" for r in small)
    satisfaction = [r for r in rows if r["question_id"] == "satisfaction_overall"]
    assert satisfaction[0]["verdict"].startswith("Diffère selon actor type, p < 0.001")

    book = tmp_path / "tables.xlsx"
    await cli(
        ["export", "--crosstab", "region", "--format", "xlsx", "--out", str(book)], url, capsys
    )
    assert len(read_xlsx(book)) > 100

    themes = tmp_path / "themes.csv"
    await cli(["export", "--themes", "--out", str(themes)], url, capsys)
    coded = [r for r in read_csv(themes) if r["question"] == "comments"]
    assert len(coded) == 200 and all(r["pseudonym"].startswith("P-") for r in coded)
    assert len({r["theme_id"] for r in coded}) == 3
    public = tmp_path / "themes-public.csv"
    await cli(["export", "--themes", "--public", "--out", str(public)], url, capsys)
    assert "pseudonym" not in read_csv(public)[0]
    assert truth  # the comments' themes were planted

    answers = tmp_path / "public.csv"
    await cli(["export", "--public", "--out", str(answers)], url, capsys)
    header = next(csv.reader(answers.read_text(encoding="utf-8-sig").splitlines()))
    assert not {"pseudonym", "reference", "telegram_id", "contact_email"} & set(header)
    assert "actor_type" in header


async def test_bad_grouping_questions_are_refused(
    store: Store, survey: Survey, url: str, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_export_commands(sub)
    add_admin_commands(sub)
    settings = Settings(database_url=url, survey_file=BUNDLED)
    for argv in (
        ["report", "--out", str(tmp_path / "r.html"), "--by", "priorities"],
        ["report", "--out", str(tmp_path / "r.html"), "--by", "nope"],
        ["stats", "--by", "comments"],
        ["export", "--crosstab", "actor_type", "--format", "json", "--out", str(tmp_path / "x")],
        ["report", "--out", str(tmp_path / "r.html"), "--min-cell", "-1"],
    ):
        args = parser.parse_args(argv)
        with pytest.raises(UsageError) as raised:  # one line, exit status 2 (bot.cli.main)
            await asyncio.to_thread(args.func, args, settings)
        assert str(raised.value), argv
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "x").exists()


async def test_a_public_report_hides_small_counts_and_e_mail_answers(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await store.bulk_insert_responses(list(synthetic_responses(survey, 40, seed=6)))
    path = tmp_path / "public.html"
    await cli(["report", "--out", str(path), "--public", "--lang", "en"], url, capsys)
    page = path.read_text(encoding="utf-8")
    assert "Public version" in page and "e-mail addresses were left" not in page
    counts = [int(n) for n in re.findall(r'<g class="bar"[^>]* data-count="(\d+)"', page)]
    assert counts and all(n == 0 or n >= 5 for n in counts)
    assert page.count('data-hidden="1"') > 10
    assert "&lt; 5" in page or "< 5" in page
    assert "Lowest and highest values are not given" in page
