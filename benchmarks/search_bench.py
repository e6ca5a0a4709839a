"""Benchmark: searching a long list of 500 options by typed text, beside the plain option lookup.

    python -m benchmarks.search_bench                    # 500 options, 10,000 queries
    python -m benchmarks.search_bench --options 500 --queries 10000 --seed 1

The list is the 56 pôles of the bundled consultation followed by made-up names of the same kind
(two or three words from a pool, with groups and synonyms) up to `--options`. The queries are
drawn from the options' names as participants type them: whole names, misspelled ones (a letter
dropped, doubled or swapped), the first letters of each word, acronyms, lower or upper case,
without accents, and a share of text that matches nothing. Each query is timed on its own
(`SearchIndex.search`, the engine's call); beside it, the same run times the plain lookup of an
option by id (`Question.option`), the cheapest thing the dialogue does with a list. Printed:
p50, p95, p99 and the maximum per query, and the share of misspelled names whose option was in the
first three results. Target: p99 under 2 ms per query.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

from dialogs.limits import PAGE_SIZE
from dialogs.model import Option, Question, QuestionType
from dialogs.search import acronym, normalise
from dialogs.texts import Text

POLES = (
    Path(__file__).resolve().parent.parent
    / "surveys"
    / "data"
    / "poles-de-competitivite-phase4.csv"
)
WORDS = [
    "Aéro",
    "Agri",
    "Alpha",
    "Atlantique",
    "Bio",
    "Cap",
    "Céramique",
    "Cluster",
    "Digital",
    "Énergie",
    "Euro",
    "Filière",
    "Forêt",
    "Futur",
    "Hydro",
    "Images",
    "Industrie",
    "Innov",
    "Lab",
    "Logistique",
    "Lumière",
    "Maritime",
    "Matériaux",
    "Mécanique",
    "Médical",
    "Mer",
    "Micro",
    "Mobilité",
    "Montagne",
    "Nucléaire",
    "Nutrition",
    "Optique",
    "Pôle",
    "Plasturgie",
    "Photonique",
    "Réseaux",
    "Santé",
    "Sécurité",
    "Systèmes",
    "Textile",
    "Tech",
    "Terre",
    "Transport",
    "Valley",
    "Végétal",
    "Vallée",
    "Vision",
    "Xylo",
]


def options(count: int, rng: random.Random) -> list[Option]:
    with POLES.open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    found = [
        Option(
            row["id"],
            Text({"fr": row["label"], "en": row["label"]}),
            Text({"fr": row["group"], "en": row["group"]}),
            tuple(s for s in row["synonyms"].split("|") if s),
        )
        for row in rows
    ]
    seen = {normalise(o.label.get("fr")) for o in found}
    while len(found) < count:
        label = " ".join(rng.sample(WORDS, rng.choice((2, 2, 3))))
        if normalise(label) in seen:
            continue
        seen.add(normalise(label))
        n = len(found)
        found.append(
            Option(
                f"made_up_{n}",
                Text({"fr": label, "en": label}),
                Text({"fr": f"Région {n % 13}", "en": f"Region {n % 13}"}),
                (f"MU{n}",),
            )
        )
    return found[:count]


def misspell(text: str, rng: random.Random) -> str:
    if len(text) < 5:
        return text
    i = rng.randrange(1, len(text) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1 :]  # a letter dropped
    if kind == 1:
        return text[:i] + text[i] + text[i:]  # a letter doubled
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # two letters swapped


def queries(found: list[Option], count: int, rng: random.Random) -> list[tuple[str, str | None]]:
    """(typed text, the option meant or None when it names none)."""
    drawn: list[tuple[str, str | None]] = []
    while len(drawn) < count:
        option = rng.choice(found)
        label = option.label.get("fr")
        kind = rng.randrange(8)
        if kind == 0:
            typed = label
        elif kind == 1:
            typed = misspell(label.lower(), rng)
        elif kind == 2:
            typed = " ".join(w[: max(3, len(w) // 2)] for w in label.split())
        elif kind == 3:
            typed = normalise(label).upper()
        elif kind == 4:
            typed = acronym(label) or label
        elif kind == 5:
            typed = misspell(normalise(label), rng)
        elif kind == 6:
            typed = rng.choice(option.synonyms) if option.synonyms else label
        else:
            typed = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randrange(3, 12)))
            drawn.append((typed, None))
            continue
        drawn.append((typed, option.id))
    return drawn


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, times_ns: list[int]) -> float:
    micro = [t / 1000 for t in times_ns]
    p99 = percentile(micro, 0.99)
    p50, p95 = percentile(micro, 0.50), percentile(micro, 0.95)
    print(
        f"  {name:<31} p50 {p50:7.1f} µs  p95 {p95:7.1f} µs  p99 {p99:7.1f} µs"
        f"  max {max(micro):8.1f} µs  mean {statistics.fmean(micro):6.1f} µs"
    )
    return p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--options", type=int, default=500)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    found = options(args.options, rng)
    question = Question(
        id="pole",
        type=QuestionType.MULTI_CHOICE,
        text=Text({"fr": "Pôle ?"}),
        section_id="s",
        index=0,
        options=tuple(found),
        other=True,
        searchable=True,
    )
    started = time.perf_counter()
    index = question.search_index
    built = time.perf_counter() - started
    drawn = queries(found, args.queries, rng)
    for typed, _ in drawn[:200]:  # warm-up
        index.search(typed, PAGE_SIZE)
    search_ns: list[int] = []
    lookup_ns: list[int] = []
    top3 = meant = 0
    clock = time.perf_counter_ns
    for typed, wanted in drawn:
        start = clock()
        result = index.search(typed, PAGE_SIZE)
        search_ns.append(clock() - start)
        target = wanted or found[-1].id
        start = clock()
        question.option(target)
        lookup_ns.append(clock() - start)
        if wanted is not None:
            meant += 1
            top3 += wanted in result.option_ids[:3]
    print(
        f"search over {len(found)} options ({len(index.key_owner)} keys, "
        f"{len(index.vocabulary)} words; index built in {built * 1000:.1f} ms), "
        f"{len(drawn)} queries, seed {args.seed}:"
    )
    p99 = report("search (SearchIndex.search)", search_ns)
    report("plain lookup (Question.option)", lookup_ns)
    print(f"  the option meant among the first three results: {top3}/{meant} ({top3 / meant:.1%})")
    target_met = p99 < 2000
    print(f"  target p99 < 2 ms per query: {'met' if target_met else 'NOT met'}")
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
