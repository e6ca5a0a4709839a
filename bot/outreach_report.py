"""The outreach section of the HTML report (`consultbot report`): participants by invitation
source, the organisations identified (counts only: numbers are not published), and coverage of
the questionnaire's `targets:` with the groups furthest behind."""

from __future__ import annotations

import html

from bot.outreach import Outreach
from storage.outreach import NO_SOURCE

_WORDS = {
    "en": {
        "title": "Reach",
        "sources": "Participants by invitation source",
        "source": "Source",
        "participants": "Participants",
        "started": "Started",
        "submitted": "Submitted",
        "no_source": "(no link)",
        "organisations": "{m} organisations identified (SIREN) in {n} submitted responses; "
        "{d} of them with several responses (to look at; not merged).",
        "coverage": "Coverage of the targets ({question})",
        "group": "Group",
        "target": "Target",
        "rate": "Reached",
        "share_responses": "Share of responses",
        "share_population": "Share of population",
        "behind": "Furthest behind: {groups}.",
        "on_target": "Every group is within 10% of its share of the population.",
    },
    "fr": {
        "title": "Qui a répondu",
        "sources": "Participants par source d’invitation",
        "source": "Source",
        "participants": "Participants",
        "started": "Commencé",
        "submitted": "Envoyé",
        "no_source": "(sans lien)",
        "organisations": "{m} structures identifiées (SIREN) dans {n} réponses envoyées ; "
        "{d} avec plusieurs réponses (à examiner ; non fusionnées).",
        "coverage": "Couverture des objectifs ({question})",
        "group": "Groupe",
        "target": "Objectif",
        "rate": "Atteint",
        "share_responses": "Part des réponses",
        "share_population": "Part de la population",
        "behind": "Les plus en retard : {groups}.",
        "on_target": "Chaque groupe est à moins de 10 % de sa part de la population.",
    },
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def outreach_html(outreach: Outreach, language: str) -> str:
    """The section, or "" when there is nothing to show."""
    words = _WORDS.get(language, _WORDS["en"])
    parts: list[str] = []
    if outreach.sources:
        parts.append(f'<h3>{_e(words["sources"])}</h3><table class="counts" id="sources"><tr>')
        for key in ("source", "participants", "started", "submitted"):
            parts.append(f"<th>{_e(words[key])}</th>")
        parts.append("</tr>")
        for row in outreach.sources:
            name = row.source if row.source != NO_SOURCE else words["no_source"]
            parts.append(
                f"<tr><td>{_e(name)}</td><td class='n'>{row.participants}</td>"
                f"<td class='n'>{row.started}</td><td class='n'>{row.submitted}</td></tr>"
            )
        parts.append("</table>")
    found = outreach.organisations
    if found.asked:
        text = words["organisations"].format(
            m=found.organisations, n=found.identified, d=len(found.duplicates)
        )
        parts.append(f'<p class="meta" id="organisations">{_e(text)}</p>')
    coverage = outreach.coverage
    if coverage is not None:
        parts.append(
            f"<h3>{_e(words['coverage'].format(question=coverage.question_id))}</h3>"
            '<table class="counts" id="coverage"><tr>'
        )
        for key in ("group", "submitted", "target", "rate", "share_responses", "share_population"):
            parts.append(f"<th>{_e(words[key])}</th>")
        parts.append("</tr>")
        for group in coverage.groups:
            label = group.group.label.get(language) or group.group.id
            parts.append(
                f"<tr data-group='{_e(group.group.id)}'><td>{_e(label)}</td>"
                f"<td class='n'>{group.submitted}</td>"
                f"<td class='n'>{'' if group.expected is None else group.expected}</td>"
                f"<td class='n'>{'' if group.rate is None else _pct(group.rate)}</td>"
                f"<td class='n'>{_pct(group.response_share)}</td>"
                f"<td class='n'>{_pct(group.population_share)}</td></tr>"
            )
        parts.append("</table>")
        behind = coverage.behind()
        if behind and coverage.answered:
            names = ", ".join(g.group.label.get(language) or g.group.id for g in behind)
            parts.append(
                f'<p class="meta" id="behind">{_e(words["behind"].format(groups=names))}</p>'
            )
        elif coverage.answered:
            parts.append(f'<p class="meta">{_e(words["on_target"])}</p>')
    if not parts:
        return ""
    return f"<h2>{_e(words['title'])}</h2>" + "".join(parts)
