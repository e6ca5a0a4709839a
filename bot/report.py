"""A self-contained HTML report of a survey: counts, a chart per closed question, the free texts.

    await write_report(store, ReportOptions(out=Path("report.html"), language="fr"))

One HTML file that needs nothing else to open (no script, no font, no network): inline CSS and
inline SVG bar charts drawn by matplotlib (`bot.charts.svg_bar_chart`, the engine of the Telegram
charts too). The responses are read in batches from `Store.stream_responses` and only counted (a
`Counter` per question), so memory stays flat as responses grow; free texts are kept up to
`text_limit` per question (the rest are counted, and are in the export).

What each chart shows:

- single_choice, scale: how many respondents gave each option or point (% of those who answered);
- multi_choice: how many ticked each option (% of those who answered; the bars add up to more
  than 100 %);
- ranking: a weighted score per option (with `top` ranks, rank 1 earns `top` points, rank 2
  `top - 1`, …) with the number of first choices beside it, sorted by score;
- consent: how many accepted;
- number (not a closed question, but counted): a histogram (one bar per value when there are
  few, otherwise ten equal bins between the question's bounds), with the mean.

E-mail addresses are personal data: the report gives how many were left, never the addresses.
Every text from the questionnaire or from participants is HTML-escaped. The page is written like
an export (`storage.files`): mode 0600, through a temporary file renamed into place, an existing
file replaced only with `overwrite`, a protected one never.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from analysis.crosstab import CrossTab, build
from analysis.suppress import DEFAULT_MIN_CELL, SECONDARY_MARK, suppress_counts
from analysis.tally import CONSENT_KEY, DEFAULT_TEXT_LIMIT, NO_GROUP, FreeText, Tallies, Tally
from analysis.tally import number_key as _number_key
from analysis.themes import ThemeSet
from bot.charts import Bar, svg_bar_chart
from bot.export import collect_between_batches
from bot.figures import grouping_question
from bot.i18n import Words
from bot.outreach import compute_outreach
from bot.outreach_report import outreach_html
from bot.tables import category_label, flag_text, group_label, option_label
from dialogs.model import CLOSED_TYPES, Question, QuestionType, Survey
from storage.files import NOTHING_PROTECTED, Protected, check_target, staged_text
from storage.repository import Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

TOP_BARS = 15
"""Options charted one by one for a choice question; the others share one bar."""
OTHERS_KEY = "~others"


def _strings(language: str) -> Words:
    """The report's own texts (`report.*` in the gettext catalogues)."""
    return Words(language, "report")


@dataclass(frozen=True, slots=True)
class ReportOptions:
    out: Path
    language: str | None = None
    include_drafts: bool = False
    include_preview: bool = False
    text_limit: int = DEFAULT_TEXT_LIMIT
    batch_size: int = 2000
    overwrite: bool = False
    """Replace an existing file (never a protected one)."""
    protected: Protected = NOTHING_PROTECTED
    by: str | None = None
    """A single-choice question: every closed question gets a table by its groups."""
    min_cell: int | None = None
    """Counts under it are hidden (default: 5 with `by` or `public`, else nothing hidden)."""
    public: bool = False
    """A version to publish: no count of e-mail answers, no identifier, `min_cell` 5."""
    themes: bool = False
    """Themes found in each free-text question (and each "other" text)."""

    @property
    def threshold(self) -> int:
        if self.min_cell is not None:
            return self.min_cell
        return DEFAULT_MIN_CELL if (self.by is not None or self.public) else 0


@dataclass(frozen=True, slots=True)
class ReportResult:
    path: Path
    responses: int
    charts: int
    suppressed: int = 0
    """Figures hidden (primary and secondary)."""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


class _Formatter:
    def __init__(self, language: str) -> None:
        self.language = language
        self.words = _strings(language)

    def integer(self, n: int) -> str:
        text = f"{n:,}"
        return text.replace(",", "\u202f") if self.language == "fr" else text

    def decimal(self, x: float, digits: int = 1) -> str:
        """Without thousands separators: a mean year reads 2013.5, not 2,013.5."""
        text = f"{x:.{digits}f}"
        return text.replace(".", ",") if self.language == "fr" else text

    def percent(self, part: float, whole: float) -> str:
        value = 100 * part / whole if whole else 0.0
        return f"{value:.0f}\u202f%" if self.language == "fr" else f"{value:.0f}%"


