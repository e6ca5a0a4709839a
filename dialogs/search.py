"""Searching a long list of options by typed text: accents, case, typos, synonyms and acronyms.

Every option is known by several keys, all normalised (accents stripped, case folded, punctuation
turned into spaces): its label in each language, its synonyms, the label without what stands in
brackets, what stands in brackets, and the acronym made of the label's initials ("Pôle Mer
Méditerranée" → "pmm"). A query equal to a key of exactly one option is an exact match; otherwise
the options are ranked word by word: each typed word matches the start of a word of a key ("med"
for "Méditerranée") or, from four letters on, a word with a typo ("valey" for "valley", by
rapidfuzz). Pure: the index is built from the options alone.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

MIN_SCORE = 75.0
"""The score (0–100) below which an option is not offered."""
SPREAD = 12.0
"""Options scoring this much below the best one are not offered with it."""
SHORT = 3
"""Typed words of this many letters or fewer match the start of a word only, never a typo."""
WORD = 100.0
"""The score of a typed word equal to a word of the key."""
PREFIX = 96.0
"""The score of a typed word that starts a word of the key ("med" for "mediterranee")."""
TYPO_SCORE = 75.0
"""The least similarity (rapidfuzz's ratio) of a typed word with a typo to a word of the key."""
TYPO_WEIGHT = 0.95
TYPOS = 20
"""Words with a typo considered for one typed word."""
MAX_WORDS = 6
"""Typed words looked at; the rest of a long text is ignored."""
COVERAGE = 3.0
"""Bonus for a key whose every word was typed (ties: "Pôle Mer" over "Pôle Mer Bretagne…")."""
EXACT = 200.0
STOPWORDS = frozenset(
    {"de", "des", "du", "la", "le", "les", "l", "d", "et", "en", "of", "the", "and", "for", "a"}
)
_NON_WORD = re.compile(r"[\W_]+")
_BRACKETS = re.compile(r"\(([^)]*)\)")


def normalise(text: str) -> str:
    """Lower case, without accents, punctuation as single spaces: "Île-de-France" → "ile de
    france"; "&" and "@" are kept as the words they stand for in a name ("et", "a")."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "Oe"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    stripped = stripped.replace("&", " et ").replace("@", "a")
    return _NON_WORD.sub(" ", stripped).strip()


def acronym(text: str) -> str:
    """The initials of the significant words of `text`, words split at spaces and dashes ("" for
    fewer than three such words: two letters find too much)."""
    words = [
        normalise(w)
        for w in re.split(r"[\s\-]+", _BRACKETS.sub(" ", text))
        if normalise(w) and normalise(w) not in STOPWORDS
    ]
    if len(words) < 3:
        return ""
    return "".join(w[0] for w in words)


def option_keys(labels: Iterable[str], synonyms: Iterable[str]) -> list[str]:
    """The normalised keys an option is found by, without duplicates, labels first."""
    keys: list[str] = []
    for label in labels:
        keys.append(normalise(label))
        outside = normalise(_BRACKETS.sub(" ", label))
        keys.append(outside)
        keys.extend(normalise(inside) for inside in _BRACKETS.findall(label))
        keys.append(acronym(label))
    keys.extend(normalise(s) for s in synonyms)
    return [k for k in dict.fromkeys(keys) if k]


@dataclass(frozen=True)
class SearchResult:
    """The options found, best first; `exact` when the query named exactly one option."""

    option_ids: tuple[str, ...]
    exact: bool = False


class SearchIndex:
    """The keys of a list of options, ready to be searched.

    Searching goes word by word: each typed word is looked up in the vocabulary of the keys, as
    the start of a word (a sorted list and a bisection) and, from four letters on, as a word with
    a typo (rapidfuzz's ratio over the vocabulary, in C). A key matches when every typed word (all
    but one, from three words on) matches one of its words; its score is the mean of the words'."""

    def __init__(self, entries: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> None:
        """`entries`: (option id, labels in every language, synonyms), in list order."""
        self.ids: tuple[str, ...] = tuple(entry[0] for entry in entries)
        self.exact: dict[str, set[int]] = {}
        self.key_owner: list[int] = []
        self.key_length: list[int] = []
        word_keys: dict[str, set[int]] = {}
        for position, (_, labels, synonyms) in enumerate(entries):
            for key in option_keys(labels, synonyms):
                self.exact.setdefault(key, set()).add(position)
                self.exact.setdefault(key.replace(" ", ""), set()).add(position)
                number = len(self.key_owner)
                self.key_owner.append(position)
                words = key.split()
                self.key_length.append(len(words))
                for word in words:
                    word_keys.setdefault(word, set()).add(number)
        self.vocabulary: list[str] = sorted(word_keys)
        self.word_keys: list[tuple[int, ...]] = [
            tuple(sorted(word_keys[w])) for w in self.vocabulary
        ]

    def word_matches(self, typed: str) -> dict[int, float]:
        """Vocabulary word (by position) → how well `typed` matches it (0–100)."""
        found: dict[int, float] = {}
        start = bisect.bisect_left(self.vocabulary, typed)
        end = bisect.bisect_left(self.vocabulary, typed + "\uffff", lo=start)
        for position in range(start, end):
            found[position] = WORD if self.vocabulary[position] == typed else PREFIX
        if len(typed) > SHORT:
            for _word, score, position in process.extract(
                typed,
                self.vocabulary,
                scorer=fuzz.ratio,
                processor=None,
                limit=TYPOS,
                score_cutoff=TYPO_SCORE,
            ):
                found[position] = max(found.get(position, 0.0), score * TYPO_WEIGHT)
        return found

    def search(self, query: str, limit: int = 8) -> SearchResult:
        """The options matching `query`, best first, at most `limit` of them."""
        wanted = normalise(query)
        if not wanted or limit < 1:
            return SearchResult(())
        exact = self.exact.get(wanted) or self.exact.get(wanted.replace(" ", ""))
        if exact is not None and len(exact) == 1:
            return SearchResult((self.ids[next(iter(exact))],), exact=True)
        typed = wanted.split()[:MAX_WORDS]
        totals: dict[int, float] = {}
        hits: dict[int, int] = {}
        for word in typed:
            best: dict[int, float] = {}
            for position, score in self.word_matches(word).items():
                for key in self.word_keys[position]:
                    if score > best.get(key, 0.0):
                        best[key] = score
            for key, score in best.items():
                totals[key] = totals.get(key, 0.0) + score
                hits[key] = hits.get(key, 0) + 1
        needed = len(typed) - (1 if len(typed) >= 3 else 0)
        scores: dict[int, float] = {position: EXACT for position in exact or ()}
        for key, count in hits.items():
            if count < needed:
                continue
            # The mean over the typed words, a little more for keys with fewer other words.
            score = totals[key] / len(typed) + COVERAGE * count / max(count, self.key_length[key])
            owner = self.key_owner[key]
            if score > scores.get(owner, 0.0):
                scores[owner] = score
        if not scores:
            return SearchResult(())
        floor = max(MIN_SCORE, max(scores.values()) - SPREAD)
        ranked = sorted(
            (position for position, score in scores.items() if score >= floor),
            key=lambda position: (-scores[position], position),
        )
        return SearchResult(tuple(self.ids[p] for p in ranked[:limit]))
