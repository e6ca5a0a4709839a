"""What admins see of the stats: a short text (Telegram and `consultbot stats`) and the charts,
drawn by one engine, matplotlib (no display needed), for both outputs:

- Telegram (`stats_charts`): PNG images, tall and with big fonts so that they stay readable on a
  phone: one column of panels, 9 inches wide at 110 dpi (about 1,000 pixels), labels cut to a few
  words. Telegram wants width + height ≤ 10,000 pixels and a ratio ≤ 20, so the panels are spread
  over several images of at most `PANELS_PER_IMAGE`.
- the HTML report (`svg_bar_chart`): one inline SVG element per question, text kept as text
  (`svg.fonttype: none`, so it can be read, searched and zoomed), with a title and a description
  giving every bar's figure for screen readers; each bar is a `<g class="bar">` carrying its
  category (`data-key`) and count (`data-count`, or `data-hidden` when suppressed).

Dollar signs in labels are plain text (`text.parse_math` off), in both.
"""

from __future__ import annotations

import html
import io
import logging
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.stats import REVIEW, Distribution, Stats
from bot.i18n import t
from dialogs.model import Question, QuestionType

log = logging.getLogger(__name__)

PANELS_PER_IMAGE = 4
WIDTH_INCHES = 9.0
PANEL_INCHES = 4.2
DPI = 110
FONT_SIZE = 15
LABEL_CHARS = 28
TOP_BARS = 15
"""Values charted one by one for a closed question; the others share one bar."""


def _short(text: str, width: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def question_label(question: Question, language: str) -> str:
    return f"Q{question.index + 1}"


def value_label(question: Question, key: str, language: str) -> str:
    if question.type is QuestionType.CONSENT:
        return t(language, "stats.consent_yes") if key == "yes" else key
    if question.type is QuestionType.SCALE:
        return key
    option = question.option(key)
    if option is None:
        return key
    label = option.label.get(language) or t(language, "stats.other")
    return _short(label)


def format_stats(stats: Stats, language: str, *, top: int = 3) -> str:
    """The short text: counts, completion, where drafts stopped, the latest days."""
    rate = stats.completion_rate
    lines = [
        t(language, "stats.title"),
        t(
            language,
            "stats.counts",
            participants=stats.participants,
            started=stats.started,
            submitted=stats.submitted,
            drafts=stats.counts.get("draft", 0),
            not_started=stats.not_started,
            blocked=stats.blocked,
        ),
        t(
            language,
            "stats.completion",
            rate="—" if rate is None else f"{rate:.0%}",
        ),
        t(
            language,
            "stats.channels",
            telegram=stats.channels.get("telegram", 0),
            web=stats.channels.get("web", 0),
        ),
    ]
    stopped = sorted((item for item in stats.drop_off if item[1]), key=lambda i: -i[1])[:top]
    if stopped:
        parts = []
        for qid, count in stopped:
            if qid == REVIEW:
                parts.append(f"{t(language, 'stats.review')} : {count}")
            else:
                parts.append(f"Q{_index(stats, qid)} : {count}")
        lines.append(t(language, "stats.drop_off", where=", ".join(parts)))
    if stats.answers_per_day:
        recent = ", ".join(f"{d.isoformat()} : {n}" for d, n in stats.answers_per_day[-3:])
        lines.append(t(language, "stats.per_day", days=recent))
    return "\n".join(lines)


def top_counts(dist: Distribution, language: str) -> list[tuple[str, int]]:
    """(label, count) of a distribution; past TOP_BARS + 1 values (a long list), the TOP_BARS most
    chosen and one "n others" line with the count of the rest."""
    labelled = [(value_label(dist.question, key, language), count) for key, count in dist.counts]
    if len(labelled) <= TOP_BARS + 1:
        return labelled
    ranked = sorted(labelled, key=lambda item: -item[1])
    rest = ranked[TOP_BARS:]
    others = t(language, "stats.others", n=len(rest))
    return [*ranked[:TOP_BARS], (others, sum(count for _, count in rest))]


def format_distributions(stats: Stats, language: str) -> str:
    """Every closed question's counts as text (the command line shows this under the summary)."""
    lines: list[str] = []
    for dist in stats.distributions:
        question = dist.question
        title = _short(question.text.get(language), 70)
        lines.append(f"Q{question.index + 1} {title} (n={dist.answered})")
        for key, count in dist.counts:  # every value, a long list's too (its chart: the top 15)
            line = f"    {value_label(question, key, language):<30} {count}"
            if question.type is QuestionType.RANKING:
                score = dist.tally.score.get(key, 0)
                line += " " + t(language, "analysis.ranking", score=score)
            lines.append(line)
    return "\n".join(lines)


def format_crosstabs(stats: Stats, language: str, min_cell: int) -> str:
    """Every closed question by the groups of the stats' grouping question (`stats --by`)."""
    from analysis.crosstab import build
    from analysis.tally import NO_GROUP
    from bot.tables import format_crosstab, group_name

    tallies = stats.tallies
    if tallies is None or tallies.by is None:
        return ""
    by = tallies.by
    fallback = tallies.survey.default_language
    has_no_group = tallies.groups.get(NO_GROUP, 0) > 0
    title = (
        t(language, "analysis.by", group=group_name(by), k=min_cell)
        if min_cell > 1
        else t(language, "analysis.by_all", group=group_name(by))
    )
    blocks = [title]
    for tally in tallies.closed():
        if tally.question is by:
            continue
        table = build(tally, by, has_no_group=has_no_group, min_cell=min_cell)
        blocks.append(format_crosstab(table, language, fallback))
    return "\n\n".join(blocks)


def _index(stats: Stats, question_id: str) -> int:
    for dist in stats.distributions:
        if dist.question.id == question_id:
            return dist.question.index + 1
    for index, (qid, _) in enumerate(stats.drop_off):
        if qid == question_id:
            return index + 1
    return 0


# -- charts ------------------------------------------------------------------------------------


def _barh(ax: Axes, labels: list[str], values: list[int], title: str) -> None:
    positions = list(range(len(labels)))
    ax.barh(positions, values, color="#3367d6")
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_title("\n".join(textwrap.wrap(title, 42)), loc="left", fontweight="bold")
    top = max(values, default=0)
    for y, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.01, y, str(value), va="center")
    ax.set_xlim(0, max(1, top) * 1.15)
    ax.spines[["top", "right"]].set_visible(False)


