"""/stats on a long list: the chart shows the 15 most chosen values and one bar for the others;
the text gives every value in the list's order (the same figures as the report and the exports)."""

from __future__ import annotations

from analysis.stats import Distribution, Stats
from analysis.tally import Tally
from bot.charts import TOP_BARS, format_distributions, top_counts
from tests.export.helpers import bundled_survey


def _stats() -> tuple[Stats, Distribution]:
    survey = bundled_survey()
    question = survey.by_id["cluster_name"]
    counts = [(o.id, n) for n, o in enumerate(question.choices())]
    dist = Distribution(question, counts, answered=100, tally=Tally(question))
    return Stats(distributions=[dist]), dist


def test_the_chart_of_the_pôles_shows_the_top_15_and_the_others() -> None:
    _, dist = _stats()
    bars = top_counts(dist, "fr")
    assert len(bars) == TOP_BARS + 1
    assert bars[0][1] == 56  # the most chosen first: "other", 56 times
    assert bars[-1][0].startswith("42 autres")
    assert bars[-1][1] == sum(range(42))


def test_the_text_of_the_pôles_gives_every_value() -> None:
    stats, _ = _stats()
    lines = format_distributions(stats, "fr").splitlines()
    assert len(lines) == 1 + 57
    values = [int(line.split()[-1]) for line in lines[1:]]
    assert values == list(range(57))
