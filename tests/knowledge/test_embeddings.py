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
