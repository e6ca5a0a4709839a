"""A self-contained HTML report of a survey: counts, a chart per closed question, the free texts.

    await write_report(store, ReportOptions(out=Path("report.html"), language="fr"))

One HTML file that needs nothing else to open (no script, no font, no network): inline CSS and
inline SVG bar charts drawn here. The responses are read in batches from `Store.stream_responses`
and only counted (a `Counter` per question), so memory stays flat as responses grow; free texts
are kept up to `text_limit` per question (the rest are counted, and are in the export).

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
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs.answers import siren_of
from dialogs.model import Question, QuestionType, Survey
from storage.codebook import option_label
from storage.export import collect_between_batches
from storage.files import NOTHING_PROTECTED, Protected, check_target, staged_text
from storage.outreach import compute_outreach
from storage.outreach_report import outreach_html
from storage.repository import ResponseRow, Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

DEFAULT_TEXT_LIMIT = 500
"""Free texts shown per question; the others are counted."""

_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "report": "Report",
        "window": "Open from {opens} to {closes} ({zone})",
        "generated": "Generated on {now}",
        "counts": "Responses by status",
        "status": "Status",
        "count": "Count",
        "submitted": "submitted",
        "draft": "drafts (not submitted)",
        "preview": "previews",
        "included": "This report covers {count} responses ({which}).",
        "which_submitted": "submitted only",
        "which_drafts": "submitted and drafts",
        "answered": "{n} answers",
        "of_responses": "{pct} of the responses covered",
        "percent_base": "percentages of those who answered the question",
        "multi_note": "several answers possible: the percentages add up to more than 100 %",
        "ranking_note": "score: {top} points for a first rank, 1 for rank {top}; "
        "the number of first choices is beside it",
        "score": "score {score} · {first} first choices",
        "mean": "mean {mean}, from {low} to {high}",
        "accepted": "Accepted",
        "other_texts": "“Other”, as written ({n})",
        "texts": "Answers ({n})",
        "more": "… and {n} more, in the export.",
        "emails": "{n} e-mail addresses were left (personal data: not shown here).",
        "organisations": "{n} organisation numbers were given: {m} organisations, {d} of them "
        "with several responses (numbers not shown here; see consultbot stats).",
        "no_answer": "No answer yet.",
        "shown_if": "asked only to some participants",
        "optional": "optional",
        "other": "Other",
        "question": "Question",
    },
    "fr": {
        "report": "Rapport",
        "window": "Ouverte du {opens} au {closes} ({zone})",
        "generated": "Produit le {now}",
        "counts": "Réponses par statut",
        "status": "Statut",
        "count": "Nombre",
        "submitted": "envoyées",
        "draft": "brouillons (non envoyées)",
        "preview": "aperçus",
        "included": "Ce rapport porte sur {count} réponses ({which}).",
        "which_submitted": "envoyées seulement",
        "which_drafts": "envoyées et brouillons",
        "answered": "{n} réponses",
        "of_responses": "{pct} des réponses prises en compte",
        "percent_base": "pourcentages calculés sur ceux qui ont répondu à la question",
        "multi_note": "plusieurs réponses possibles : le total des pourcentages dépasse 100 %",
        "ranking_note": "score : {top} points pour un premier rang, 1 pour le rang {top} ; "
        "le nombre de premiers choix est indiqué à côté",
        "score": "score {score} · {first} premiers choix",
        "mean": "moyenne {mean}, de {low} à {high}",
        "accepted": "Accepté",
        "other_texts": "« Autre », tel qu’écrit ({n})",
        "texts": "Réponses ({n})",
        "more": "… et {n} de plus, dans l’export.",
        "emails": "{n} adresses e-mail ont été laissées (données personnelles : non montrées ici).",
        "organisations": "{n} numéros de structure ont été donnés : {m} structures, dont {d} avec "
        "plusieurs réponses (numéros non montrés ici ; voir consultbot stats).",
        "no_answer": "Pas encore de réponse.",
        "shown_if": "posée à une partie des participants seulement",
        "optional": "facultative",
        "other": "Autre",
        "question": "Question",
    },
}


def _strings(language: str) -> dict[str, str]:
    return _STRINGS.get(language, _STRINGS["en"])


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


@dataclass(frozen=True, slots=True)
class ReportResult:
    path: Path
    responses: int
    charts: int


# -- counting ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the report keeps of one question's answers (bounded, whatever the number of rows)."""

    question: Question
    text_limit: int
    answered: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    first: Counter[str] = field(default_factory=Counter)
    """ranking: first choices."""
    total: float = 0.0
    low: float | None = None
    high: float | None = None
    texts: list[str] = field(default_factory=list)
    """Free texts (text questions) or "other" texts (choice questions), up to `text_limit`."""
    text_count: int = 0

    def add(self, value: object, other: str | None) -> None:
        qtype = self.question.type
        self.answered += 1
        if qtype is QuestionType.MULTI_CHOICE and isinstance(value, tuple):
            self.counts.update(value)
        elif qtype is QuestionType.RANKING and isinstance(value, tuple):
            top = self.question.top
            for rank, option_id in enumerate(value[:top]):
                self.counts[option_id] += top - rank
            if value:
                self.first[value[0]] += 1
        elif qtype in (QuestionType.NUMBER, QuestionType.SCALE) and isinstance(value, int | float):
            number = float(value)
            self.total += number
            self.low = number if self.low is None else min(self.low, number)
            self.high = number if self.high is None else max(self.high, number)
            self.counts[_number_key(value)] += 1
        elif qtype is QuestionType.TEXT:
            self._text(str(value))
        elif qtype is QuestionType.EMAIL:
            self.text_count += 1
        elif qtype is QuestionType.ORGANISATION_ID:
            siren = siren_of(value)
            if siren is not None:
                self.counts[siren] += 1
        elif qtype is QuestionType.CONSENT:
            self.counts["accept" if value is True else str(value)] += 1
        else:
            self.counts[str(value)] += 1
        if other is not None and qtype is not QuestionType.TEXT:
            self._text(other)

    def _text(self, text: str) -> None:
        self.text_count += 1
        if len(self.texts) < self.text_limit:
            self.texts.append(text)


