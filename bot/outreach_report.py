"""The outreach section of the HTML report (`consultbot report`): participants by invitation
source, the organisations identified (counts only: numbers are not published), and coverage of
the questionnaire's `targets:` with the groups furthest behind."""

from __future__ import annotations

import html

from bot.i18n import Words
from bot.outreach import Outreach
from storage.outreach import NO_SOURCE


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def outreach_html(outreach: Outreach, language: str) -> str:
    """The section, or "" when there is nothing to show."""
    words = Words(language, "outreach")
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