def _overview_panels(stats: Stats, language: str) -> list[tuple[str, list[str], list[int]]]:
    panels = [
        (
            t(language, "stats.chart.status"),
            [
                t(language, "stats.chart.not_started"),
                t(language, "stats.chart.drafts"),
                t(language, "stats.chart.submitted"),
            ],
            [stats.not_started, stats.counts.get("draft", 0), stats.submitted],
        )
    ]
    stopped = [(qid, n) for qid, n in stats.drop_off if n]
    if stopped:
        panels.append(
            (
                t(language, "stats.chart.drop_off"),
                [
                    t(language, "stats.review") if qid == REVIEW else f"Q{_index(stats, qid)}"
                    for qid, _ in stopped
                ],
                [n for _, n in stopped],
            )
        )
    if stats.answers_per_day:
        days = stats.answers_per_day[-14:]
        panels.append(
            (
                t(language, "stats.chart.per_day"),
                [d.strftime("%d/%m") for d, _ in days],
                [n for _, n in days],
            )
        )
    return panels


def _distribution_panel(dist: Distribution, language: str) -> tuple[str, list[str], list[int]]:
    question = dist.question
    title = f"Q{question.index + 1} · {_short(question.text.get(language), 80)} (n={dist.answered})"
    counts = top_counts(dist, language)
    return (title, [label for label, _ in counts], [count for _, count in counts])


def _figure(panels: list[tuple[str, list[str], list[int]]]) -> bytes:
    heights = [max(1.9, 1.0 + 0.48 * len(labels)) for _, labels, _ in panels]
    with plt.rc_context(
        {"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "text.parse_math": False}
    ):
        fig: Figure = plt.figure(figsize=(WIDTH_INCHES, sum(heights) + 0.4 * len(panels)))
        try:
            axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights})
            if len(panels) == 1:
                axes = [axes]
            for ax, (title, labels, values) in zip(axes, panels, strict=True):
                _barh(ax, labels, values, title)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=DPI)
        finally:
            plt.close(fig)
    return buffer.getvalue()


def stats_charts(stats: Stats, language: str) -> list[bytes]:
    """The charts as PNG images: the overview first, then the closed questions."""
    panels = _overview_panels(stats, language) + [
        _distribution_panel(d, language) for d in stats.distributions
    ]
    images = [
        _figure(panels[i : i + PANELS_PER_IMAGE]) for i in range(0, len(panels), PANELS_PER_IMAGE)
    ]
    log.info("drew %d stats charts (%d panels)", len(images), len(panels))
    return images


# -- the report's charts (inline SVG) ------------------------------------------------------------

