"""Themes in free text: three vocabularies make three themes that name them, the answers are
assigned to the right one, and the same input gives the same themes."""

from __future__ import annotations

import random

from analysis.themes import Normaliser, find_themes

VOCABULARIES = {
    "funding": [
        "financement",
        "financements",
        "subvention",
        "subventions",
        "budget",
        "budgets",
        "crédits",
        "aides",
        "financières",
        "cotisation",
        "cotisations",
        "fonds",
        "argent",
        "financer",
    ],
    "europe": [
        "Europe",
        "européen",
        "européens",
        "européenne",
        "programmes",
        "Horizon",
        "Bruxelles",
        "Union",
        "partenaires",
        "internationaux",
        "Commission",
    ],
    "recruitment": [
        "recrutement",
        "recrutements",
        "recruter",
        "embaucher",
        "embauches",
        "talents",
        "ingénieurs",
        "candidats",
        "salariés",
        "emplois",
        "postes",
    ],
}
COMMON = [
    "le",
    "pôle",
    "nous",
    "les",
    "entreprises",
    "vraiment",
    "très",
    "important",
    "pour",
    "des",
    "une",
    "est",
    "sont",
    "avec",
    "dans",
    "notre",
    "plus",
    "faut",
]


def generated(n: int, seed: int = 3) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, truth = [], []
    for _ in range(n):
        theme = rng.choice(sorted(VOCABULARIES))
        words = [rng.choice(VOCABULARIES[theme]) for _ in range(rng.randint(3, 8))]
        words += [rng.choice(COMMON) for _ in range(rng.randint(3, 8))]
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        truth.append(theme)
    return texts, truth


NAMES = {"funding": "financement", "europe": "européen", "recruitment": "recrutement"}


def test_three_vocabularies_make_three_themes() -> None:
    texts, truth = generated(300)
    found = find_themes(texts, groups=truth)
    assert len(found.themes) == 3
    named: dict[int, str] = {}
    for theme in found.themes:
        matching = [
            name
            for name, words in VOCABULARIES.items()
            if sum(term in {w.lower() for w in words} for term in theme.terms) >= 3
        ]
        assert len(matching) == 1, theme.terms
        named[theme.id] = matching[0]
        assert len(theme.representatives) >= 3
        assert all(truth[i] == matching[0] for i in theme.representatives[:3])
    assert sorted(named.values()) == sorted(VOCABULARIES)
    right = sum(named.get(a) == t for a, t in zip(found.assignments, truth, strict=True))
    assert right / len(texts) >= 0.9
    assert sum(t.count for t in found.themes) + found.unassigned == len(texts)


def test_the_same_input_gives_the_same_themes() -> None:
    texts, _ = generated(200, seed=8)
    first, second = find_themes(texts), find_themes(texts)
    assert first == second
    assert [t.terms for t in first.themes] == [t.terms for t in second.themes]


def test_normalisation_folds_accents_plurals_and_stop_words() -> None:
    normalise = Normaliser()
    assert normalise("Les financements européens") == normalise("le financement Européen")
    assert normalise("et de la pour") == []
    assert normalise("Funding programmes", "en") == normalise("funding programme", "en")
    normalise("financement financement financements")
    assert normalise.name(normalise("financements")[0]) == "financement"


def test_too_few_answers_make_no_theme() -> None:
    found = find_themes(["un mot", "deux mots"])
    assert found.themes == () and found.assignments == (0, 0)