def _number_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Aggregator:
    """Counts responses question by question, batch after batch."""

    def __init__(self, survey: Survey, text_limit: int = DEFAULT_TEXT_LIMIT) -> None:
        self.survey = survey
        self.responses = 0
        self.tallies = {q.id: Tally(q, text_limit) for q in survey.questions}

    def add(self, rows: Sequence[ResponseRow]) -> None:
        tallies = self.tallies
        for row in rows:
            self.responses += 1
            for qid, answer in row.answers.items():
                tally = tallies.get(qid)
                if tally is not None and answer.value is not None:
                    tally.add(answer.value, answer.other)


# -- charts ------------------------------------------------------------------------------------

CHART_WIDTH = 760
LABEL_WIDTH = 300
BAR_AREA = 330
"""The longest bar, in pixels, when the values beside the bars are short."""
NOTE_CHAR_WIDTH = 7.2
"""An upper estimate of a character's width in the 12.5 px font of the values."""
LABEL_CHARS = 44
LINE_HEIGHT = 16
BAR_HEIGHT = 18
ROW_GAP = 10


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    note: str


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def bar_chart(bars: Sequence[Bar], *, title: str, css_class: str = "chart") -> str:
    """A horizontal bar chart as an inline SVG element (labels wrapped on the left)."""
    largest = max((bar.value for bar in bars), default=0) or 1
    longest_note = max((len(bar.note) for bar in bars), default=0) * NOTE_CHAR_WIDTH + 12
    area = max(120.0, min(BAR_AREA, CHART_WIDTH - LABEL_WIDTH - longest_note))
    parts: list[str] = []
    y = 4
    for bar in bars:
        lines = textwrap.wrap(bar.label, LABEL_CHARS) or [""]
        if len(lines) > 3:
            lines = [
                *lines[:2],
                textwrap.shorten(" ".join(lines[2:]), LABEL_CHARS, placeholder="…"),
            ]
        height = max(BAR_HEIGHT, len(lines) * LINE_HEIGHT)
        text_y = y + (height - len(lines) * LINE_HEIGHT) / 2 + 12
        spans = "".join(
            f'<tspan x="{LABEL_WIDTH - 8}" y="{text_y + k * LINE_HEIGHT:.0f}">{_esc(line)}</tspan>'
            for k, line in enumerate(lines)
        )
        parts.append(f'<text class="label" text-anchor="end">{spans}</text>')
        width = area * bar.value / largest if bar.value > 0 else 0
        bar_y = y + (height - BAR_HEIGHT) / 2
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{bar_y:.0f}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT}" rx="2">'
            f"<title>{_esc(bar.label)}: {_esc(bar.note)}</title></rect>"
        )
        parts.append(
            f'<text class="value" x="{LABEL_WIDTH + width + 6:.1f}" y="{bar_y + 13:.0f}">'
            f"{_esc(bar.note)}</text>"
        )
        y += height + ROW_GAP
    height = y
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{_esc(title)}" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}">' + "".join(parts) + "</svg>"
    )


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


def _choice_bars(tally: Tally, language: str, fallback: str, fmt: _Formatter) -> list[Bar]:
    question = tally.question
    bars = []
    for option in question.choices():
        count = tally.counts.get(option.id, 0)
        label = option_label(question, option.id, language, fallback)
        bars.append(
            Bar(label, count, f"{fmt.integer(count)} ({fmt.percent(count, tally.answered)})")
        )
    known = {option.id for option in question.choices()}
    for option_id, count in sorted(tally.counts.items()):
        if option_id not in known:  # answers to options no longer in the file
            bars.append(Bar(option_id, count, f"{fmt.integer(count)}"))
    return bars