def _note(count: int, answered: int, fmt: _Formatter, mark: str | None) -> str:
    if mark is not None:
        return mark
    return f"{fmt.integer(count)} ({fmt.percent(count, answered)})"


def _bar(label: str, key: str, count: int, answered: int, fmt: _Formatter, view: _View) -> Bar:
    mark = view.hidden.get(key)
    return Bar(
        label,
        0 if mark is not None else count,
        _note(count, answered, fmt, mark),
        key,
        None if mark is not None else count,
    )


@dataclass(frozen=True, slots=True)
class _View:
    """What may be shown of a question's counts."""

    k: int = 0
    hidden: dict[str, str] = field(default_factory=dict)
    """Categories whose count is hidden → how it reads ("< K" or "x")."""
    answered: str | None = None
    """How the number who answered reads when it is hidden."""


def _view_of(tally: Tally, k: int, table: CrossTab | None) -> _View:
    """The counts of `tally` to hide: a table's row totals when there is one, else the
    distribution suppressed on its own."""
    if k <= 1:
        return _View()
    if table is not None:
        mask = table.suppressed
        last = len(table.groups)
        marks = {key: mask.mark(i, last) for i, key in enumerate(table.rows)}
        hidden = {key: mark for key, mark in marks.items() if mark is not None}
        return _View(k, hidden, mask.mark(len(table.rows), last))
    counts = tally.distribution()
    multi = tally.question.type is QuestionType.MULTI_CHOICE
    found = suppress_counts([n for _, n in counts], tally.answered, k, additive=not multi)
    marks = {key: found.mark(i, 0) for i, (key, _) in enumerate(counts)}
    hidden = {key: mark for key, mark in marks.items() if mark is not None}
    return _View(k, hidden, found.mark(len(counts), 0))


def _choice_bars(
    tally: Tally, language: str, fallback: str, fmt: _Formatter, view: _View
) -> list[Bar]:
    question = tally.question
    counts = tally.distribution()
    if len(counts) <= TOP_BARS + 1:
        return [
            _bar(option_label(question, k, language, fallback), k, n, tally.answered, fmt, view)
            for k, n in counts
        ]
    # A long list: the most chosen options, then the rest in one bar (the number of times one
    # of them was chosen: a percentage of it would mean nothing). Hidden when under K.
    ranked = sorted(counts, key=lambda item: -item[1])
    bars = [
        _bar(option_label(question, k, language, fallback), k, n, tally.answered, fmt, view)
        for k, n in ranked[:TOP_BARS]
    ]
    rest = ranked[TOP_BARS:]
    total = sum(n for _, n in rest)
    label = fmt.words["others"].format(n=len(rest))
    if view.k > 1 and total < view.k:
        bars.append(Bar(label, 0, f"< {view.k}", OTHERS_KEY, None))
    else:
        bars.append(Bar(label, total, fmt.integer(total), OTHERS_KEY, total))
    return bars


def _scale_bars(
    tally: Tally, language: str, fallback: str, fmt: _Formatter, view: _View
) -> list[Bar]:
    question = tally.question
    points = question.scale_points()
    bars = []
    for point in points:
        label = str(point)
        if point == points.start and question.min_label:
            label += " – " + question.min_label.get(language, fallback)
        elif point == points.stop - 1 and question.max_label:
            label += " – " + question.max_label.get(language, fallback)
        key = str(point)
        bars.append(_bar(label, key, tally.counts.get(key, 0), tally.answered, fmt, view))
    return bars


def _ranking_bars(
    tally: Tally, language: str, fallback: str, fmt: _Formatter, view: _View
) -> list[Bar]:
    question = tally.question
    words = fmt.words
    ordered = sorted(question.choices(), key=lambda o: (-tally.score.get(o.id, 0), o.id))
    bars = []
    for option in ordered:
        score = tally.score.get(option.id, 0)
        first = tally.counts.get(option.id, 0)
        mark = view.hidden.get(option.id) or (f"< {view.k}" if 0 < score < view.k else None)
        hidden = mark is not None
        note = (
            words["score"].format(score=mark, first=mark)
            if hidden
            else words["score"].format(score=fmt.integer(score), first=fmt.integer(first))
        )
        bars.append(
            Bar(
                option_label(question, option.id, language, fallback),
                0 if hidden else score,
                note,
                option.id,
                None if hidden else first,
            )
        )
    return bars


