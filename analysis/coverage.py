"""Coverage of the questionnaire's `targets:`: for each group of the population (companies,
public actors...), how many submitted responses it has against the number expected, and the share
it makes of the responses against its share of the population; the groups furthest behind, with
the `--where` that reaches them in a broadcast.

Pure: it takes the number of submitted responses per option of the target question.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from dialogs.model import TargetGroup, Targets


@dataclass(frozen=True, slots=True)
class GroupCoverage:
    group: TargetGroup
    submitted: int
    expected: int | None
    """The expected count (`expected:`), None when the targets give shares."""
    population_share: float
    """The group's share of the population (its expected count over all, or its `share:`)."""
    response_share: float
    """The group's share of the submitted responses that fall in a group (the answers outside
    every group, such as "other", left out so that shares compare with the population's)."""
    where: str
    """The broadcast condition that reaches the group (`consultbot broadcast --where`)."""

    @property
    def rate(self) -> float | None:
        """Submitted / expected (None without an expected count)."""
        return self.submitted / self.expected if self.expected else None

    @property
    def representation(self) -> float:
        """Response share / population share: 1 is on target, below 1 under-represented."""
        return self.response_share / self.population_share if self.population_share else 0.0


@dataclass(frozen=True, slots=True)
class Coverage:
    question_id: str
    groups: tuple[GroupCoverage, ...]
    answered: int
    """Submitted responses that answered the target question (any option)."""
    outside: int
    """Of those, responses whose option is in no group."""

    def behind(self, tolerance: float = 0.9) -> list[GroupCoverage]:
        """The under-represented groups (representation below `tolerance`), the furthest behind
        first."""
        late = [g for g in self.groups if g.representation < tolerance]
        return sorted(late, key=lambda g: (g.representation, g.group.id))


def where_for(question_id: str, options: tuple[str, ...]) -> str:
    """The `show_if`-language condition that matches these options of the question."""
    if len(options) == 1:
        return f"{question_id} == {json.dumps(options[0])}"
    return f"{question_id} in [{', '.join(json.dumps(o) for o in options)}]"


def compute_coverage(targets: Targets, submitted_by_option: Mapping[str, int]) -> Coverage:
    """Coverage from the number of submitted responses per option of the target question."""
    groups = targets.groups
    total_expected = sum(g.expected or 0 for g in groups)
    answered = sum(submitted_by_option.values())
    counts = [sum(submitted_by_option.get(o, 0) for o in group.options) for group in groups]
    in_groups = sum(counts)
    rows = []
    for group, submitted in zip(groups, counts, strict=True):
        if group.expected is not None:
            population = group.expected / total_expected if total_expected else 0.0
        else:
            population = group.share or 0.0
        rows.append(
            GroupCoverage(
                group=group,
                submitted=submitted,
                expected=group.expected,
                population_share=population,
                response_share=submitted / in_groups if in_groups else 0.0,
                where=where_for(targets.question_id, group.options),
            )
        )
    return Coverage(targets.question_id, tuple(rows), answered, answered - in_groups)
