"""Outreach figures for the organisers (`/stats`, `consultbot stats`, the report): participants by
invitation source and the organisations behind the submitted responses, read by `storage`, and
the coverage of the questionnaire's `targets:`, computed by `analysis.coverage`."""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.coverage import Coverage, compute_coverage
from storage.organisations import Organisations, find_organisations
from storage.outreach import SourceCounts, source_counts, submitted_by_option
from storage.repository import Store


@dataclass(frozen=True, slots=True)
class Outreach:
    sources: list[SourceCounts] = field(default_factory=list)
    """Every source with a link (most submitted first), then NO_SOURCE; empty without links."""
    organisations: Organisations = field(default_factory=Organisations)
    coverage: Coverage | None = None
    """Against the questionnaire's `targets:`; None without them."""


async def compute_outreach(store: Store) -> Outreach:
    targets = store.survey.targets
    coverage = None
    if targets is not None:
        coverage = compute_coverage(targets, await submitted_by_option(store, targets.question_id))
    return Outreach(await source_counts(store), await find_organisations(store), coverage)
