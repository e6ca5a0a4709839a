"""Cross-tabulations: a planted difference is found, no difference is not; a small group is
hidden and no published total lets a reader recompute it."""

from __future__ import annotations

import random

import pytest

from analysis.crosstab import build, crosstab
from analysis.suppress import suppress
from analysis.tally import Tallies
from benchmarks.generate import synthetic_answers
from bot.tables import crosstab_rows, flag_text, format_crosstab
from dialogs import Answer, Survey


def tallies_with(survey: Survey, n: int, *, plant: bool, seed: int = 1) -> Tallies:
    """`n` generated responses; with `plant`, research labs are much less satisfied."""
    rng = random.Random(seed)
    tallies = Tallies(survey, by=survey.by_id["actor_type"])
    for index in range(n):
        answers = synthetic_answers(survey, rng, index)
        if plant and answers["actor_type"].value == "research":
            answers["satisfaction_overall"] = Answer(rng.choice([1, 1, 1, 2]))
        tallies.add(answers)
    return tallies


def test_a_planted_difference_is_reported_as_significant(survey: Survey) -> None:
    table = crosstab(tallies_with(survey, 800, plant=True), "satisfaction_overall", min_cell=5)
    assert table.test is not None and table.test.significant
    assert table.test.p_value < 0.01 and table.test.cramers_v > 0.1
    research = table.groups.index("research")
    ones = table.rows.index("1")
    assert table.percent(ones, research) > 60  # type: ignore[operator]
    verdict = flag_text(table, "en")
    assert verdict.startswith("Differs by actor type, p < 0.001"), verdict
    assert flag_text(table, "fr").startswith("Diffère selon actor type, p < 0.001")


def test_no_difference_is_not_reported(survey: Survey) -> None:
    tallies = tallies_with(survey, 800, plant=False)
    table = crosstab(tallies, "satisfaction_overall", min_cell=5)
    assert table.test is not None and not table.test.significant
    assert flag_text(table, "en").startswith("No clear difference by actor type (p = ")
    for qid in ("cluster_member", "priorities", "services_used"):  # single, ranking, multi
        other = crosstab(tallies, qid)
        assert other.test is not None and not other.test.significant, qid


def test_fisher_for_a_small_two_by_two_table(survey: Survey) -> None:
    from analysis.crosstab import independence

    found = independence([[8, 1], [1, 8]], [9, 9], multi=False)
    assert found is not None and found.method == "fisher"
    assert found.p_value == pytest.approx(2 * (81 + 1) / 48620)  # both tails, by hand
    assert independence([[80, 10], [10, 80]], [90, 90], multi=False).method == "chi2"  # type: ignore[union-attr]


def recomputable(
    cells: list[list[int]], hidden: list[list[bool]], additive_columns: bool
) -> list[tuple[int, int]]:
    """Hidden entries of the (r+1) × (c+1) table whose value the published ones fix exactly:
    the smallest and largest values they can take (linear programming) are the same."""
    from scipy.optimize import linprog

    rows, columns = len(cells), len(cells[0])
    unknown = [(i, j) for i in range(rows) for j in range(columns) if hidden[i][j]]
    index = {entry: k for k, entry in enumerate(unknown)}
    lines = [[(i, j) for j in range(columns)] for i in range(rows)]
    if additive_columns:
        lines += [[(i, j) for i in range(rows)] for j in range(columns)]
    equalities, bounds_right = [], []
    for line in lines:
        *parts, total = line
        row = [0.0] * len(unknown)
        right = 0.0
        for entry, sign in [(e, 1.0) for e in parts] + [(total, -1.0)]:
            if entry in index:
                row[index[entry]] += sign
            else:
                right -= sign * cells[entry[0]][entry[1]]
        if any(row):
            equalities.append(row)
            bounds_right.append(right)
    exposed = []
    for k, entry in enumerate(unknown):
        objective = [0.0] * len(unknown)
        objective[k] = 1.0
        low = linprog(objective, A_eq=equalities, b_eq=bounds_right, bounds=(0, None)).fun
        objective[k] = -1.0
        high = -linprog(objective, A_eq=equalities, b_eq=bounds_right, bounds=(0, None)).fun
        if high - low < 0.5:
            exposed.append(entry)
    return exposed


def full_table(table: object) -> list[list[int]]:
    cells = [[*row, total] for row, total in zip(table.cells, table.row_totals, strict=True)]  # type: ignore[attr-defined]
    cells.append([*table.n, table.total])  # type: ignore[attr-defined]
    return cells


def test_a_group_of_three_is_hidden_and_cannot_be_recomputed(survey: Survey) -> None:
    rng = random.Random(4)
    tallies = Tallies(survey, by=survey.by_id["actor_type"])
    lab = 0
    for index in range(500):
        answers = synthetic_answers(survey, rng, index)
        if answers["actor_type"].value == "training":
            if lab == 3:
                continue
            lab += 1
        tallies.add(answers)
    assert tallies.groups["training"] == 3
    for qid in ("satisfaction_overall", "region", "services_used", "priorities", "consent"):
        table = crosstab(tallies, qid, min_cell=5)
        column = table.groups.index("training")
        mask = table.suppressed
        assert mask.column_total(column), qid
        assert all(mask.cell(i, column) for i in range(len(table.rows))), qid
        hidden = [list(row) for row in mask.hidden]
        assert recomputable(full_table(table), hidden, table.additive) == [], qid
        text = format_crosstab(table, "en", "fr")
        assert "< 5" in text
        rows = list(crosstab_rows(table, "en", "fr"))
        training = [r for r in rows if r[4] == "training"]
        assert training and all(r[6] == "< 5" and r[8] == "< 5" for r in training), qid
    # every count shown is at least 5 (or 0)
    table = crosstab(tallies, "region", min_cell=5)
    for i, row in enumerate(table.cells):
        for j, value in enumerate(row):
            if not table.suppressed.cell(i, j):
                assert value == 0 or value >= 5


def test_secondary_suppression_on_a_small_table() -> None:
    cells = [[20, 3, 12], [15, 9, 30]]
    found = suppress(cells, [35, 54], [35, 12, 42], 89, 5)
    assert found.cell(0, 1)  # the 3
    hidden = [list(row) for row in found.hidden]
    table = [[20, 3, 12, 35], [15, 9, 30, 54], [35, 12, 42, 89]]
    assert recomputable(table, hidden, True) == []
    assert found.secondary > 0
    # a count under 5 reads "< 5"; one hidden only to protect it reads "x" (it may be 5 or more)
    assert found.mark(0, 1) == "< 5"
    marks = [found.mark(i, j) for i in range(3) for j in range(4)]
    assert "x" in marks and all(m in (None, "< 5", "x") for m in marks)
    for i in range(3):
        for j in range(4):
            if found.mark(i, j) == "x":
                assert table[i][j] >= 5
    nothing = suppress(cells, [35, 54], [35, 12, 42], 89, 0)
    assert not nothing.any


def test_the_grouping_question_must_be_single_choice(survey: Survey) -> None:
    with pytest.raises(ValueError):
        Tallies(survey, by=survey.by_id["priorities"])
    tallies = Tallies(survey)
    with pytest.raises(ValueError):
        crosstab(tallies, "region")
    assert build  # the building block used by the report
