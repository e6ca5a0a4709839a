"""One figure everywhere: /stats, `consultbot stats`, the HTML report and the CSV export give the
same count for every option of every closed question of the bundled consultation."""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from analysis.tally import CONSENT_KEY
from benchmarks.generate import synthetic_responses
from bot.admin_cli import add_admin_commands
from bot.charts import format_distributions, format_stats
from bot.config import Settings
from bot.export import ExportOptions, export_responses
from bot.export_cli import add_export_commands
from bot.figures import compute_stats
from bot.report import OTHERS_KEY, TOP_BARS
from dialogs import Answer, Survey
from dialogs.model import CLOSED_TYPES, Question, QuestionType
from storage.repository import Store
from tests.export.helpers import BUNDLED, read_csv, response

Counts = dict[str, dict[str, int]]


async def seed(store: Store, survey: Survey) -> None:
    rows = list(synthetic_responses(survey, 400, seed=5, first_id=7_000_000))
    rows.append(response(survey, 1, {"consent": Answer(True)}, status="draft"))
    await store.bulk_insert_responses(rows)


def parse_distributions(text: str, survey: Survey) -> Counts:
    """The counts of the text /stats sends and `consultbot stats` prints."""
    found: Counts = {}
    current: str | None = None
    for line in text.splitlines():
        header = re.match(r"^Q(\d+) ", line)
        if header:
            current = survey.questions[int(header.group(1)) - 1].id
            found[current] = {}
            continue
        if current is None or not line.startswith("    "):
            continue
        found[current][str(len(found[current]))] = int(line[35:].split()[0])
    return found


def by_position(survey: Survey, counts: Counts) -> Counts:
    """Counts keyed by category → keyed by position, as the text shows them."""
    out: Counts = {}
    for question in survey.questions:
        if question.id in counts:
            out[question.id] = {str(i): n for i, n in enumerate(counts[question.id].values())}
    return out


def report_counts(page: str) -> Counts:
    found: Counts = {}
    for match in re.finditer(r'<section class="question" id="q-([^"]+)".*?</section>', page, re.S):
        bars = re.findall(r'<g class="bar" data-key="([^"]*)" data-count="(\d+)"', match[0])
        if bars:
            found[match[1]] = {key: int(n) for key, n in bars}
    return found


def csv_counts(survey: Survey, rows: list[dict[str, str]]) -> Counts:
    found: Counts = {}
    for question in survey.questions:
        if question.type not in CLOSED_TYPES:
            continue
        counts: Counter[str] = Counter()
        qid = question.id
        for row in rows:
            if question.type is QuestionType.MULTI_CHOICE:
                for option in question.choices():
                    counts[option.id] += row.get(f"{qid}.{option.id}") == "1"
            elif question.type is QuestionType.RANKING:
                if row.get(f"{qid}.1"):
                    counts[row[f"{qid}.1"]] += 1
            elif question.type is QuestionType.CONSENT:
                counts[CONSENT_KEY] += row.get(qid) == "1"
            elif row.get(qid):
                counts[row[qid]] += 1
        found[qid] = {key: counts.get(key, 0) for key in _keys(question)}
    return found


def _keys(question: Question) -> list[str]:
    from analysis.tally import categories

    return list(categories(question))


async def _cli(argv: list[str], settings: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_export_commands(sub)
    add_admin_commands(sub)
    args = parser.parse_args(argv)
    func: Any = args.func
    capsys.readouterr()
    assert await asyncio.to_thread(func, args, settings) == 0
    return capsys.readouterr().out


async def test_every_output_gives_the_same_counts(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(store, survey)
    stats = await compute_stats(store)
    expected: Counts = {d.question.id: dict(d.counts) for d in stats.distributions}
    closed = [q.id for q in survey.questions if q.type in CLOSED_TYPES]
    assert sorted(expected) == sorted(closed)
    assert sum(expected["actor_type"].values()) == 400

    telegram = f"{format_stats(stats, 'fr')}\n\n{format_distributions(stats, 'fr')}"
    assert parse_distributions(telegram, survey) == by_position(survey, expected)

    settings = Settings(database_url=url, survey_file=BUNDLED)
    printed = await _cli(["stats"], settings, capsys)
    assert parse_distributions(printed, survey) == by_position(survey, expected)

    page_path = tmp_path / "report.html"
    await _cli(["report", "--out", str(page_path)], settings, capsys)
    page = report_counts(page_path.read_text(encoding="utf-8"))
    assert sorted(page) == sorted(expected)
    for qid, shown in page.items():
        # A long list is charted as its 15 most chosen options and one bar for the others.
        others = shown.pop(OTHERS_KEY, None)
        assert shown == {key: expected[qid][key] for key in shown}, qid
        if others is None:
            assert shown == expected[qid], qid
        else:
            assert len(shown) == TOP_BARS
            assert others == sum(n for key, n in expected[qid].items() if key not in shown)

    out = tmp_path / "answers.csv"
    await export_responses(store, ExportOptions(format="csv", out=out))
    assert csv_counts(survey, read_csv(out)) == expected


def test_the_stats_text_is_split_between_lines_for_telegram() -> None:
    from bot.admin import split_text

    text = "\n".join(f"    option {i:<30} {i * 7}" for i in range(400))
    pieces = split_text(text, 3896)
    assert len(pieces) > 1 and all(len(p) <= 3896 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]
