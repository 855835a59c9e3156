"""The torch model: one MiniLM encoder (mean-pooled) with three heads — intent (softmax), severity
(regression, bounded to 1-5) and sentiment (negative / neutral / positive).

This is the training artefact; inference runs its ONNX int8 export (``classifiers.inference``).
Weights are stored as safetensors (no pickles), the encoder's config beside them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import BertConfig, BertModel

from classifiers.errors import ModelNotFoundError
from classifiers.labels import SENTIMENTS
from classifiers.tokenization import base_model_path

__all__ = ["ConciergeModel", "ModelOutput", "mean_pool"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class ModelOutput(NamedTuple):
    intent_logits: Tensor
    severity: Tensor
    """Predicted severity on the 1-5 scale, shape ``(batch,)``."""
    sentiment_logits: Tensor


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the token vectors that are not padding (how all-MiniLM-L6-v2 was trained)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class ConciergeModel(nn.Module):
    """MiniLM encoder + intent / severity / sentiment heads."""

    def __init__(self, encoder: BertModel, num_intents: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.num_intents = num_intents
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden, num_intents)
        self.severity_head = nn.Linear(hidden, 1)
        self.sentiment_head = nn.Linear(hidden, len(SENTIMENTS))

    def embed(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The pooled sentence vector (384-d) the heads read."""
        # Keyword arguments: transformers 5 changed BertModel.forward's positional order.
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)

    def heads(self, pooled: Tensor) -> ModelOutput:
        """The three heads on pooled vectors."""
        severity = 1.0 + 4.0 * torch.sigmoid(self.severity_head(pooled).squeeze(-1))
        return ModelOutput(self.intent_head(pooled), severity, self.sentiment_head(pooled))

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> ModelOutput:
        return self.heads(self.dropout(self.embed(input_ids, attention_mask)))

    @property
    def num_layers(self) -> int:
        return int(self.encoder.config.num_hidden_layers)

    @classmethod
    def from_base(
        cls,
        num_intents: int,
        *,
        base: Path | None = None,
        layers: Sequence[int] | None = None,
        dropout: float = 0.1,
    ) -> ConciergeModel:
        """A new model on the packaged MiniLM (new heads). ``layers`` keeps only those encoder layers
        (e.g. ``[0, 2, 4]`` for a 3-layer student initialised from the L6's layers)."""
        path = base or base_model_path()
        from transformers.utils import logging as hf_logging

        # Quiet: the load report lists the unused pooler weights and the loader draws a progress bar.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity(logging.ERROR)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            encoder = BertModel.from_pretrained(str(path), add_pooling_layer=False)
        finally:
            hf_logging.set_verbosity(verbosity)
        if layers is not None:
            keep = [encoder.encoder.layer[i] for i in layers]
            encoder.encoder.layer = nn.ModuleList(keep)
            encoder.config.num_hidden_layers = len(keep)
        return cls(encoder, num_intents, dropout)

    @classmethod
    def from_config(cls, config: BertConfig, num_intents: int) -> ConciergeModel:
        """A randomly initialised model of the given shape (weights are loaded afterwards)."""
        return cls(BertModel(config, add_pooling_layer=False), num_intents)

    def save_pretrained(self, folder: Path | str) -> None:
        """``encoder_config.json``, ``heads.json`` and ``model.safetensors`` in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "encoder_config.json").write_text(self.encoder.config.to_json_string())
        (folder / "heads.json").write_text(json.dumps({"num_intents": self.num_intents}))
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, folder: Path | str) -> ConciergeModel:
        folder = Path(folder)
        needed = ("encoder_config.json", "heads.json", "model.safetensors")
        missing = [n for n in needed if not (folder / n).exists()]
        if missing:
            raise ModelNotFoundError(f"{folder}: not a saved ConciergeModel (missing {missing})")
        config = BertConfig.from_json_file(str(folder / "encoder_config.json"))
        heads: dict[str, Any] = json.loads((folder / "heads.json").read_text())
        model = cls.from_config(config, int(heads["num_intents"]))
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.eval()
        return model
