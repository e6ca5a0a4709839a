"""Cross-tabulation: a closed question broken down by the groups of a single-choice question.

    table = crosstab(tallies, "satisfaction_overall", min_cell=5)

Rows are the question's categories (`analysis.tally`), columns the grouping question's options
(then `NO_GROUP`, the responses that did not answer it, when there are any). Each cell counts the
responses of a group that gave that category; `n` is the number of a group's responses that
answered the question, and column percentages are cell / n.

The test of independence (scipy) is run on the groups that are published (n ≥ K):

- a 2 × 2 table with an expected count under 5: Fisher's exact test;
- otherwise Pearson's chi-square (without continuity correction), over the rows and columns that
  are not all zeros;
- a multi-choice question: one 2 × g test per option (ticked or not, by group), Bonferroni
  adjusted; the question's p-value is the smallest adjusted one.

The effect size is Cramér's V, √(χ² / (n · (min(r, c) − 1))) (φ for a 2 × 2 table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.suppress import Suppressed, suppress
from analysis.tally import NO_GROUP, Tallies, Tally, categories
from dialogs.model import Question, QuestionType

SIGNIFICANCE = 0.05


@dataclass(frozen=True, slots=True)
class Independence:
    """A test of independence between a question and the groups."""

    method: str
    """"chi2", "fisher" or "chi2-bonferroni" (multi-choice)."""
    statistic: float
    p_value: float
    cramers_v: float
    n: int

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    @property
    def p_text(self) -> str:
        """The p-value as it is written: "p < 0.001", "p < 0.01", "p < 0.05", or "p = 0.43"."""
        for bound in (0.001, 0.01, 0.05):
            if self.p_value < bound:
                return f"p < {bound:g}"
        return f"p = {self.p_value:.2f}"

    @property
    def strength(self) -> str:
        """Cramér's V in words: "negligible", "weak", "moderate" or "strong"."""
        v = self.cramers_v
        if v < 0.1:
            return "negligible"
        if v < 0.3:
            return "weak"
        if v < 0.5:
            return "moderate"
        return "strong"


@dataclass(frozen=True, slots=True)
class CrossTab:
    question: Question
    by: Question
    rows: tuple[str, ...]
    """The question's categories."""
    groups: tuple[str, ...]
    """The grouping question's options (then `NO_GROUP` when some responses did not answer it)."""
    cells: tuple[tuple[int, ...], ...]
    row_totals: tuple[int, ...]
    n: tuple[int, ...]
    """Per group: responses that answered the question."""
    total: int
    test: Independence | None
    """None when there is not enough to test (fewer than two groups or categories with data)."""
    suppressed: Suppressed
    min_cell: int

    def percent(self, i: int, j: int) -> float | None:
        """Column percentage of cell (i, j), None when the group has no answer."""
        n = self.n[j]
        return 100.0 * self.cells[i][j] / n if n else None

    @property
    def additive(self) -> bool:
        return self.question.type is not QuestionType.MULTI_CHOICE

    def published_groups(self) -> list[int]:
        """The columns whose n is shown."""
        return [j for j in range(len(self.groups)) if not self.suppressed.column_total(j)]


def _chi2(table: list[list[int]]) -> tuple[str, float, float, float, int] | None:
    """(method, statistic, p, V, n) of a contingency table, None when it cannot be tested."""
    from scipy import stats

    rows = [row for row in table if any(row)]
    if len(rows) < 2:
        return None
    keep = [j for j in range(len(rows[0])) if any(row[j] for row in rows)]
    if len(keep) < 2:
        return None
    matrix = [[row[j] for j in keep] for row in rows]
    n = sum(map(sum, matrix))
    result = stats.chi2_contingency(matrix, correction=False)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    expected = result.expected_freq
    smallest = min(min(map(float, row)) for row in expected)
    v = math.sqrt(statistic / (n * (min(len(matrix), len(matrix[0])) - 1))) if n else 0.0
    if len(matrix) == 2 and len(matrix[0]) == 2 and smallest < 5:
        _, p_value = stats.fisher_exact(matrix)
        return "fisher", statistic, float(p_value), v, n
    return "chi2", statistic, p_value, v, n


def independence(table: list[list[int]], n: list[int], multi: bool) -> Independence | None:
    """The test of a table whose columns are groups (`n` answers each)."""
    if not multi:
        found = _chi2(table)
        if found is None:
            return None
        return Independence(*found)
    tests = []
    for row in table:
        found = _chi2([row, [total - x for x, total in zip(row, n, strict=True)]])
        if found is not None:
            tests.append(found)
    if not tests:
        return None
    m = len(tests)
    best = min(tests, key=lambda found: found[2])
    _, statistic, p_value, v, count = best
    return Independence("chi2-bonferroni", statistic, min(1.0, p_value * m), v, count)


def crosstab(tallies: Tallies, question_id: str, *, min_cell: int = 0) -> CrossTab:
    """The table of `question_id` by the grouping question of `tallies`, suppressed under
    `min_cell` (0 or 1: nothing suppressed)."""
    by = tallies.by
    if by is None:
        raise ValueError("the tallies are not grouped")
    tally = tallies.tallies[question_id]
    return build(tally, by, has_no_group=tallies.groups.get(NO_GROUP, 0) > 0, min_cell=min_cell)


def build(tally: Tally, by: Question, *, has_no_group: bool, min_cell: int = 0) -> CrossTab:
    question = tally.question
    known = categories(question)
    rows = tuple(known) + tuple(sorted({k for k, _ in tally.by_group} - set(known)))
    groups = tuple(categories(by))
    extra = sorted({g for _, g in tally.by_group} - set(groups) - {NO_GROUP})
    groups += tuple(extra)
    if has_no_group or tally.group_answered.get(NO_GROUP, 0):
        groups += (NO_GROUP,)
    # groups that gave no answer (the question was not asked to them) are left out
    groups = tuple(g for g in groups if tally.group_answered.get(g, 0) > 0)
    cells = tuple(tuple(tally.by_group.get((key, g), 0) for g in groups) for key in rows)
    n = tuple(tally.group_answered.get(g, 0) for g in groups)
    row_totals = tuple(sum(row) for row in cells)
    total = sum(n)
    multi = question.type is QuestionType.MULTI_CHOICE
    hidden = suppress(cells, row_totals, n, total, min_cell, additive_columns=not multi)
    tested = [
        j
        for j, g in enumerate(groups)
        if g != NO_GROUP and n[j] > 0 and not (min_cell > 1 and n[j] < min_cell)
    ]
    table = [[row[j] for j in tested] for row in cells]
    test = independence(table, [n[j] for j in tested], multi) if tested else None
    return CrossTab(question, by, rows, groups, cells, row_totals, n, total, test, hidden, min_cell)
