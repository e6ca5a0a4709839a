"""Searching a long list of options by typed text: accents, case, typos, synonyms and acronyms.

Every option is known by several keys, all normalised (accents stripped, case folded, punctuation
turned into spaces): its label in each language, its synonyms, the label without what stands in
brackets, what stands in brackets, and the acronym made of the label's initials ("Pôle Mer
Méditerranée" → "pmm"). A query equal to a key of exactly one option is an exact match; otherwise
the options are ranked by rapidfuzz's weighted ratio over their keys, with a bonus when every typed
word starts a word of the key ("pole mer med"). Pure: the index is built from the options alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

MIN_SCORE = 75.0
"""The weighted ratio (0–100) below which an option is not offered."""
SPREAD = 12.0
"""Options scoring this much below the best one are not offered with it."""
SHORT = 3
"""Queries (and keys) of this many characters or fewer match by word starts only."""
PREFIX = 98.0
"""The score of a key whose words start with the typed words, in order."""
PREFIX_BONUS = 10.0
LONGER = 1.3
"""A query this many times longer than a key is compared with all of it, not with its part."""
EXACT = 200.0
CANDIDATES = 40
"""Keys scored in full for one query (the fast ratio keeps the best ones first)."""
STOPWORDS = frozenset(
    {"de", "des", "du", "la", "le", "les", "l", "d", "et", "en", "of", "the", "and", "for", "a"}
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
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
    """The keys of a list of options, ready to be searched."""

    def __init__(self, entries: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> None:
        """`entries`: (option id, labels in every language, synonyms), in list order."""
        self.ids: tuple[str, ...] = tuple(entry[0] for entry in entries)
        self.exact: dict[str, set[int]] = {}
        self.all_words: list[tuple[int, tuple[str, ...]]] = []
        self.fuzzy_keys: list[str] = []
        self.fuzzy_owner: list[int] = []
        self.fuzzy_words: list[tuple[str, ...]] = []
        for position, (_, labels, synonyms) in enumerate(entries):
            for key in option_keys(labels, synonyms):
                words = tuple(key.split())
                self.exact.setdefault(key, set()).add(position)
                self.exact.setdefault(key.replace(" ", ""), set()).add(position)
                self.all_words.append((position, words))
                if len(key) > SHORT:
                    self.fuzzy_keys.append(key)
                    self.fuzzy_owner.append(position)
                    self.fuzzy_words.append(words)

    def search(self, query: str, limit: int = 8) -> SearchResult:
        """The options matching `query`, best first, at most `limit` of them."""
        wanted = normalise(query)
        if not wanted or limit < 1:
            return SearchResult(())
        exact = self.exact.get(wanted) or self.exact.get(wanted.replace(" ", ""))
        if exact is not None and len(exact) == 1:
            return SearchResult((self.ids[next(iter(exact))],), exact=True)
        typed = wanted.split()
        best: dict[int, float] = {position: EXACT for position in exact or ()}
        if len(wanted) <= SHORT:
            # A few letters: the start of a word, never a guess ("emc" → "EMC2", "xyz" → none).
            for position, words in self.all_words:
                if position not in best and _prefixes(typed, words):
                    best[position] = PREFIX
        else:
            found = process.extract(
                wanted,
                self.fuzzy_keys,
                scorer=fuzz.WRatio,
                processor=None,
                limit=CANDIDATES,
                score_cutoff=MIN_SCORE - PREFIX_BONUS,
            )
            for key, score, index in found:
                if len(wanted) > LONGER * len(key) + 2:
                    # Typed text much longer than the name: a name found inside a sentence is
                    # no match ("les pôles de … de la Loire" is not "Pays de la Loire").
                    score = min(score, fuzz.token_sort_ratio(wanted, key))
                if _prefixes(typed, self.fuzzy_words[index]):
                    score = max(score, PREFIX - PREFIX_BONUS) + PREFIX_BONUS
                position = self.fuzzy_owner[index]
                if score > best.get(position, 0.0):
                    best[position] = score
        if not best:
            return SearchResult(())
        floor = max(MIN_SCORE, max(best.values()) - SPREAD)
        ranked = sorted(
            (position for position, score in best.items() if score >= floor),
            key=lambda position: (-best[position], position),
        )
        return SearchResult(tuple(self.ids[p] for p in ranked[:limit]))


def _prefixes(typed: Sequence[str], words: Sequence[str]) -> bool:
    """Whether each typed word starts a word of the key, in order ("pole mer med")."""
    position = 0
    for word in typed:
        while position < len(words) and not words[position].startswith(word):
            position += 1
        if position == len(words):
            return False
        position += 1
    return True
