"""/stats on a long list: the 15 most chosen values, then one line for the others."""

from __future__ import annotations

from bot.charts import format_distributions
from storage.stats import Distribution, Stats
from tests.export.helpers import bundled_survey


def test_the_stats_of_the_pôles_show_the_top_15_and_the_others() -> None:
    survey = bundled_survey()
    question = survey.by_id["cluster_name"]
    counts = [(o.id, n) for n, o in enumerate(question.choices())]
    stats = Stats(distributions=[Distribution(question, counts, answered=100)])
    lines = format_distributions(stats, "fr").splitlines()
    assert len(lines) == 1 + 15 + 1
    assert lines[1].split()[-1] == "56"  # the most chosen first: "other", 56 times
    assert lines[-1].startswith("    42 autres")
    assert lines[-1].split()[-1] == str(sum(range(42)))
