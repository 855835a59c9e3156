"""BM25 over the chunks with ``bm25s``, English stop words and the Snowball stemmer (PyStemmer).

The index lives in memory and is rebuilt from the vector store whenever the store's revision
changes; chroma stays the one copy of the chunks.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from knowledge.documents import ChunkMetadata
from knowledge.vectorstore import StoredChunk


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[list[str]], list[str]] | None:
    try:
        import Stemmer
    except ImportError:  # optional: BM25 still works on surface forms
        return None
    stem: Callable[[list[str]], list[str]] = Stemmer.Stemmer("english").stemWords
    return stem


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop words removed, stemmed tokens for each text."""
    import bm25s

    tokens = bm25s.tokenize(
        list(texts),
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return [list(t) for t in tokens]


_FUNCTION_WORDS = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either else even ever every
few for from further get gets getting got had has have having he her here hers herself him himself
his how i if in into is it its itself just let me might more most much must my myself neither no
nor not now of off on once one only or other ought our ours ourselves out over own per please same
shall she should so some still such than that the their theirs them themselves then there these
they this those through to too under until up upon us very was we were what whatever when where
whether which while who whom whose why will with would yet you your yours yourself yourselves
"""


@lru_cache(maxsize=1)
def function_terms() -> frozenset[str]:
    """Common English function words ("does", "my", "would"), as :func:`tokenize` would give them.

    bm25s's English stop list has only 33 words, so BM25 keeps "does", "my" or "can" as terms; they
    say nothing about what a question asks, and the coverage estimate leaves them out."""
    words = _FUNCTION_WORDS.split()
    stem = _stemmer()
    return frozenset(words) | frozenset(stem(words) if stem else ())


@dataclass(frozen=True)
class LexicalHit:
    chunk: StoredChunk
    score: float


class BM25Index:
    """A BM25 index over a fixed list of chunks, with the term statistics the coverage estimate
    reads (which terms each chunk and its breadcrumb hold, and in how many chunks a term occurs)."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        import bm25s

        self.chunks = list(chunks)
        self._retriever: Any = None
        tokens = tokenize([c.text for c in self.chunks]) if self.chunks else []
        # The breadcrumb is the chunk's first paragraph (title > headings).
        crumbs = tokenize([c.text.split("\n\n", 1)[0] for c in self.chunks]) if self.chunks else []
        self._terms = {c.id: frozenset(t) for c, t in zip(self.chunks, tokens, strict=True)}
        self._heading_terms = {c.id: frozenset(t) for c, t in zip(self.chunks, crumbs, strict=True)}
        self._document_frequency = Counter(t for terms in self._terms.values() for t in terms)
        if self.chunks:
            # bm25s logs an info line per empty query; the caller handles those itself.
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            self._retriever = bm25s.BM25()
            self._retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk_terms(self, chunk_id: str) -> frozenset[str]:
        """The (stemmed, stop-word-free) terms of an indexed chunk; empty for an unknown id."""
        return self._terms.get(chunk_id, frozenset())

    def heading_terms(self, chunk_id: str) -> frozenset[str]:
        """The terms of a chunk's breadcrumb (document title and headings)."""
        return self._heading_terms.get(chunk_id, frozenset())

    def document_frequency(self, term: str) -> int:
        """How many chunks contain ``term``."""
        return self._document_frequency.get(term, 0)

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of ``term`` (highest for a term no chunk holds)."""
        df = self.document_frequency(term)
        return math.log(1.0 + (len(self.chunks) - df + 0.5) / (df + 0.5))

    def search(
        self, query: str, n: int, keep: Callable[[ChunkMetadata], bool] | None = None
    ) -> list[LexicalHit]:
        """The ``n`` best chunks for ``query`` with a positive score, among those ``keep`` accepts."""
        return self.search_terms(tokenize([query])[0], n, keep)

    def search_terms(
        self, terms: Sequence[str], n: int, keep: Callable[[ChunkMetadata], bool] | None = None
    ) -> list[LexicalHit]:
        """:meth:`search` for a query already passed through :func:`tokenize`."""
        if self._retriever is None or n <= 0:
            return []
        query_tokens = [t for t in terms if t in self._retriever.vocab_dict]
        if not query_tokens:
            return []
        scores = np.asarray(self._retriever.get_scores(query_tokens), dtype=np.float64)
        if keep is not None:
            mask = np.fromiter((keep(c.metadata) for c in self.chunks), dtype=bool, count=len(self))
            scores = np.where(mask, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:n]
        return [LexicalHit(self.chunks[i], float(scores[i])) for i in order if scores[i] > 0]


__all__ = ["BM25Index", "LexicalHit", "function_terms", "tokenize"]