SVG_WIDTH = 760
"""Pixels (the figure is drawn at 72 dpi, where a point is a pixel)."""
LABEL_WIDTH = 300
BAR_AREA = 330
"""The longest bar, in pixels, when the values beside the bars are short."""
NOTE_CHAR_WIDTH = 7.2
"""An upper estimate of a character's width in the 12.5 px font of the values."""
SVG_FONT_PX = 12.5
SVG_LABEL_CHARS = 44
LINE_HEIGHT = 16
BAR_HEIGHT = 18
ROW_GAP = 10
BAR_COLOUR = "#2f6fb2"
TEXT_COLOUR = "#1d2330"
VALUE_COLOUR = "#3c4556"
_MATPLOTLIB_IDS = re.compile(r' id="(?:figure|axes|patch|text|line2d|matplotlib\.axis)_\d+"')


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    note: str
    key: str = ""
    """The category (`analysis.tally`), in the page as `data-key` for tools and tests."""
    count: int | None = None
    """The count shown (None: hidden, or not a count)."""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _label_lines(label: str) -> list[str]:
    lines = textwrap.wrap(label, SVG_LABEL_CHARS) or [""]
    if len(lines) > 3:
        rest = textwrap.shorten(" ".join(lines[2:]), SVG_LABEL_CHARS, placeholder="…")
        lines = [*lines[:2], rest]
    return lines


def svg_bar_chart(
    bars: Sequence[Bar], *, title: str, chart_id: str, css_class: str = "chart"
) -> str:
    """A horizontal bar chart as an inline SVG element: labels wrapped on the left, each bar's
    figure on its right. `chart_id` (unique in the page) prefixes the element ids."""
    largest = max((bar.value for bar in bars), default=0) or 1
    longest_note = max((len(bar.note) for bar in bars), default=0) * NOTE_CHAR_WIDTH + 12
    area = max(120.0, min(BAR_AREA, SVG_WIDTH - LABEL_WIDTH - longest_note))
    rows: list[tuple[Bar, list[str], float, float]] = []
    y = 4.0
    for bar in bars:
        lines = _label_lines(bar.label)
        height = max(BAR_HEIGHT, len(lines) * LINE_HEIGHT)
        rows.append((bar, lines, y, height))
        y += height + ROW_GAP
    total = y
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": chart_id,
            "text.parse_math": False,
            "font.size": SVG_FONT_PX,
            "font.family": "sans-serif",
        }
    ):
        fig = Figure(figsize=(SVG_WIDTH / 72, total / 72), dpi=72)
        fig.patch.set_visible(False)  # the page's background
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, SVG_WIDTH)
        ax.set_ylim(total, 0)
        ax.set_axis_off()
        for i, (bar, lines, top, row_height) in enumerate(rows):
            width = area * bar.value / largest if bar.value > 0 else 0.0
            middle = top + row_height / 2
            (rect,) = ax.barh(
                middle,
                width,
                height=BAR_HEIGHT,
                left=LABEL_WIDTH,
                color=BAR_COLOUR,
                linewidth=0,
                clip_on=False,  # no clip path: nothing in the page refers to url(…)
            )
            rect.set_gid(f"{chart_id}-bar-{i}")
            first_line = top + (row_height - len(lines) * LINE_HEIGHT) / 2 + 12
            for k, line in enumerate(lines):  # one element per line, anchored at its end
                ax.text(
                    LABEL_WIDTH - 8,
                    first_line + k * LINE_HEIGHT,
                    line,
                    ha="right",
                    va="baseline",
                    color=TEXT_COLOUR,
                )
            bar_top = top + (row_height - BAR_HEIGHT) / 2
            ax.text(
                LABEL_WIDTH + width + 6, bar_top + 13, bar.note, va="baseline", color=VALUE_COLOUR
            )
        buffer = io.StringIO()
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return _inline(
        buffer.getvalue(), rows, title=title, chart_id=chart_id, css_class=css_class, height=total
    )


def _inline(
    drawn: str,
    rows: Sequence[tuple[Bar, list[str], float, float]],
    *,
    title: str,
    chart_id: str,
    css_class: str,
    height: float,
) -> str:
    """matplotlib's SVG document as an element of the page: no XML prologue, metadata or global
    style; our own opening tag (role, title, description); ids unique in the page; the bars'
    data attributes."""
    body = drawn[drawn.index(">", drawn.index("<svg")) + 1 :]
    body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)
    body = re.sub(r"<style[^>]*>.*?</style>", "", body, flags=re.S)
    body = re.sub(r"<defs>\s*</defs>", "", body)
    body = _MATPLOTLIB_IDS.sub("", body)
    for i, (bar, _, _, _) in enumerate(rows):
        data = ""
        if bar.key:
            data = f' data-key="{_esc(bar.key)}"'
            data += f' data-count="{bar.count}"' if bar.count is not None else ' data-hidden="1"'
        body = body.replace(
            f'<g id="{chart_id}-bar-{i}">',
            f'<g class="bar"{data} id="{_esc(chart_id)}-bar-{i}">'
            f"<title>{_esc(bar.label)}: {_esc(bar.note)}</title>",
            1,
        )
    description = "; ".join(f"{bar.label}: {bar.note}" for bar, _, _, _ in rows)
    ident = _esc(chart_id)
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" width="{SVG_WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {SVG_WIDTH} {height:.0f}">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
        f'<desc id="{ident}-desc">{_esc(description)}</desc>' + body
    )
