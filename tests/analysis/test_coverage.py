"""Coverage against the questionnaire's `targets:`: on generated data with a planted
under-representation, the right group is named furthest behind, with the --where that reaches
it; the `targets:` block is validated with precise errors."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest
import yaml

from analysis.coverage import compute_coverage, where_for
from benchmarks.generate import synthetic_responses
from bot.config import DEFAULT_SURVEY
from bot.survey_file import LoadedSurvey, load_survey_file
from dialogs import SurveyError, parse_survey
from dialogs.state import Answer
from dialogs.where import where_of
from storage.repository import NewResponse
from tests.admin.test_cli import consultbot
from tests.e2e.harness import RecordingBotAPI, open_store

COMPANIES = ("company_micro", "company_sme", "company_midcap", "company_large")
PUBLIC = ("research", "training")


@pytest.fixture(scope="module")
def loaded() -> LoadedSurvey:
    return load_survey_file(DEFAULT_SURVEY)


def test_the_bundled_targets(loaded: LoadedSurvey) -> None:
    targets = loaded.survey.targets
    assert targets is not None and targets.question_id == "actor_type"
    assert [(g.id, g.expected) for g in targets.groups] == [
        ("companies", 18000),
        ("public_actors", 2000),
    ]


def test_companies_under_represented_against_labs(loaded: LoadedSurvey) -> None:
    """18,000 companies and 2,000 public actors (90% / 10%), but 60 company responses against
    40 from labs: companies are named first, with the condition that reaches them."""
    targets = loaded.survey.targets
    assert targets is not None
    counts = {"company_sme": 50, "company_large": 10, "research": 30, "training": 10, "other": 7}
    coverage = compute_coverage(targets, counts)
    companies, public = coverage.groups
    assert (companies.submitted, public.submitted) == (60, 40)
    assert companies.rate == pytest.approx(60 / 18000)
    assert companies.population_share == pytest.approx(0.9)
    assert companies.response_share == pytest.approx(0.6)  # "other" is outside every group
    assert public.representation == pytest.approx(4.0)
    assert coverage.answered == 107 and coverage.outside == 7
    assert [g.group.id for g in coverage.behind()] == ["companies"]
    assert companies.where == where_for("actor_type", COMPANIES)
    # The where is valid in the broadcast language and reaches exactly the group's options.
    condition = where_of(loaded.survey, companies.where)
    assert all(condition.evaluate({"actor_type": o}) for o in COMPANIES)
    assert not any(condition.evaluate({"actor_type": o}) for o in (*PUBLIC, "other"))


def test_on_target_nobody_is_behind(loaded: LoadedSurvey) -> None:
    targets = loaded.survey.targets
    assert targets is not None
    coverage = compute_coverage(targets, {"company_sme": 900, "research": 100})
    assert coverage.behind() == []
    empty = compute_coverage(targets, {})
    assert empty.answered == 0 and all(g.response_share == 0 for g in empty.groups)


def survey_with_targets(targets: object) -> str:
    data = yaml.safe_load(DEFAULT_SURVEY.read_text(encoding="utf-8"))
    data["targets"] = targets
    return yaml.safe_dump(data, allow_unicode=True)


GROUP = {"id": "labs", "options": ["research"], "share": 0.1}


@pytest.mark.parametrize(
    ("targets", "says"),
    [
        ({"question": "nope", "groups": [GROUP]}, "'nope' is not a question of the survey"),
        ({"question": "comments", "groups": [GROUP]}, "must be a single_choice question"),
        (
            {"question": "actor_type", "groups": [{**GROUP, "options": ["lab"]}]},
            "'lab' is not an option of actor_type",
        ),
        (
            {"question": "actor_type", "groups": [GROUP, {**GROUP, "id": "again"}]},
            "research is already in group labs",
        ),
        (
            {"question": "actor_type", "groups": [{**GROUP, "expected": 10}]},
            "give expected (a count) or share",
        ),
        (
            {"question": "actor_type", "groups": [{**GROUP, "share": 1.5}]},
            "share must be a number above 0 and at most 1",
        ),
        (
            {
                "question": "actor_type",
                "groups": [
                    GROUP,
                    {"id": "firms", "options": ["company_sme"], "expected": 10},
                ],
            },
            "every group an expected count, or every group a share",
        ),
    ],
)
def test_wrong_targets_are_refused_with_what_is_wrong(targets: object, says: str) -> None:
    with pytest.raises(SurveyError, match=re.escape(says)):
        parse_survey(survey_with_targets(targets))


def planted(rows: list[NewResponse], rng: random.Random) -> list[NewResponse]:
    """Give every response an actor type: a third companies, two thirds labs (planted)."""
    out = []
    for row in rows:
        actor = rng.choice(COMPANIES) if rng.random() < 1 / 3 else rng.choice(PUBLIC)
        answers = dict(row.state.answers)
        answers["actor_type"] = Answer(actor)
        if actor not in COMPANIES:  # company_rd is asked of companies only
            answers.pop("company_rd", None)
        out.append(dataclasses.replace(row, state=dataclasses.replace(row.state, answers=answers)))
    return out


@pytest.mark.e2e
async def test_stats_name_the_group_furthest_behind(loaded: LoadedSurvey, tmp_path: Path) -> None:
    api = RecordingBotAPI()
    await api.start()
    try:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'coverage.db'}"
        rows = planted(
            list(synthetic_responses(loaded.survey, 90, first_id=40_000)), random.Random(2)
        )
        async with open_store(database_url, loaded) as store:
            await store.register_survey()
            await store.bulk_insert_responses(rows)
        companies = sum(1 for r in rows if r.state.answers["actor_type"].value in COMPANIES)
        code, out, err = await consultbot(api, database_url, "stats")
        report = tmp_path / "report.html"
        code_r, _, err_r = await consultbot(api, database_url, "report", "--out", str(report))
        assert code_r == 0, err_r
    finally:
        await api.stop()
    assert code == 0, err
    assert "Couverture des objectifs (actor_type) :" in out
    assert f"• Entreprises : {companies} / 18000" in out
    behind = out.split("Les plus en retard (à relancer d’abord) :", 1)[1]
    assert behind.strip().splitlines()[0] == (
        "• Entreprises : consultbot broadcast --where "
        '\'actor_type in ["company_micro", "company_sme", "company_midcap", '
        '"company_large"]\''
    )
    assert "Acteurs publics" not in behind
    page = report.read_text(encoding="utf-8")
    assert '<p class="meta" id="behind">Les plus en retard : Entreprises.</p>' in page
    assert f"<tr data-group='companies'><td>Entreprises</td><td class='n'>{companies}</td>" in page
