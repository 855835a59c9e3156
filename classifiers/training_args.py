"""Hyper-parameters of a training run, with the quick and full presets of ``concierge train``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

__all__ = ["Mode", "TrainingArguments"]

Mode = Literal["quick", "full", "test"]


@dataclass(frozen=True)
class TrainingArguments:
    """How to fine-tune the encoder and its heads.

    The loss is ``intent_weight * CE(intent) + severity_weight * Huber(severity) + sentiment_weight *
    CE(sentiment)``, each term over the rows that carry that label (a weight of 0 drops a head's
    training: the benchmark's separate-models comparison).
    """

    epochs: float = 3.0
    """Passes over the training rows (fractions allowed)."""
    batch_size: int = 32
    learning_rate: float = 8e-5
    """Peak learning rate of the encoder (linear warm-up, then linear decay to 0)."""
    head_learning_rate: float = 1e-3
    """Peak learning rate of the three new heads (they start from random)."""
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_length: int = 64
    """Word pieces per message; longer ones are truncated (help-desk tickets run to ~150). Batches
    pad to their longest and are bucketed by length, so short messages do not pay for long ones."""
    label_smoothing: float = 0.05
    intent_weight: float = 1.0
    severity_weight: float = 1.0
    sentiment_weight: float = 0.3
    dropout: float = 0.1
    seed: int = 13
    threads: int | None = None
    """torch intra-op threads; ``None``: all cores."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides ``epochs`` when smaller)."""
    eval_batch_size: int = 64
    distill_alpha: float = 0.5
    """Student training only: weight of the teacher's soft targets against the hard labels."""
    distill_temperature: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes copied into the model card."""

    @classmethod
    def preset(cls, mode: Mode, **overrides: Any) -> TrainingArguments:
        """``quick``: one short epoch for a first run (``make run``); ``full``: the published numbers;
        ``test``: a few hundred rows in the test suite."""
        presets: dict[str, dict[str, Any]] = {
            "quick": {"epochs": 1.0, "max_length": 64, "learning_rate": 1e-4},
            "full": {"epochs": 3.0, "max_length": 128},
            "test": {"epochs": 2.0, "max_length": 24, "batch_size": 16, "learning_rate": 3e-4},
        }
        return replace(cls(**presets[mode]), **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
