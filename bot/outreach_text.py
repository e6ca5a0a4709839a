"""The outreach part of `/stats` and `consultbot stats`: participants by invitation source, the
organisations identified and those with several submitted responses (listed, never merged), and
the coverage of the questionnaire's targets."""

from __future__ import annotations

from bot.i18n import t
from storage.outreach import NO_SOURCE, Outreach


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
    return "\n\n".join(blocks)
