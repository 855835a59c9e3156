"""Query spelling correction against the knowledge base's own vocabulary.

Customers misspell ("retrun windw"); neither BM25 nor MiniLM's word pieces recover from that. A word is
left alone when the corpus or the embedding model's vocabulary knows it (so "France" stays "France"
even though no document mentions it); otherwise it becomes the closest corpus word, if one is close
enough (difflib ratio >= 0.8, or a single edit away); among close words the fewest edits wins,
counting a swap of two neighbouring letters as one edit ("chnage" is "change", not "charge"), then
the most frequent.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

MIN_LENGTH = 4
"""Shorter words are too ambiguous to correct (and are mostly stop words)."""


class SpellingCorrector:
    """Corrects query words that neither the corpus nor a general vocabulary knows."""

    def __init__(
        self, corpus_texts: Iterable[str], known_words: Iterable[str] = (), *, cutoff: float = 0.8
    ) -> None:
        self._counts = Counter(w.lower() for t in corpus_texts for w in _WORD.findall(t))
        self.corpus_words = sorted(self._counts)
        self._corpus = set(self.corpus_words)
        self._known = {w.lower() for w in known_words}
        self.cutoff = cutoff
        # difflib compares every candidate; bucketing by length keeps that to near-lengths only.
        self._by_length: dict[int, list[str]] = {}
        for word in self.corpus_words:
            self._by_length.setdefault(len(word), []).append(word)

    def suggest(self, word: str) -> str | None:
        """The corpus word ``word`` most likely meant, or None if it is known or nothing is close."""
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in self._corpus or lower in self._known:
            return None
        candidates = [
            w for n in range(len(lower) - 2, len(lower) + 3) for w in self._by_length.get(n, [])
        ]
        close = difflib.get_close_matches(lower, candidates, n=5, cutoff=self.cutoff)
        if not close:
            # difflib's ratio undervalues one swap in a short word ("crad" / "card": 0.75); accept
            # words one edit away, after a cheap letter-set check keeps the scan short.
            letters = set(lower)
            close = [
                w
                for w in candidates
                if abs(len(w) - len(lower)) <= 1
                and len(letters ^ set(w)) <= 2
                and edit_distance(lower, w) == 1
            ]
        if not close:
            return None
        return min(close, key=lambda w: (edit_distance(lower, w), -self._counts[w], w))

    def correct(self, text: str) -> str:
        """``text`` with unknown words replaced by their corrections (everything else kept)."""

        def fix(m: re.Match[str]) -> str:
            return self.suggest(m.group(0)) or m.group(0)

        return _WORD.sub(fix, text)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    adjacent characters each cost one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


__all__ = ["SpellingCorrector", "edit_distance"]
