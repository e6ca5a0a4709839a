"""Safe publication: cells under K hidden, and enough others that no total gives them away.

A table is published with its margins: `cells[i][j]` (category i, group j), the row totals (each
category over every group), the column totals (each group's n) and the grand total. Laid out as
one (r+1) × (c+1) matrix, every row is a *line* whose entries add up to its last one, and so is
every column when the categories exclude each other (`additive_columns`; not for a multi-choice,
where one answer ticks several).

Primary suppression hides every entry with 0 < value < K, and the whole column of a group whose
n is under K. Secondary suppression then repeats until no line holds exactly one hidden entry
(one hidden entry in a line is its total minus the others): it hides the line's smallest positive
visible entry, cells before margins, the grand total last. Zeros stay visible (unless their group
is hidden): a zero reveals nobody. An entry under K reads "< K"; one hidden to protect it reads
`SECONDARY_MARK` ("x"), since it may well be K or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MIN_CELL = 5
SECONDARY_MARK = "x"
"""How a figure hidden by secondary suppression reads (it may well be K or more)."""


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Which entries of a table are hidden (True), in the (r+1) × (c+1) layout."""

    hidden: tuple[tuple[bool, ...], ...]
    secondary_entries: frozenset[tuple[int, int]]
    """The entries hidden by secondary suppression (the others hidden are under K)."""
    k: int
    primary: int
    """Entries hidden because they are under K (or in a group under K)."""
    secondary: int
    """Entries hidden so that the first ones cannot be recomputed."""

    def cell(self, i: int, j: int) -> bool:
        return self.hidden[i][j]

    def mark(self, i: int, j: int) -> str | None:
        """How entry (i, j) reads when hidden: "< K" (under K) or `SECONDARY_MARK`; None when
        it is shown."""
        if not self.hidden[i][j]:
            return None
        return SECONDARY_MARK if (i, j) in self.secondary_entries else f"< {self.k}"

    def row_total(self, i: int) -> bool:
        return self.hidden[i][-1]

    def column_total(self, j: int) -> bool:
        return self.hidden[-1][j]

    @property
    def grand_total(self) -> bool:
        return self.hidden[-1][-1]

    @property
    def any(self) -> bool:
        return self.primary + self.secondary > 0


def _layout(
    cells: Sequence[Sequence[int]],
    row_totals: Sequence[int],
    column_totals: Sequence[int],
    grand_total: int,
) -> list[list[int]]:
    matrix = [[*row, total] for row, total in zip(cells, row_totals, strict=True)]
    matrix.append([*column_totals, grand_total])
    return matrix


def suppress(
    cells: Sequence[Sequence[int]],
    row_totals: Sequence[int],
    column_totals: Sequence[int],
    grand_total: int,
    k: int,
    *,
    additive_columns: bool = True,
) -> Suppressed:
    """The entries to hide so that no count under `k` can be read or recomputed."""
    matrix = _layout(cells, row_totals, column_totals, grand_total)
    rows, columns = len(matrix), len(matrix[0])
    hidden = [[False] * columns for _ in range(rows)]
    if k <= 1:
        return Suppressed(tuple(tuple(r) for r in hidden), frozenset(), k, 0, 0)
    for i in range(rows):
        for j in range(columns):
            if 0 < matrix[i][j] < k:
                hidden[i][j] = True
    for j in range(columns - 1):
        if column_totals[j] < k and column_totals[j] > 0:
            for i in range(rows):
                hidden[i][j] = True
    primary = sum(map(sum, hidden))

    lines: list[list[tuple[int, int]]] = [[(i, j) for j in range(columns)] for i in range(rows)]
    if additive_columns:
        lines += [[(i, j) for i in range(rows)] for j in range(columns)]
    secondary = 0
    second: set[tuple[int, int]] = set()
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[i][j] for i, j in line) != 1:
                continue
            pick = _second(line, matrix, hidden, rows, columns)
            if pick is None:
                continue
            hidden[pick[0]][pick[1]] = True
            second.add(pick)
            secondary += 1
            changed = True
    return Suppressed(tuple(tuple(r) for r in hidden), frozenset(second), k, primary, secondary)


def _second(
    line: list[tuple[int, int]],
    matrix: list[list[int]],
    hidden: list[list[bool]],
    rows: int,
    columns: int,
) -> tuple[int, int] | None:
    """The entry of `line` to hide beside its only hidden one."""

    def rank(entry: tuple[int, int]) -> tuple[int, int, int, int, int]:
        i, j = entry
        value = matrix[i][j]
        margin = (i == rows - 1) + (j == columns - 1)
        return (value <= 0, margin, value, i, j)

    visible = [e for e in line if not hidden[e[0]][e[1]]]
    return min(visible, key=rank) if visible else None


def suppress_counts(counts: Sequence[int], total: int, k: int, *, additive: bool) -> Suppressed:
    """One distribution (categories and the number who answered) as a one-column table."""
    return suppress(
        [[n] for n in counts],
        list(counts),
        [total],
        total,
        k,
        additive_columns=additive,
    )
