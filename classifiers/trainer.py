"""Fine-tuning loop: length-bucketed batches, AdamW with linear warm-up and decay, masked multi-task
loss (and knowledge distillation when a teacher's logits are given), seeded."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from rich.progress import Progress, TaskID
from tokenizers import Tokenizer
from torch import Tensor

from classifiers.datasets import Example
from classifiers.labels import SENTIMENTS
from classifiers.modeling import ConciergeModel
from classifiers.training_args import TrainingArguments

__all__ = ["Outputs", "TrainOutput", "Trainer", "predict_outputs", "seed_everything"]

_IGNORE = -100


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class TrainOutput:
    steps: int
    epochs: float
    seconds: float
    samples_per_second: float
    losses: list[float] = field(default_factory=list)
    """Mean loss of every 20 steps."""


@dataclass
class Outputs:
    """Raw model outputs for a list of texts (numpy, in input order)."""

    intent_logits: NDArray[np.float32]
    severity: NDArray[np.float32]
    sentiment_logits: NDArray[np.float32]
    embeddings: NDArray[np.float32] | None = None


def _unpadded(tokenizer: Tokenizer) -> Tokenizer:
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    return copy


def _collate(ids: Sequence[list[int]]) -> tuple[Tensor, Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask


class Trainer:
    """Trains a :class:`ConciergeModel` on :class:`Example` rows (any label may be missing)."""

    def __init__(
        self,
        model: ConciergeModel,
        args: TrainingArguments,
        train_dataset: Sequence[Example],
        *,
        tokenizer: Tokenizer,
        label_index: Mapping[str, int],
        teacher_logits: NDArray[np.float32] | None = None,
        progress: Progress | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not train_dataset:
            raise ValueError("no training rows")
        if teacher_logits is not None and len(teacher_logits) != len(train_dataset):
            raise ValueError("teacher_logits must have one row per training example")
        self.model = model
        self.args = args
        self.rows = list(train_dataset)
        self.tokenizer = _unpadded(tokenizer)
        self.label_index = dict(label_index)
        self.teacher_logits = teacher_logits
        self.progress = progress
        self.log = log
        """Called with a line at every tenth of the run (for logs when no terminal shows the bar)."""

    def _labels(self) -> tuple[Tensor, Tensor, Tensor]:
        intents = torch.tensor(
            [self.label_index[r.intent] if r.intent is not None else _IGNORE for r in self.rows]
        )
        severity = torch.tensor(
            [r.severity if r.severity is not None else math.nan for r in self.rows],
            dtype=torch.float32,
        )
        sentiment = torch.tensor(
            [SENTIMENTS.index(r.sentiment) if r.sentiment else _IGNORE for r in self.rows]
        )
        return intents, severity, sentiment

    def _batches(self, lengths: Sequence[int], rng: random.Random) -> list[list[int]]:
        """Shuffled batches of similar lengths (less padding, same randomness across epochs)."""
        order = list(range(len(lengths)))
        rng.shuffle(order)
        size = self.args.batch_size
        batches: list[list[int]] = []
        chunk = size * 50
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
            batches.extend(part[i : i + size] for i in range(0, len(part), size))
        rng.shuffle(batches)
        return batches

    def train(self) -> TrainOutput:
        args = self.args
        seed_everything(args.seed)
        if args.threads:
            torch.set_num_threads(args.threads)
        rng = random.Random(args.seed)
        encoded = [e.ids for e in self.tokenizer.encode_batch([r.text for r in self.rows])]
        lengths = [len(x) for x in encoded]
        intents, severity, sentiment = self._labels()
        teacher = (
            torch.from_numpy(np.asarray(self.teacher_logits, dtype=np.float32))
            if self.teacher_logits is not None
            else None
        )
        per_epoch = math.ceil(len(self.rows) / args.batch_size)
        total = max(1, math.ceil(per_epoch * args.epochs))
        if args.max_steps is not None:
            total = min(total, args.max_steps)
        optimizer = self._optimizer()
        warmup = max(1, int(total * args.warmup_ratio))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(1, total - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        task: TaskID | None = None
        if self.progress is not None:
            task = self.progress.add_task("fine-tuning", total=total)
        self.model.train()
        started = time.perf_counter()
        step, seen, window = 0, 0, []
        losses: list[float] = []
        while step < total:
            for batch in self._batches(lengths, rng):
                if step >= total:
                    break
                input_ids, mask = _collate([encoded[i] for i in batch])
                index = torch.tensor(batch)
                out = self.model(input_ids=input_ids, attention_mask=mask)
                loss = self._loss(
                    out.intent_logits,
                    out.severity,
                    out.sentiment_logits,
                    intents[index],
                    severity[index],
                    sentiment[index],
                    teacher[index] if teacher is not None else None,
                )
                optimizer.zero_grad(set_to_none=True)
                if loss.requires_grad:  # a batch may carry no label a weighted head trains on
                    loss.backward()  # type: ignore[no-untyped-call]
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                    optimizer.step()
                scheduler.step()
                step += 1
                seen += len(batch)
                window.append(float(loss.detach()))
                if len(window) == 20:
                    losses.append(sum(window) / len(window))
                    window = []
                if self.progress is not None and task is not None:
                    self.progress.update(
                        task, advance=1, description=f"fine-tuning (loss {loss:.3f})"
                    )
                if self.log is not None and (step % max(1, total // 10) == 0 or step == total):
                    recent = losses[-1] if losses else float(loss.detach())
                    elapsed = time.perf_counter() - started
                    self.log(f"step {step}/{total}, loss {recent:.3f}, {elapsed:.0f} s")
        if window:
            losses.append(sum(window) / len(window))
        self.model.eval()
        seconds = time.perf_counter() - started
        return TrainOutput(step, seen / len(self.rows), seconds, seen / max(seconds, 1e-9), losses)

    def _optimizer(self) -> torch.optim.Optimizer:
        decay, no_decay, heads = [], [], []
        for name, param in self.model.named_parameters():
            if not param.requires_grad:
                continue
            if not name.startswith("encoder."):
                heads.append(param)
            elif name.endswith("bias") or "LayerNorm" in name:
                no_decay.append(param)
            else:
                decay.append(param)
        args = self.args
        groups = [
            {"params": decay, "lr": args.learning_rate, "weight_decay": args.weight_decay},
            {"params": no_decay, "lr": args.learning_rate, "weight_decay": 0.0},
            {"params": heads, "lr": args.head_learning_rate, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW([g for g in groups if g["params"]])

    def _loss(
        self,
        intent_logits: Tensor,
        severity_pred: Tensor,
        sentiment_logits: Tensor,
        intents: Tensor,
        severity: Tensor,
        sentiment: Tensor,
        teacher: Tensor | None,
    ) -> Tensor:
        args = self.args
        loss = intent_logits.new_zeros(())
        has_intent = intents != _IGNORE
        if bool(has_intent.any()) and args.intent_weight:
            hard = F.cross_entropy(
                intent_logits[has_intent],
                intents[has_intent],
                label_smoothing=args.label_smoothing,
            )
            if teacher is not None:
                t = args.distill_temperature
                soft = F.kl_div(
                    F.log_softmax(intent_logits[has_intent] / t, dim=-1),
                    F.softmax(teacher[has_intent] / t, dim=-1),
                    reduction="batchmean",
                ) * (t * t)
                hard = args.distill_alpha * soft + (1 - args.distill_alpha) * hard
            loss = loss + args.intent_weight * hard
        has_severity = ~torch.isnan(severity)
        if bool(has_severity.any()) and args.severity_weight:
            loss = loss + args.severity_weight * F.smooth_l1_loss(
                severity_pred[has_severity], severity[has_severity], beta=0.5
            )
        has_sentiment = sentiment != _IGNORE
        if bool(has_sentiment.any()) and args.sentiment_weight:
            loss = loss + args.sentiment_weight * F.cross_entropy(
                sentiment_logits[has_sentiment], sentiment[has_sentiment]
            )
        return loss


@torch.inference_mode()
def predict_outputs(
    model: ConciergeModel,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    embeddings: bool = False,
) -> Outputs:
    """Run the torch model over ``texts`` (sorted by length for speed; results in input order)."""
    model.eval()
    plain = _unpadded(tokenizer)
    encoded = [e.ids for e in plain.encode_batch(list(texts))]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    n = len(texts)
    intent = np.zeros((n, model.num_intents), dtype=np.float32)
    severity = np.zeros(n, dtype=np.float32)
    sentiment = np.zeros((n, len(SENTIMENTS)), dtype=np.float32)
    hidden = int(model.encoder.config.hidden_size)
    emb = np.zeros((n, hidden), dtype=np.float32) if embeddings else None
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        input_ids, mask = _collate([encoded[i] for i in idx])
        pooled = model.embed(input_ids, mask)
        if emb is not None:
            emb[idx] = pooled.numpy()
        out = model.heads(pooled)
        intent[idx] = out.intent_logits.numpy()
        severity[idx] = out.severity.numpy()
        sentiment[idx] = out.sentiment_logits.numpy()
    return Outputs(intent, severity, sentiment, emb)