def _scale_bars(tally: Tally, language: str, fallback: str, fmt: _Formatter) -> list[Bar]:
    question = tally.question
    points = question.scale_points()
    bars = []
    for point in points:
        label = str(point)
        if point == points.start and question.min_label:
            label += " – " + question.min_label.get(language, fallback)
        elif point == points.stop - 1 and question.max_label:
            label += " – " + question.max_label.get(language, fallback)
        count = tally.counts.get(str(point), 0)
        bars.append(
            Bar(label, count, f"{fmt.integer(count)} ({fmt.percent(count, tally.answered)})")
        )
    return bars


def _ranking_bars(tally: Tally, language: str, fallback: str, fmt: _Formatter) -> list[Bar]:
    question = tally.question
    words = fmt.words
    ordered = sorted(question.choices(), key=lambda o: (-tally.counts.get(o.id, 0), o.id))
    return [
        Bar(
            option_label(question, option.id, language, fallback),
            tally.counts.get(option.id, 0),
            words["score"].format(
                score=fmt.integer(tally.counts.get(option.id, 0)),
                first=fmt.integer(tally.first.get(option.id, 0)),
            ),
        )
        for option in ordered
    ]


def _number_bars(tally: Tally, fmt: _Formatter) -> list[Bar]:
    question = tally.question
    values = {float(k): v for k, v in tally.counts.items()}
    low = question.min if question.min is not None else tally.low
    high = question.max if question.max is not None else tally.high
    if low is None or high is None:
        return []
    integers = all(float(k).is_integer() for k in values)
    if integers and high - low <= 24:
        return [
            Bar(
                str(point),
                values.get(float(point), 0),
                f"{fmt.integer(values.get(float(point), 0))} "
                f"({fmt.percent(values.get(float(point), 0), tally.answered)})",
            )
            for point in range(int(low), int(high) + 1)
        ]
    bins = 10
    width = (high - low) / bins or 1
    counts = [0] * bins
    for value, count in values.items():
        index = min(bins - 1, max(0, math.floor((value - low) / width)))
        counts[index] += count
    bars = []
    for index, count in enumerate(counts):
        start = low + index * width
        end = start + width
        label = f"{fmt.integer(round(start))} – {fmt.integer(round(end))}"
        bars.append(
            Bar(label, count, f"{fmt.integer(count)} ({fmt.percent(count, tally.answered)})")
        )
    return bars


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
svg.chart text{font-size:12.5px;fill:#1d2330;font-family:inherit}
svg.chart text.value{fill:#3c4556}
svg.chart rect.bar{fill:#2f6fb2}
.note{color:#5a6375;font-size:.85em;margin:.2em 0}
details{margin:.4em 0}
summary{cursor:pointer;color:#234e7d}
ol.texts{padding-left:1.6em;margin:.4em 0}
ol.texts li{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25em 0;padding:.2em .4em;
background:#f3f5f8;border-radius:3px}
"""


def _format_moment(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _texts_block(title: str, texts: Sequence[str], total: int, words: dict[str, str]) -> str:
    items = "".join(f"<li>{_esc(text)}</li>" for text in texts)
    more = total - len(texts)
    tail = f'<p class="note">{_esc(words["more"].format(n=more))}</p>' if more > 0 else ""
    return (
        f"<details{' open' if total <= 50 else ''}><summary>{_esc(title)}</summary>"
        f'<ol class="texts">{items}</ol>{tail}</details>'
    )


def render_report(
    survey: Survey,
    aggregator: Aggregator,
    counts: dict[str, int],
    *,
    language: str,
    include_drafts: bool,
    now: datetime,
    outreach: str = "",
) -> tuple[str, int]:
    """The HTML page and how many charts it holds."""
    fmt = _Formatter(language)
    words = fmt.words
    fallback = survey.default_language
    zone = ZoneInfo(survey.timezone)
    title = survey.title.get(language, fallback)
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
        out.append(
            f'<tr><td>{_esc(words[status])}</td><td class="n" data-status="{status}">'
            f"{fmt.integer(counts.get(status, 0))}</td></tr>"
        )
    out.append("</table>")
    which = words["which_drafts"] if include_drafts else words["which_submitted"]
    covered = aggregator.responses
    out.append(
        f'<p class="meta" id="covered" data-count="{covered}">'
        f"{_esc(words['included'].format(count=fmt.integer(covered), which=which))}</p>"
    )
    out.append(outreach)  # sources, organisations, coverage (`storage.outreach_report`)
    charts = 0
    number = 0
    for section in survey.sections:
        out.append(f"<h2>{_esc(section.title.get(language, fallback))}</h2>")
        for question in section.questions:
            number += 1
            tally = aggregator.tallies[question.id]
            block, drawn = _question_block(
                question, tally, number, covered, language, fallback, fmt
            )
            charts += drawn
            out.append(block)
    out.append("</main></body></html>\n")
    return "".join(out), charts


def _question_block(
    question: Question,
    tally: Tally,
    number: int,
    covered: int,
    language: str,
    fallback: str,
    fmt: _Formatter,
) -> tuple[str, int]:
    words = fmt.words
    text = question.text.get(language, fallback)
    qtype = question.type
    details = [
        qtype.value,
        words["answered"].format(n=fmt.integer(tally.answered)),
        words["of_responses"].format(pct=fmt.percent(tally.answered, covered)),
    ]
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
        bars = _choice_bars(tally, language, fallback, fmt)
        note = words["percent_base"]
    elif qtype is QuestionType.MULTI_CHOICE:
        bars = _choice_bars(tally, language, fallback, fmt)
        note = words["multi_note"]
    elif qtype is QuestionType.RANKING:
        bars = _ranking_bars(tally, language, fallback, fmt)
        note = words["ranking_note"].format(top=question.top)
    elif qtype is QuestionType.SCALE:
        bars = _scale_bars(tally, language, fallback, fmt)
        note = words["percent_base"]
    elif qtype is QuestionType.CONSENT:
        label = question.accept_label.get(language, fallback) or words["accepted"]
        count = tally.counts.get("accept", 0)
        bars = [Bar(label, count, f"{fmt.integer(count)} ({fmt.percent(count, tally.answered)})")]
    elif qtype is QuestionType.NUMBER:
        bars = _number_bars(tally, fmt)
    drawn = 0
    if bars and tally.answered:
        parts.append(bar_chart(bars, title=text))
        drawn = 1
        if qtype in (QuestionType.SCALE, QuestionType.NUMBER) and tally.answered:
            mean = tally.total / tally.answered
            parts.append(
                '<p class="note">'
                + _esc(
                    words["mean"].format(
                        mean=fmt.decimal(mean, 2),
                        low=_number_key(tally.low or 0),
                        high=_number_key(tally.high or 0),
                    )
                )
                + "</p>"
            )
        if note:
            parts.append(f'<p class="note">{_esc(note)}</p>')
    elif not tally.answered:
        parts.append(f'<p class="note">{_esc(words["no_answer"])}</p>')
    if qtype is QuestionType.ORGANISATION_ID:
        several = sum(1 for n in tally.counts.values() if n > 1)
        note = words["organisations"].format(
            n=fmt.integer(tally.answered), m=fmt.integer(len(tally.counts)), d=fmt.integer(several)
        )
        parts.append(f'<p class="note">{_esc(note)}</p>')
    elif qtype is QuestionType.EMAIL:
        parts.append(
            f'<p class="note">{_esc(words["emails"].format(n=fmt.integer(tally.text_count)))}</p>'
        )
    elif qtype is QuestionType.TEXT and tally.text_count:
        parts.append(
            _texts_block(
                words["texts"].format(n=fmt.integer(tally.text_count)),
                tally.texts,
                tally.text_count,
                words,
            )
        )
    elif tally.text_count:
        parts.append(
            _texts_block(
                words["other_texts"].format(n=fmt.integer(tally.text_count)),
                tally.texts,
                tally.text_count,
                words,
            )
        )
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
    counts = await store.counts_by_status()
    total = counts.get("submitted", 0)
    if options.include_drafts:
        total += counts.get("draft", 0)
    if options.include_preview:
        total += counts.get("preview", 0)
    aggregator = Aggregator(survey, options.text_limit)
    if progress is not None:
        progress(0, total)
    batches = store.stream_responses(
        options.batch_size, options.include_drafts, options.include_preview
    )
    with collect_between_batches() as between_batches:
        async for batch in batches:
            aggregator.add(batch)
            del batch
            between_batches()
            if progress is not None:
                progress(aggregator.responses, max(total, aggregator.responses))
    page, charts = render_report(
        survey,
        aggregator,
        counts,
        language=language,
        include_drafts=options.include_drafts,
        now=now or datetime.now(UTC),
        outreach=outreach_html(await compute_outreach(store), language),
    )
    out = options.out
    with staged_text(
        out, overwrite=options.overwrite, protected=options.protected, encoding="utf-8"
    ) as handle:
        handle.write(page)
    log.info(
        "report of %d responses of survey %s (%d charts) written to %s",
        aggregator.responses,
        survey.id,
        charts,
        out,
    )
    return ReportResult(out, aggregator.responses, charts)
