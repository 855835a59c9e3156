"""Evaluation figures shared by training (the model card) and the benchmark."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["classification_report", "mcnemar", "regression_report"]


def classification_report(
    y_true: Sequence[Any] | ArrayLike, y_pred: Sequence[Any] | ArrayLike
) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1 over the classes present in ``y_true``."""
    from sklearn.metrics import precision_recall_fscore_support

    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if len(true) == 0:
        return {"n": 0, "accuracy": math.nan, "macro_precision": math.nan}
    labels = sorted(set(true.tolist()))
    p, r, f, _ = precision_recall_fscore_support(
        true, pred, labels=labels, average="macro", zero_division=0
    )
    return {
        "n": int(len(true)),
        "accuracy": float((true == pred).mean()),
        "macro_precision": float(p),
        "macro_recall": float(r),
        "macro_f1": float(f),
    }


def regression_report(
    y_true: Sequence[float] | ArrayLike, y_pred: Sequence[float] | ArrayLike
) -> dict[str, float]:
    """MAE, RMSE and the share whose rounded prediction equals the (rounded) label."""
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if len(true) == 0:
        return {"n": 0, "mae": math.nan}
    return {
        "n": int(len(true)),
        "mae": float(np.abs(true - pred).mean()),
        "rmse": float(np.sqrt(((true - pred) ** 2).mean())),
        "rounded_accuracy": float((np.rint(true) == np.clip(np.rint(pred), 1, 5)).mean()),
        "constant_baseline_mae": float(np.abs(true - np.median(true)).mean()),
    }


def mcnemar(correct_a: ArrayLike, correct_b: ArrayLike) -> dict[str, float]:
    """McNemar's test on paired per-example correctness of two classifiers on the same rows.

    Exact binomial test on the discordant pairs when there are fewer than 25, otherwise the
    chi-squared test with continuity correction. Returns the discordant counts and the p-value.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        p = 1.0
    elif n < 25:
        # Two-sided exact binomial test with p = 0.5.
        k = min(only_a, only_b)
        p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    else:
        stat = (abs(only_a - only_b) - 1) ** 2 / n
        p = math.erfc(math.sqrt(stat / 2))  # chi-squared survival function, 1 degree of freedom
    return {"only_a": only_a, "only_b": only_b, "p_value": p}
