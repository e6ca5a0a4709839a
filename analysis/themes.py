"""Themes in free-text answers: TF-IDF and non-negative matrix factorisation (scikit-learn).

    found = find_themes(texts, languages=["fr", "en", …], groups=[…])
    for theme in found.themes: theme.terms, theme.count, theme.representatives

Each answer is normalised first: lower case, words of three letters or more, French and English
stop words removed (`stopwords-fr.txt`, `stopwords-en.txt`, shipped here), each word reduced to
its stem by the Snowball stemmer of the answer's language (French by default: plurals and
feminines fold together), accents removed from the stem. A theme is named by its top terms, each
shown as the most frequent word written for that stem ("financement", not "financ").

The number of themes is chosen among 2 … `max_themes` by the mean silhouette (cosine) of the
answers grouped by their strongest theme, on a fixed sample; then the model is fitted on every
answer. An answer belongs to its strongest theme, or to none when it has no term in the
vocabulary. Everything is deterministic for a given input: fixed seeds, NNDSVD initialisation,
ties broken by position.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MIN_DOCUMENTS = 10
"""Fewer answers with words than this: no themes."""
MAX_THEMES = 6
TERMS_PER_THEME = 5
REPRESENTATIVES = 10
SELECTION_SAMPLE = 1000
SEED = 0

_WORD = re.compile(r"[^\W\d_]{3,}")
_STEMMERS = {"fr": "french", "en": "english"}


@dataclass(frozen=True, slots=True)
class Theme:
    id: int
    """1, 2, … by decreasing number of answers."""
    terms: tuple[str, ...]
    count: int
    """Answers whose strongest theme this is."""
    representatives: tuple[int, ...]
    """Indices of the answers that express it best, best first (quotes)."""
    by_group: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ThemeSet:
    documents: int
    """Answers analysed."""
    themes: tuple[Theme, ...]
    assignments: tuple[int, ...]
    """The theme id of each answer, 0 when it has none."""
    group_documents: dict[str, int] = field(default_factory=dict)

    @property
    def unassigned(self) -> int:
        return sum(1 for a in self.assignments if a == 0)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def stop_words() -> frozenset[str]:
    """French and English stop words, without accents."""
    words: set[str] = set()
    for name in ("stopwords-fr.txt", "stopwords-en.txt"):
        path = Path(__file__).with_name(name)
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.add(strip_accents(line))
    return frozenset(words)


class Normaliser:
    """Answer → stems; remembers the words written for each stem."""

    def __init__(self) -> None:
        import snowballstemmer

        self._stemmers = {code: snowballstemmer.stemmer(name) for code, name in _STEMMERS.items()}
        self._stems: dict[tuple[str, str], str] = {}
        self.surface: dict[str, Counter[str]] = {}
        self._stop = stop_words()

    def __call__(self, text: str, language: str = "fr") -> list[str]:
        code = language if language in self._stemmers else "fr"
        out = []
        stems = self._stems
        surface = self.surface
        for word in _WORD.findall(text.lower()):
            stem = stems.get((code, word))
            if stem is None:
                stem = self._stem(code, word)
                stems[code, word] = stem
            if stem:
                surface[stem][word] += 1
                out.append(stem)
        return out

    def _stem(self, code: str, word: str) -> str:
        """The stem of `word` without accents, "" for a stop word or a stem too short."""
        if strip_accents(word) in self._stop:
            return ""
        stem = strip_accents(self._stemmers[code].stemWord(word))
        if len(stem) < 3:
            return ""
        self.surface.setdefault(stem, Counter())
        return stem

    def name(self, stem: str) -> str:
        """The word most often written for `stem` (the shortest, then the first, on a tie)."""
        words = self.surface.get(stem)
        if not words:
            return stem
        return min(words.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def find_themes(
    texts: Sequence[str],
    *,
    languages: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    max_themes: int = MAX_THEMES,
    themes: int | None = None,
) -> ThemeSet:
    """The themes of `texts` (`themes`: how many, instead of choosing)."""
    import numpy as np
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    normalise = Normaliser()
    tokens = [
        normalise(text, languages[i] if languages is not None else "fr")
        for i, text in enumerate(texts)
    ]
    group_documents = Counter(groups) if groups is not None else Counter()
    empty = ThemeSet(len(texts), (), (0,) * len(texts), dict(group_documents))
    if sum(1 for t in tokens if t) < MIN_DOCUMENTS:
        return empty
    vectorizer = TfidfVectorizer(
        analyzer=_identity,
        min_df=2,
        max_df=0.8,
        sublinear_tf=True,
        max_features=5000,
        dtype=np.float64,
    )
    try:
        matrix = vectorizer.fit_transform(tokens)
    except ValueError:  # no term left (every word too rare or too common)
        return empty
    vocabulary = vectorizer.get_feature_names_out()
    rows = np.flatnonzero(matrix.getnnz(axis=1))
    if len(rows) < MIN_DOCUMENTS or len(vocabulary) < 2:
        return empty

    def fit(k: int, data: object) -> tuple[object, object]:
        model = NMF(n_components=k, init="nndsvda", random_state=SEED, max_iter=400)
        with warnings.catch_warnings():
            # a model stopped at max_iter still ranks answers and terms well enough here
            warnings.simplefilter("ignore", ConvergenceWarning)
            weights = model.fit_transform(data)
        return model, weights

    if themes is None:
        sample = rows
        if len(rows) > SELECTION_SAMPLE:
            picker = np.random.default_rng(SEED)
            sample = np.sort(picker.choice(rows, SELECTION_SAMPLE, replace=False))
        data = matrix[sample]
        highest = min(max_themes, len(vocabulary) - 1, max(2, len(sample) // 15))
        best_k, best_score = 2, -2.0
        for k in range(2, highest + 1):
            _, weights = fit(k, data)
            labels = np.asarray(weights).argmax(axis=1)
            if len(set(labels.tolist())) < 2:
                continue
            score = float(silhouette_score(data, labels, metric="cosine"))
            if score > best_score + 1e-9:
                best_k, best_score = k, score
        themes = best_k
    model, weights = fit(max(1, min(themes, len(vocabulary) - 1)), matrix)
    w = np.asarray(weights)
    h = np.asarray(model.components_)  # type: ignore[attr-defined]
    strongest = w.argmax(axis=1)
    has_weight = w.max(axis=1) > 0
    totals = w.sum(axis=1)
    raw: list[tuple[int, tuple[str, ...], list[int]]] = []
    for topic in range(w.shape[1]):
        members = [int(d) for d in np.flatnonzero((strongest == topic) & has_weight)]
        order = np.argsort(-h[topic], kind="stable")[:TERMS_PER_THEME]
        terms = tuple(normalise.name(str(vocabulary[i])) for i in order if h[topic][i] > 0)
        members.sort(key=lambda d: (-(w[d, topic] / totals[d]), -w[d, topic], d))
        raw.append((topic, terms, members))
    raw = [r for r in raw if r[2]]
    raw.sort(key=lambda r: (-len(r[2]), r[0]))
    assignments = [0] * len(texts)
    found = []
    for number, (_, terms, members) in enumerate(raw, start=1):
        by_group: Counter[str] = Counter()
        for d in members:
            assignments[d] = number
            if groups is not None:
                by_group[groups[d]] += 1
        found.append(
            Theme(number, terms, len(members), tuple(members[:REPRESENTATIVES]), dict(by_group))
        )
    return ThemeSet(len(texts), tuple(found), tuple(assignments), dict(group_documents))
