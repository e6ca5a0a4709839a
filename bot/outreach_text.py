"""The outreach part of `/stats` and `consultbot stats`: participants by invitation source, the
organisations identified and those with several submitted responses (listed, never merged), and
the coverage of the questionnaire's targets."""

from __future__ import annotations

from analysis.coverage import Coverage
from bot.i18n import t
from bot.outreach import Outreach
from storage.outreach import NO_SOURCE


def format_outreach(outreach: Outreach, language: str, *, top: int | None = 10) -> str:
    """The text, or "" when there is nothing to say (no links, no organisation question).
    `top`: at most this many sources and organisations with several responses (None: all of
    them; Telegram's messages hold 4,096 characters)."""
    blocks: list[str] = []
    if outreach.sources:
        lines = [t(language, "stats.sources")]
        sources = outreach.sources if top is None else outreach.sources[:top]
        for row in sources:
            name = row.source if row.source != NO_SOURCE else t(language, "stats.no_source")
            lines.append(
                t(
                    language,
                    "stats.source_line",
                    source=name,
                    participants=row.participants,
                    started=row.started,
                    submitted=row.submitted,
                )
            )
        if len(sources) < len(outreach.sources):
            lines.append(
                t(language, "stats.sources_more", count=len(outreach.sources) - len(sources))
            )
        blocks.append("\n".join(lines))
    found = outreach.organisations
    if found.asked:
        lines = [
            t(
                language,
                "stats.organisations",
                organisations=found.organisations,
                identified=found.identified,
            )
        ]
        if found.duplicates:
            lines.append(t(language, "stats.duplicates", count=len(found.duplicates)))
            shown = found.duplicates if top is None else found.duplicates[:top]
            for siren, references in shown:
                lines.append(
                    t(
                        language,
                        "stats.duplicate_line",
                        siren=siren,
                        count=len(references),
                        references=", ".join(references),
                    )
                )
            if len(shown) < len(found.duplicates):
                lines.append(
                    t(language, "stats.duplicates_more", count=len(found.duplicates) - len(shown))
                )
        blocks.append("\n".join(lines))
    if outreach.coverage is not None:
        blocks.append(format_coverage(outreach.coverage, language))
    return "\n\n".join(blocks)


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"


def format_coverage(coverage: Coverage, language: str) -> str:
    """Each group: submitted / expected, and its share of the responses against its share of the
    population; then the groups furthest behind with the --where that reaches them."""
    lines = [t(language, "stats.coverage", question=coverage.question_id)]
    for row in coverage.groups:
        label = row.group.label.get(language) or row.group.id
        target = (
            t(language, "stats.coverage_count", submitted=row.submitted, expected=row.expected,
              rate=_percent(row.rate or 0.0))
            if row.expected is not None
            else t(language, "stats.coverage_submitted", submitted=row.submitted)
        )  # fmt: skip
        lines.append(
            t(
                language,
                "stats.coverage_line",
                group=label,
                target=target,
                response_share=_percent(row.response_share),
                population_share=_percent(row.population_share),
            )
        )
    behind = coverage.behind()
    if not coverage.answered:
        lines.append(t(language, "stats.coverage_none"))
    elif behind:
        lines.append(t(language, "stats.coverage_behind"))
        for row in behind:
            label = row.group.label.get(language) or row.group.id
            lines.append(t(language, "stats.coverage_reach", group=label, where=row.where))
    else:
        lines.append(t(language, "stats.coverage_ok"))
    return "\n".join(lines)