def _number_bars(tally: Tally, fmt: _Formatter, k: int = 0) -> list[Bar]:
    """One bar per value when there are few whole numbers, otherwise ten equal bins; with `k`,
    the bins under it are hidden like any count."""
    question = tally.question
    values = {float(key): v for key, v in tally.counts.items()}
    low = question.min if question.min is not None else tally.low
    high = question.max if question.max is not None else tally.high
    if low is None or high is None:
        return []
    integers = all(float(key).is_integer() for key in values)
    binned: list[tuple[str, int]]
    if integers and high - low <= 24:
        binned = [
            (str(point), values.get(float(point), 0)) for point in range(int(low), int(high) + 1)
        ]
    else:
        bins = 10
        width = (high - low) / bins or 1
        counts = [0] * bins
        for value, count in values.items():
            index = min(bins - 1, max(0, math.floor((value - low) / width)))
            counts[index] += count
        binned = []
        for index, count in enumerate(counts):
            start = low + index * width
            end = start + width
            binned.append((f"{fmt.integer(round(start))} – {fmt.integer(round(end))}", count))
    marks: list[str | None] = [None] * len(binned)
    if k > 1:
        found = suppress_counts([n for _, n in binned], tally.answered, k, additive=True)
        marks = [found.mark(i, 0) for i in range(len(binned))]
    return [
        Bar(label, 0 if mark is not None else count, _note(count, tally.answered, fmt, mark))
        for (label, count), mark in zip(binned, marks, strict=True)
    ]


