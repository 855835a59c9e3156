from __future__ import annotations

import numpy as np
import pytest

from classifiers.calibration import (
    apply_oos,
    choose_oos_threshold,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)


def overconfident(n: int = 3000, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a model that is right 70% of the time but says ~99%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.7, labels, rng.integers(0, k, n))
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), pred] += 8.0
    return logits, labels


def test_softmax_rows_sum_to_one() -> None:
    p = softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, 0.0]]), temperature=2.0)
    assert np.allclose(p.sum(axis=1), 1.0) and p[1, 0] > 0.99


def test_temperature_scaling_lowers_nll_and_ece() -> None:
    logits, labels = overconfident()
    t = fit_temperature(logits, labels)
    assert t > 2.0
    assert nll(logits, labels, t) < nll(logits, labels)
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits, t), labels)
    assert before > 0.2 and after < 0.08
    # A scalar temperature never changes the ranking.
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()


def test_ece_of_a_perfectly_calibrated_model_is_small() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 20000)
    correct = rng.random(20000) < conf
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(probs, labels) < 0.02


def test_oos_threshold_trades_little_in_scope_accuracy() -> None:
    rng = np.random.default_rng(2)
    # 3 in-scope classes + class 3 = out_of_scope; OOS rows get flat, low-confidence probabilities.
    in_probs = np.full((300, 4), 0.02)
    in_labels = rng.integers(0, 3, 300)
    in_probs[np.arange(300), in_labels] = 0.94
    oos_probs = np.tile([0.4, 0.3, 0.2, 0.1], (100, 1))
    probs = np.concatenate([in_probs, oos_probs])
    labels = np.concatenate([in_labels, np.full(100, 3)])
    decision = choose_oos_threshold(probs, labels, oos_index=3)
    assert 0.4 < decision.threshold <= 0.94
    assert decision.oos_recall == 1.0 and decision.in_scope_accuracy == 1.0
    assert decision.in_scope_accuracy_without == 1.0
    pred = apply_oos(probs, 3, decision.threshold)
    assert (pred[300:] == 3).all() and (pred[:300] == in_labels).all()


@pytest.mark.parametrize("drop", [0.0, 0.05])
def test_oos_threshold_respects_the_accuracy_cap(drop: float) -> None:
    probs = np.array([[0.5, 0.5, 0.0], [0.9, 0.1, 0.0], [0.55, 0.45, 0.0]])
    labels = np.array([0, 0, 2])
    decision = choose_oos_threshold(probs, labels, oos_index=2, max_in_scope_drop=drop)
    assert decision.in_scope_accuracy >= decision.in_scope_accuracy_without - drop


def test_guard_set_stops_a_threshold_that_rejects_plain_wording() -> None:
    # Templated validation rows are confident; plain-wording rows are right but less confident.
    templated = np.tile([0.97, 0.01, 0.02], (200, 1))
    plain = np.tile([0.6, 0.1, 0.3], (20, 1))
    oos = np.tile([0.65, 0.05, 0.3], (50, 1))
    probs = np.concatenate([templated, oos])
    labels = np.array([0] * 200 + [2] * 50)
    free = choose_oos_threshold(probs, labels, oos_index=2)
    assert free.threshold > 0.6  # rejects every plain-wording row
    guarded = choose_oos_threshold(probs, labels, 2, guard=(plain, np.zeros(20, dtype=int)))
    assert guarded.threshold <= 0.6
    assert (apply_oos(plain, 2, guarded.threshold) == 0).all()
