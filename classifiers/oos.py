"""Out-of-scope detection compared on CLINC150: which score, added to the out-of-scope class, keeps
the most out-of-scope messages out at a given in-scope accuracy.

Every score reads the same fine-tuned MiniLM-L6 (the one ``concierge bench classifiers`` trains on
CLINC150, its ``oos`` class included); higher means more out of scope:

- ``class``: the ``oos`` class alone, no threshold (the model as trained);
- ``msp``: one minus the highest calibrated in-scope probability (maximum softmax probability);
- ``energy``: the free energy ``-T log sum exp(logit / T)`` over the in-scope logits (Liu et al.,
  2020), with the validation temperature;
- ``knn``: one minus the mean cosine similarity of the ``k`` nearest in-scope training sentences,
  in the encoder's pooled space (Sun et al., 2022);
- ``mahalanobis``: the smallest Mahalanobis distance to an in-scope intent's mean in the pooled
  space, one covariance shared by all intents (Lee et al., 2018; Podolskiy et al., 2021): unlike
  the cosine of a few neighbours, it weighs each direction by how much the intents vary along it;
- ``e5-knn``: the ``knn`` score in a second sentence space that was not fine-tuned on the intents,
  multilingual-e5-small's (the Spanish / French head's encoder): fine-tuning pulls every sentence
  towards some intent, a general-purpose space keeps an unfamiliar request far from all of them;
- ``energy+knn``, ``energy+mahalanobis`` and ``energy+e5-knn``: the two added up, each standardised
  on the validation split's in-scope rows (the logits and a sentence space fail on different
  messages).

A message is out of scope when the class says so or its score passes the method's threshold. The
threshold is chosen on validation, the highest out-of-scope recall at in-scope accuracy >= the
target (at equal recall, the highest in-scope accuracy), and then applied to the test split once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration import fit_temperature, softmax

__all__ = ["METHODS", "Gaussians", "Readings", "compare_scores", "read"]

METHODS: Final = (
    "class",
    "msp",
    "energy",
    "knn",
    "mahalanobis",
    "energy+knn",
    "energy+mahalanobis",
    "e5-knn",
    "energy+e5-knn",
)
SECOND_SPACE: Final = "e5-"
"""Methods that read the second sentence space (``Readings.sentences``) start with this."""


@dataclass(frozen=True)
class Gaussians:
    """In-scope intent means and the shared precision matrix of the pooled training vectors."""

    means: NDArray[np.float64]
    precision: NDArray[np.float64]

    @classmethod
    def fit(cls, train: Readings, oos: int, shrinkage: float = 1e-3) -> Gaussians:
        keep = train.labels != oos
        x = train.vectors[keep].astype(np.float64)
        y = train.labels[keep]
        classes = np.unique(y)
        means = np.stack([x[y == c].mean(axis=0) for c in classes])
        centred = x - means[np.searchsorted(classes, y)]
        cov = centred.T @ centred / len(x)
        cov += shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
        return cls(means, np.linalg.inv(cov))

    def distance(self, vectors: NDArray[np.float32]) -> NDArray[np.float64]:
        """The smallest squared Mahalanobis distance of each vector to an intent mean."""
        x = vectors.astype(np.float64)
        xp = x @ self.precision
        mp = self.means @ self.precision
        d = (
            (xp * x).sum(axis=1)[:, None]
            - 2.0 * xp @ self.means.T
            + (mp * self.means).sum(axis=1)[None, :]
        )
        smallest: NDArray[np.float64] = d.min(axis=1)
        return smallest


@dataclass(frozen=True)
class Readings:
    """Intent logits and pooled sentence vectors of one split, with the gold label indices, and
    optionally the same texts in a second sentence space (``e5-`` methods need it)."""

    logits: NDArray[np.float32]
    vectors: NDArray[np.float32]
    labels: NDArray[np.int64]
    sentences: NDArray[np.float32] | None = None


def read(folder: Any, texts: Sequence[str], labels: Sequence[int]) -> Readings:
    """The torch model in ``folder`` (a ``ConciergeModel`` saved with ``save_pretrained``) over
    ``texts``."""
    from classifiers.modeling import ConciergeModel
    from classifiers.tokenization import base_model_path, load_tokenizer
    from classifiers.trainer import predict_outputs

    model = ConciergeModel.from_pretrained(folder)
    tokenizer = load_tokenizer(base_model_path(), 64)
    out = predict_outputs(model, tokenizer, list(texts), embeddings=True)
    assert out.embeddings is not None
    return Readings(out.intent_logits, out.embeddings, np.asarray(labels, dtype=np.int64))


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    return unit


def _scores(
    method: str,
    split: Readings,
    oos: int,
    temperature: float,
    banks: tuple[NDArray[np.float32], NDArray[np.float32] | None],
    k: int,
    gaussians: Gaussians,
) -> NDArray[np.float64]:
    in_scope = np.delete(split.logits, oos, axis=1).astype(np.float64)
    score: NDArray[np.float64] = np.zeros(len(split.labels))  # "class": no score
    if method == "msp":
        probs = softmax(split.logits, temperature)
        score = 1.0 - np.delete(probs, oos, axis=1).max(axis=1)
    elif method == "energy":
        z = in_scope / temperature
        top = z.max(axis=1, keepdims=True)
        score = -temperature * (top[:, 0] + np.log(np.exp(z - top).sum(axis=1)))
    elif method in ("knn", "e5-knn"):
        bank, vectors = (
            (banks[1], split.sentences) if method == "e5-knn" else (banks[0], split.vectors)
        )
        assert bank is not None and vectors is not None, "e5-knn needs Readings.sentences"
        similarity = _unit(vectors) @ bank.T
        nearest = -np.partition(-similarity, k - 1, axis=1)[:, :k]
        score = (1.0 - nearest.mean(axis=1)).astype(np.float64)
    elif method == "mahalanobis":
        score = gaussians.distance(split.vectors)
    return score


def _rates(
    pred_oos: NDArray[np.bool_], argmax: NDArray[np.int64], labels: NDArray[np.int64], oos: int
) -> tuple[float, float]:
    is_oos = labels == oos
    right = (argmax == labels) & ~pred_oos
    return float(right[~is_oos].mean()), float(pred_oos[is_oos].mean())


def compare_scores(
    train: Readings,
    val: Readings,
    test: Readings,
    oos: int,
    *,
    target: float = 0.95,
    k: int = 10,
) -> dict[str, Any]:
    """Each method's validation threshold and its in-scope accuracy / out-of-scope recall on test."""
    temperature = fit_temperature(val.logits, val.labels)
    in_scope_train = train.labels != oos
    banks = (
        _unit(train.vectors[in_scope_train]),
        None if train.sentences is None else _unit(train.sentences[in_scope_train]),
    )
    gaussians = Gaussians.fit(train, oos)
    results: dict[str, Any] = {"target_in_scope_accuracy": target, "temperature": temperature}
    in_scope = val.labels != oos

    def standardised(method: str, split: Readings) -> NDArray[np.float64]:
        reference = _scores(method, val, oos, temperature, banks, k, gaussians)[in_scope]
        score = _scores(method, split, oos, temperature, banks, k, gaussians)
        z: NDArray[np.float64] = (score - reference.mean()) / max(float(reference.std()), 1e-9)
        return z

    def scores(method: str, split: Readings) -> NDArray[np.float64]:
        if "+" in method:
            first, second = method.split("+")
            return standardised(first, split) + standardised(second, split)
        return _scores(method, split, oos, temperature, banks, k, gaussians)

    have_second_space = all(r.sentences is not None for r in (train, val, test))
    for method in METHODS:
        if SECOND_SPACE in method and not have_second_space:
            continue
        val_scores = scores(method, val)
        test_scores = scores(method, test)
        val_argmax = val.logits.argmax(axis=1)
        test_argmax = test.logits.argmax(axis=1)
        candidates = [float("inf")]
        if method != "class":
            candidates += [float(t) for t in np.quantile(val_scores, np.linspace(0.0, 1.0, 401))]
        best: tuple[float, float, float] | None = None  # (recall, accuracy, threshold)
        fallback: tuple[float, float, float] | None = None
        for t in candidates:
            pred = (val_argmax == oos) | (val_scores > t)
            accuracy, recall = _rates(pred, val_argmax, val.labels, oos)
            # The most recall; at equal recall the most in-scope accuracy.
            if accuracy >= target and (best is None or (recall, accuracy) > best[:2]):
                best = (recall, accuracy, t)
            if fallback is None or accuracy > fallback[1]:
                fallback = (recall, accuracy, t)
        chosen = best or fallback
        assert chosen is not None
        threshold = chosen[2]
        pred = (test_argmax == oos) | (test_scores > threshold)
        accuracy, recall = _rates(pred, test_argmax, test.labels, oos)
        results[method] = {
            "threshold": None if threshold == float("inf") else round(threshold, 5),
            "val": {"in_scope_accuracy": round(chosen[1], 4), "oos_recall": round(chosen[0], 4)},
            "test": {"in_scope_accuracy": round(accuracy, 4), "oos_recall": round(recall, 4)},
            "met_target_on_val": best is not None,
        }
    return results
