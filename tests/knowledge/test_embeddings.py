from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import DIMENSION, Embedder, get_embedder
from knowledge.errors import EmbeddingError


def test_vectors_are_normalised_and_counted(embedder: Embedder) -> None:
    assert get_embedder() is embedder  # one model per process
    before_texts, before_calls = embedder.texts_embedded, embedder.calls
    vectors = embedder.embed(["Where is my order?", "Track my package", "The capital of France"])
    assert vectors.shape == (3, DIMENSION) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert (embedder.texts_embedded, embedder.calls) == (before_texts + 3, before_calls + 1)
    assert embedder.embed([]).shape == (0, DIMENSION)
    assert embedder.embed_query("hello").shape == (DIMENSION,)
    assert embedder.max_tokens == 256
    vocabulary = set(embedder.vocabulary())
    assert "order" in vocabulary and not any(w.startswith("##") for w in vocabulary)


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="no sentence-transformers model"):
        Embedder(tmp_path)


def test_precomputed_vectors_are_served_without_the_model(embedder: Embedder) -> None:
    from knowledge import PrecomputedEmbedder

    given = np.zeros(DIMENSION, dtype=np.float32)
    given[0] = 1.0
    cached = PrecomputedEmbedder({"known text": given}, embedder)
    before = embedder.texts_embedded
    out = cached.embed(["known text", "known text"])
    assert np.array_equal(out, np.stack([given, given]))
    assert (cached.texts_embedded, cached.served) == (0, 2)
    fresh = cached.embed(["an unseen sentence", "known text"])
    assert np.allclose(fresh[0], embedder.embed_query("an unseen sentence"), atol=1e-5)
    assert (cached.texts_embedded, cached.served) == (1, 3)
    assert "an unseen sentence" in cached.vectors and cached.dimension == DIMENSION
    assert embedder.texts_embedded == before + 1  # its own query above; the model is shared
    assert cached.embed([]).shape == (0, DIMENSION)
