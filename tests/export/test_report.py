"""The HTML report: self-contained, a chart per closed question, free texts escaped and capped,
and drawn for real by a headless Chromium (skipped, saying why, where there is none)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.generate import synthetic_responses
from bot.report import ReportOptions, write_report
from dialogs import Answer, Survey
from dialogs.model import CLOSED_TYPES, QuestionType
from storage.repository import Store
from tests.export.helpers import FULL, SHORT, response

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_SKIP = (
    "no chromium on this machine (Debian package `chromium`, installed by .ci/run): "
    "the browser check of the report is skipped"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
HOSTILE = "<script>alert('x')</script> & <b>gras</b> \"quoted\""
BAR_COLOUR = (0x2F, 0x6F, 0xB2)


async def seed(store: Store, survey: Survey, comments: int = 0) -> None:
    hostile = dict(FULL)
    hostile["comments"] = Answer(HOSTILE)
    rows = [
        response(survey, 1, FULL, reference="R-1"),
        response(survey, 2, hostile, reference="R-2"),
        response(survey, 3, SHORT, reference="R-3", language="en"),
        response(survey, 4, {"consent": Answer(True)}, status="draft"),
    ]
    for i in range(comments):
        answers = dict(SHORT)
        answers["comments"] = Answer(f"commentaire n° {i}")
        rows.append(response(survey, 100 + i, answers, reference=f"C-{i}"))
    rows += list(synthetic_responses(survey, 60, seed=11, first_id=3_000_000))
    await store.bulk_insert_responses(rows)


def charted(survey: Survey) -> list[str]:
    return [q.id for q in survey.questions if q.type in CLOSED_TYPES | {QuestionType.NUMBER}]


async def report(store: Store, path: Path, **options: object) -> str:
    await write_report(store, ReportOptions(out=path, **options))  # type: ignore[arg-type]
    return read(path)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def test_the_report_has_a_chart_per_closed_question(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    await seed(store, survey)
    page = await report(store, tmp_path / "report.html")
    assert page.startswith("<!DOCTYPE html>")
    assert survey.title.get("fr") in page
    assert 'data-status="submitted">63<' in page and 'data-status="draft">1<' in page
    assert 'id="covered" data-count="63"' in page
    for qid in charted(survey):
        section = re.search(rf'<section class="question" id="q-{qid}".*?</section>', page, re.S)
        assert section is not None, qid
        assert '<svg class="chart"' in section.group(0), qid
        widths = bar_widths(section[0])
        assert widths and max(widths) > 0, qid
    assert page.count('<svg class="chart"') == len(charted(survey))
    # ranking: a score per option, sorted
    ranking = re.search(r'id="q-priorities".*?</section>', page, re.S)
    assert ranking is not None and "premiers choix" in ranking.group(0)


async def test_the_report_is_self_contained_and_escapes_free_texts(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    await seed(store, survey)
    page = await report(store, tmp_path / "report.html", language="en")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;" in page
    assert not re.search(r"\b(src|href)\s*=|@import|url\(", page)
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Trop de réunions" in page  # an "other" text
    assert "jeanne.dupont@example.fr" not in page  # e-mail addresses are not shown
    assert "e-mail addresses were left" in page
    assert survey.title.get("en") in page


async def test_free_texts_are_capped(store: Store, survey: Survey, tmp_path: Path) -> None:
    await seed(store, survey, comments=12)
    page = await report(store, tmp_path / "report.html", text_limit=5, language="en")
    section = re.search(r'id="q-comments".*?</section>', page, re.S)
    assert section is not None
    assert section.group(0).count("<li>") == 5
    assert re.search(r"… and \d+ more, in the export\.", section.group(0))


async def test_drafts_in_the_report_only_when_asked(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    await seed(store, survey)
    page = await report(store, tmp_path / "r.html", include_drafts=True)
    assert 'id="covered" data-count="64"' in page


async def test_an_empty_report(store: Store, survey: Survey, tmp_path: Path) -> None:
    page = await report(store, tmp_path / "r.html")
    assert 'id="covered" data-count="0"' in page
    assert "Pas encore de réponse." in page


def bar_widths(page: str) -> list[float]:
    """The drawn width of each bar (`<g class="bar">` around matplotlib's rectangle path)."""
    bars = re.findall(r'<g class="bar"[^>]*>.*?<path d="M ([\d.]+) [\d.]+\s+L ([\d.]+)', page, re.S)
    return [float(right) - float(left) for left, right in bars]


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        timeout=120,
        check=True,
    )


@pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_SKIP)
async def test_chromium_draws_the_charts(store: Store, survey: Survey, tmp_path: Path) -> None:
    await seed(store, survey)
    path = tmp_path / "report.html"
    await report(store, path)
    url = path.as_uri()

    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout.decode("utf-8")
    assert dom.count('<svg class="chart"') == len(charted(survey))
    widths = bar_widths(dom)
    assert len([w for w in widths if w > 0]) >= len(charted(survey))
    assert "&lt;script&gt;" in dom and "<script>alert" not in dom

    screenshot = tmp_path / "report.png"
    chromium(f"--screenshot={screenshot}", "--window-size=1000,1800", url, profile=tmp_path / "p2")
    from PIL import Image

    with Image.open(screenshot) as image:
        pixels = image.convert("RGB")
        width, height = pixels.size
        colours = pixels.getcolors(maxcolors=width * height) or []
    near_bar = sum(
        count
        for count, colour in colours
        if all(abs(c - b) <= 12 for c, b in zip(colour, BAR_COLOUR, strict=True))
    )
    # the first screenful holds several charts: thousands of pixels of bar colour
    assert near_bar > 20_000, near_bar
    assert len(colours) > 50  # text and charts, not a blank page


async def test_a_long_list_shows_its_top_15_and_the_others_together(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    """The 56 pôles (and "other"): 15 bars and one for the 42 others, not 57 bars."""
    await seed(store, survey)
    page = await report(store, tmp_path / "report.html")
    section = re.search(r'id="q-cluster_name".*?</section>', page, re.S)
    assert section is not None
    bars = re.findall(r'<g class="bar"', section.group(0))
    assert len(bars) == 16
    assert "42 autres options" in section.group(0)
    assert "les 15 options les plus choisies, puis les 42 autres ensemble" in section.group(0)