# -- the page ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
margin:0;background:#f6f7f9;color:#1d2330;line-height:1.45}
main{max-width:880px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.7em;margin:.2em 0 .3em}
h2{font-size:1.3em;margin:2em 0 .5em;padding-bottom:.2em;border-bottom:2px solid #d5dbe5}
h3{font-size:1.02em;margin:1.6em 0 .3em}
.meta{color:#5a6375;font-size:.9em;margin:.2em 0 .6em}
table.counts{border-collapse:collapse;margin:.5em 0}
table.counts td,table.counts th{border:1px solid #d5dbe5;padding:4px 12px;text-align:left}
table.counts td.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;max-width:100%;height:auto;margin:.4em 0}
.note{color:#5a6375;font-size:.85em;margin:.2em 0}
details{margin:.4em 0}
summary{cursor:pointer;color:#234e7d}
ol.texts{padding-left:1.6em;margin:.4em 0}
ol.texts li{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25em 0;padding:.2em .4em;
background:#f3f5f8;border-radius:3px}
div.crosstab{overflow-x:auto;margin:.5em 0}
table.crosstab{border-collapse:collapse;font-size:.78em;width:100%;table-layout:fixed}
table.crosstab tr:first-child th{font-size:.92em;overflow-wrap:break-word;hyphens:auto}
table.crosstab tr>th:first-child{width:17%}
table.crosstab th,table.crosstab td{border:1px solid #d5dbe5;padding:3px 6px;vertical-align:top}
table.crosstab th{text-align:left;font-weight:600;background:#f3f5f8}
table.crosstab td.n{text-align:right;font-variant-numeric:tabular-nums}
table.crosstab td.hidden{color:#8a93a5}
table.crosstab span.pct{display:block;color:#5a6375;font-size:.9em}
table.crosstab tr.n-row td,table.crosstab tr.n-row th{font-weight:600}
p.flag{margin:.3em 0;font-size:.92em}
p.flag.significant{font-weight:600;color:#8a3b00}
div.themes ol{padding-left:1.4em}
li.theme{margin:.5em 0}
ul.quotes{margin:.2em 0;color:#3c4556;font-style:italic}
"""


def _format_moment(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _texts_block(title: str, texts: Sequence[str], total: int, words: Words) -> str:
    items = "".join(f"<li>{_esc(text)}</li>" for text in texts)
    more = total - len(texts)
    tail = f'<p class="note">{_esc(words["more"].format(n=more))}</p>' if more > 0 else ""
    return (
        f"<details{' open' if total <= 50 else ''}><summary>{_esc(title)}</summary>"
        f'<ol class="texts">{items}</ol>{tail}</details>'
    )


def _texts_shown(texts: Sequence[FreeText], hidden_groups: frozenset[str]) -> list[str]:
    return [text.text for text in texts if text.group not in hidden_groups]


def _crosstab_block(table: CrossTab, language: str, fallback: str, fmt: _Formatter) -> str:
    words = fmt.words
    mask = table.suppressed
    head = "".join(
        f'<th data-group="{_esc(g)}">{_esc(group_label(table.by, g, language, fallback))}</th>'
        for g in table.groups
    )
    out = [
        f'<div class="crosstab"><table class="crosstab" data-question="{_esc(table.question.id)}"'
        f' data-by="{_esc(table.by.id)}"><tr><th></th>{head}<th>{_esc(words["total"])}</th></tr>'
    ]

    def cell(value: int, mark: str | None, percent: float | None, attributes: str) -> str:
        if mark is not None:
            return f'<td class="n hidden"{attributes} data-hidden="1">{_esc(mark)}</td>'
        shown = fmt.integer(value)
        if percent is not None:
            shown += f'<span class="pct">{fmt.percent(percent, 100)}</span>'
        return f'<td class="n"{attributes} data-count="{value}">{shown}</td>'

    for i, key in enumerate(table.rows):
        label = category_label(table.question, key, language, fallback)
        row = [f"<tr><th>{_esc(label)}</th>"]
        for j in range(len(table.groups)):
            percent = None if mask.column_total(j) else table.percent(i, j)
            row.append(cell(table.cells[i][j], mask.mark(i, j), percent, ""))
        last = len(table.groups)
        row.append(cell(table.row_totals[i], mask.mark(i, last), None, ' data-total="row"'))
        out.append("".join(row) + "</tr>")
    totals = [f'<tr class="n-row"><th>{_esc(words["n"])}</th>']
    for j in range(len(table.groups)):
        totals.append(cell(table.n[j], mask.mark(len(table.rows), j), None, ' data-total="n"'))
    totals.append(
        cell(table.total, mask.mark(len(table.rows), len(table.groups)), None, ' data-total="all"')
    )
    out.append("".join(totals) + "</tr></table></div>")
    significant = table.test is not None and table.test.significant
    out.append(
        f'<p class="flag{" significant" if significant else ""}">'
        f"{_esc(flag_text(table, language))}</p>"
    )
    if table.question.type is QuestionType.MULTI_CHOICE:
        out.append(f'<p class="note">{_esc(words["crosstab_multi"])}</p>')
    return "".join(out)


def _themes_block(
    found: ThemeSet,
    texts: Sequence[FreeText],
    groups: Sequence[str],
    hidden_groups: frozenset[str],
    by: Question | None,
    language: str,
    fallback: str,
    fmt: _Formatter,
    k: int = 0,
) -> str:
    words = fmt.words
    if not found.themes:
        return ""
    parts = [
        f'<div class="themes"><p class="theme-title">'
        f"{_esc(words['themes'].format(n=fmt.integer(found.documents)))}</p><ol>"
    ]
    shown_groups = [g for g in groups if g not in hidden_groups]
    for theme in found.themes:
        quotes = [
            texts[index].text
            for index in theme.representatives
            if texts[index].group not in hidden_groups
        ][:3]
        line = words["theme_line"].format(
            terms=", ".join(theme.terms),
            share=fmt.percent(theme.count, found.documents),
            n=fmt.integer(theme.count),
        )
        item = [
            f'<li class="theme" data-theme="{theme.id}" data-terms="{_esc(" ".join(theme.terms))}"'
            f' data-count="{theme.count}"><b>{_esc(line)}</b>'
        ]
        if quotes:
            item.append(
                '<ul class="quotes">' + "".join(f"<li>{_esc(q)}</li>" for q in quotes) + "</ul>"
            )
        if by is not None and shown_groups:
            shares = []
            for g in shown_groups:
                total = found.group_documents.get(g, 0)
                if not total or total < k:  # a share of fewer than K answers is not shown
                    continue
                count = theme.by_group.get(g, 0)
                label = group_label(by, g, language, fallback)
                shares.append(f"{label}: {fmt.percent(count, total)}")
            item.append(f'<p class="note">{_esc(" · ".join(shares))}</p>')
        parts.append("".join(item) + "</li>")
    parts.append("</ol>")
    if found.unassigned:
        parts.append(
            f'<p class="note">{_esc(words["no_theme"].format(n=fmt.integer(found.unassigned)))}</p>'
        )
    parts.append("</div>")
    return "".join(parts)


@dataclass
class _Context:
    """What every question block needs to know of the report as a whole."""

    language: str
    fallback: str
    fmt: _Formatter
    covered: int
    k: int
    public: bool
    tallies: Tallies
    hidden_groups: frozenset[str] = frozenset()
    themes: dict[tuple[str, str], ThemeSet] = field(default_factory=dict)
    """(question id, "text" or "other") → themes found."""
    primary: int = 0
    secondary: int = 0
    texts_hidden: int = 0


def _suppression_block(ctx: _Context) -> str:
    words = ctx.fmt.words
    parts = [f'<section id="suppression"><h2>{_esc(words["suppressed_title"])}</h2>']
    if ctx.primary + ctx.secondary:
        parts.append(
            "<p>"
            + _esc(
                words["suppressed_note"].format(
                    k=ctx.k,
                    primary=ctx.fmt.integer(ctx.primary),
                    secondary=ctx.fmt.integer(ctx.secondary),
                )
            )
            + "</p>"
        )
    else:
        parts.append(f"<p>{_esc(words['suppressed_none'].format(k=ctx.k))}</p>")
    if ctx.hidden_groups and ctx.tallies.by is not None:
        labels = ", ".join(
            group_label(ctx.tallies.by, g, ctx.language, ctx.fallback)
            for g in sorted(ctx.hidden_groups)
        )
        parts.append(
            f"<p>{_esc(words['groups_hidden'].format(k=ctx.k, groups=labels))}</p>"
            f"<p>{_esc(words['texts_hidden'].format(n=ctx.fmt.integer(ctx.texts_hidden)))}</p>"
        )
    if ctx.public:
        parts.append(f"<p>{_esc(words['public'])}</p>")
    parts.append("</section>")
    return "".join(parts)


def render_report(
    survey: Survey,
    tallies: Tallies,
    counts: dict[str, int],
    *,
    language: str,
    include_drafts: bool,
    now: datetime,
    k: int = 0,
    public: bool = False,
    themes: bool = False,
    outreach: str = "",
) -> tuple[str, int, int]:
    """The HTML page, how many charts it holds and how many figures it hides."""
    fmt = _Formatter(language)
    words = fmt.words
    fallback = survey.default_language
    zone = ZoneInfo(survey.timezone)
    title = survey.title.get(language, fallback)
    covered = tallies.responses
    ctx = _Context(language, fallback, fmt, covered, k, public, tallies)
    if tallies.by is not None and k > 1:
        ctx.hidden_groups = frozenset(g for g, n in tallies.groups.items() if 0 < n < k)
    if themes:
        ctx.themes = _find_all_themes(tallies)
    out: list[str] = [
        f'<!DOCTYPE html><html lang="{_esc(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)} — {_esc(words['report'])}</title><style>{_CSS}</style></head>"
        f'<body><main><h1>{_esc(title)}</h1><p class="meta">'
        + _esc(
            words["window"].format(
                opens=_format_moment(survey.opens_at, zone),
                closes=_format_moment(survey.closes_at, zone),
                zone=survey.timezone,
            )
        )
        + "<br>"
        + _esc(words["generated"].format(now=_format_moment(now, zone)))
        + "</p>",
        f'<h2>{_esc(words["counts"])}</h2><table class="counts"><tr><th>'
        f"{_esc(words['status'])}</th><th>{_esc(words['count'])}</th></tr>",
    ]
    for status in ("submitted", "draft", "preview"):
        value = counts.get(status, 0)
        shown = f"&lt;&#8239;{k}" if 0 < value < k else fmt.integer(value)
        out.append(
            f'<tr><td>{_esc(words[status])}</td><td class="n" data-status="{status}">'
            f"{shown}</td></tr>"
        )
    out.append("</table>")
    which = words["which_drafts"] if include_drafts else words["which_submitted"]
    out.append(
        f'<p class="meta" id="covered" data-count="{covered}">'
        f"{_esc(words['included'].format(count=fmt.integer(covered), which=which))}<br>"
        + _esc(
            words["channels"].format(
                telegram=fmt.integer(tallies.channels.get("telegram", 0)),
                web=fmt.integer(tallies.channels.get("web", 0)),
            )
        )
        + "</p>"
    )
    out.append(outreach)  # sources, organisations, coverage (`bot.outreach_report`)
    if tallies.by is not None:
        by_text = tallies.by.text.get(language, fallback)
        out.append(f'<p class="meta" id="by">{_esc(words["by"].format(question=by_text))}</p>')
    marker = len(out)
    charts = 0
    number = 0
    for section in survey.sections:
        out.append(f"<h2>{_esc(section.title.get(language, fallback))}</h2>")
        for question in section.questions:
            number += 1
            tally = tallies.tallies[question.id]
            block, drawn = _question_block(question, tally, number, ctx)
            charts += drawn
            out.append(block)
    if k > 1 or public:
        out.insert(marker, _suppression_block(ctx))
    out.append("</main></body></html>\n")
    return "".join(out), charts, ctx.primary + ctx.secondary


def _find_all_themes(tallies: Tallies) -> dict[tuple[str, str], ThemeSet]:
    from analysis.themes import find_themes

    found: dict[tuple[str, str], ThemeSet] = {}
    for tally in tallies.tallies.values():
        if not tally.texts or tally.question.type is QuestionType.EMAIL:
            continue
        kind = "text" if tally.question.type is QuestionType.TEXT else "other"
        texts = tally.texts
        found[tally.question.id, kind] = find_themes(
            [x.text for x in texts],
            languages=[x.language for x in texts],
            groups=[x.group for x in texts],
        )
    return found


def _question_block(
    question: Question, tally: Tally, number: int, ctx: _Context
) -> tuple[str, int]:
    fmt, language, fallback, k = ctx.fmt, ctx.language, ctx.fallback, ctx.k
    words = fmt.words
    text = question.text.get(language, fallback)
    qtype = question.type
    table: CrossTab | None = None
    by = ctx.tallies.by
    if by is not None and qtype in CLOSED_TYPES and question is not by:
        table = build(tally, by, has_no_group=ctx.tallies.groups.get(NO_GROUP, 0) > 0, min_cell=k)
        ctx.primary += table.suppressed.primary
        ctx.secondary += table.suppressed.secondary
    view = _view_of(tally, k, table)
    if table is None and k > 1 and qtype in CLOSED_TYPES:
        ctx.primary += sum(1 for m in view.hidden.values() if m != SECONDARY_MARK)
        ctx.secondary += sum(1 for m in view.hidden.values() if m == SECONDARY_MARK)
        ctx.primary += view.answered is not None
    answered = view.answered if view.answered is not None else fmt.integer(tally.answered)
    details = [
        qtype.value,
        words["answered"].format(n=answered),
    ]
    if view.answered is None:
        details.append(words["of_responses"].format(pct=fmt.percent(tally.answered, ctx.covered)))
    if question.show_if is not None:
        details.append(words["shown_if"])
    if not question.required:
        details.append(words["optional"])
    parts = [
        f'<section class="question" id="q-{_esc(question.id)}" data-type="{qtype.value}">'
        f"<h3>{number}. {_esc(text)}</h3>"
        f'<p class="meta">{_esc(" · ".join(details))}</p>'
    ]
    bars: list[Bar] = []
    note = ""
    if qtype is QuestionType.SINGLE_CHOICE:
        bars = _choice_bars(tally, language, fallback, fmt, view)
        note = words["percent_base"]
    elif qtype is QuestionType.MULTI_CHOICE:
        bars = _choice_bars(tally, language, fallback, fmt, view)
        note = words["multi_note"]
    if qtype in (QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE):
        options = len(question.choices())
        if options > TOP_BARS + 1:
            note += " · " + words["top_note"].format(top=TOP_BARS, n=options - TOP_BARS)
    if qtype is QuestionType.RANKING:
        bars = _ranking_bars(tally, language, fallback, fmt, view)
        note = words["ranking_note"].format(top=question.top)
    elif qtype is QuestionType.SCALE:
        bars = _scale_bars(tally, language, fallback, fmt, view)
        note = words["percent_base"]
    elif qtype is QuestionType.CONSENT:
        label = category_label(question, CONSENT_KEY, language, fallback)
        count = tally.counts.get(CONSENT_KEY, 0)
        bars = [_bar(label, CONSENT_KEY, count, tally.answered, fmt, view)]
    elif qtype is QuestionType.NUMBER:
        bars = _number_bars(tally, fmt, k)
    drawn = 0
    if bars and tally.answered:
        parts.append(svg_bar_chart(bars, title=text, chart_id=f"chart-{question.id}"))
        drawn = 1
        if qtype in (QuestionType.SCALE, QuestionType.NUMBER) and tally.answered:
            mean = tally.total / tally.answered
            if k > 1:  # the lowest and highest values are single answers
                shown = words["mean_only"].format(mean=fmt.decimal(mean, 2))
            else:
                shown = words["mean"].format(
                    mean=fmt.decimal(mean, 2),
                    low=_number_key(tally.low or 0),
                    high=_number_key(tally.high or 0),
                )
            parts.append(f'<p class="note">{_esc(shown)}</p>')
        if note:
            parts.append(f'<p class="note">{_esc(note)}</p>')
    elif not tally.answered:
        parts.append(f'<p class="note">{_esc(words["no_answer"])}</p>')
    if table is not None:
        parts.append(_crosstab_block(table, language, fallback, fmt))
    if qtype is QuestionType.ORGANISATION_ID:
        several = sum(1 for n in tally.counts.values() if n > 1)
        note = words["organisations"].format(
            n=fmt.integer(tally.answered), m=fmt.integer(len(tally.counts)), d=fmt.integer(several)
        )
        parts.append(f'<p class="note">{_esc(note)}</p>')
    elif qtype is QuestionType.EMAIL:
        if not ctx.public:
            parts.append(
                f'<p class="note">'
                f"{_esc(words['emails'].format(n=fmt.integer(tally.text_count)))}</p>"
            )
    elif tally.text_count:
        kind = "text" if qtype is QuestionType.TEXT else "other"
        found = ctx.themes.get((question.id, kind))
        if found is not None:
            groups = list(ctx.tallies.groups) if by is not None else []
            parts.append(
                _themes_block(
                    found, tally.texts, groups, ctx.hidden_groups, by, language, fallback, fmt, k
                )
            )
        quoted = _texts_shown(tally.texts[: tally.text_limit], ctx.hidden_groups)
        hidden = sum(1 for x in tally.texts if x.group in ctx.hidden_groups)
        ctx.texts_hidden += hidden
        title = words["texts" if kind == "text" else "other_texts"].format(
            n=fmt.integer(tally.text_count - hidden)
        )
        parts.append(_texts_block(title, quoted, tally.text_count - hidden, words))
    parts.append("</section>")
    return "".join(parts), drawn


async def write_report(
    store: Store,
    options: ReportOptions,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Count the responses in batches and write the report page to `options.out`."""
    survey = store.survey
    language = options.language or survey.default_language
    if language not in survey.languages:
        raise ValueError(
            f"language {language!r} is not one of the survey's ({', '.join(survey.languages)})"
        )
    check_target(options.out, overwrite=options.overwrite, protected=options.protected)
    if options.threshold < 0:
        raise ValueError("--min-cell must be 0 or more")
    by = grouping_question(survey, options.by)
    counts = await store.counts_by_status()
    total = counts.get("submitted", 0)
    if options.include_drafts:
        total += counts.get("draft", 0)
    if options.include_preview:
        total += counts.get("preview", 0)
    tallies = Tallies(survey, text_limit=options.text_limit, by=by, keep_all_texts=options.themes)
    if progress is not None:
        progress(0, total)
    batches = store.stream_responses(
        options.batch_size, options.include_drafts, options.include_preview
    )
    with collect_between_batches() as between_batches:
        async for batch in batches:
            for row in batch:
                tallies.add(row.answers, row.language, row.channel)
            del batch
            between_batches()
            if progress is not None:
                progress(tallies.responses, max(total, tallies.responses))
    page, charts, hidden = render_report(
        survey,
        tallies,
        counts,
        language=language,
        include_drafts=options.include_drafts,
        now=now or datetime.now(UTC),
        k=options.threshold,
        public=options.public,
        themes=options.themes,
        outreach=outreach_html(await compute_outreach(store), language),
    )
    out = options.out
    with staged_text(
        out, overwrite=options.overwrite, protected=options.protected, encoding="utf-8"
    ) as handle:
        handle.write(page)
    log.info(
        "report of %d responses of survey %s (%d charts, %d figures hidden) written to %s",
        tallies.responses,
        survey.id,
        charts,
        hidden,
        out,
    )
    return ReportResult(out, tallies.responses, charts, hidden)
