"""BM25 over the chunks with ``bm25s``, English stop words and the Snowball stemmer (PyStemmer).

The index lives in memory and is rebuilt from the vector store whenever the store's revision
changes; chroma stays the one copy of the chunks.
"""

from __future__ import annotations

import logging
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


@dataclass(frozen=True)
class LexicalHit:
    chunk: StoredChunk
    score: float


class BM25Index:
    """A BM25 index over a fixed list of chunks."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        import bm25s

        self.chunks = list(chunks)
        self._retriever: Any = None
        if self.chunks:
            # bm25s logs an info line per empty query; the caller handles those itself.
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            self._retriever = bm25s.BM25()
            self._retriever.index(tokenize([c.text for c in self.chunks]), show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(
        self, query: str, n: int, keep: Callable[[ChunkMetadata], bool] | None = None
    ) -> list[LexicalHit]:
        """The ``n`` best chunks for ``query`` with a positive score, among those ``keep`` accepts."""
        if self._retriever is None or n <= 0:
            return []
        query_tokens = [t for t in tokenize([query])[0] if t in self._retriever.vocab_dict]
        if not query_tokens:
            return []
        scores = np.asarray(self._retriever.get_scores(query_tokens), dtype=np.float64)
        if keep is not None:
            mask = np.fromiter((keep(c.metadata) for c in self.chunks), dtype=bool, count=len(self))
            scores = np.where(mask, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:n]
        return [LexicalHit(self.chunks[i], float(scores[i])) for i in order if scores[i] > 0]


__all__ = ["BM25Index", "LexicalHit", "tokenize"]
