"""The out-of-scope scores on readings whose answer is known: two in-scope intents, one oos class."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from classifiers.oos import METHODS, Gaussians, Readings, compare_scores

OOS = 2


def _split(seed: int, n: int = 200) -> Readings:
    """In-scope rows sure of their intent and near their cluster; half the out-of-scope rows slip
    past the class (its logit low) but are unsure and far from every in-scope sentence."""
    rng = np.random.default_rng(seed)
    labels = np.array([0] * n + [1] * n + [OOS] * n, dtype=np.int64)
    logits = np.zeros((3 * n, 3), dtype=np.float32)
    vectors = np.zeros((3 * n, 8), dtype=np.float32)
    for i, label in enumerate(labels):
        if label == OOS:
            caught = i % 2 == 0
            logits[i] = [0.3, 0.2, 2.0] if caught else [0.4, 0.3, -1.0]
            vectors[i] = rng.normal(size=8)
            vectors[i, 4:] += 3.0
        else:
            logits[i, label] = 5.0 + rng.normal()
            vectors[i, label] = 3.0
            vectors[i] += 0.3 * rng.normal(size=8)
    # The second sentence space holds the same geometry in other coordinates (a rotation).
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))[0]
    sentences = (vectors @ rotation).astype(np.float32)
    return Readings(logits, vectors, labels, sentences)


def test_scores_catch_what_the_class_lets_through() -> None:
    report = compare_scores(_split(1), _split(2), _split(3), OOS, target=0.95, k=5)

    assert set(METHODS) <= set(report)
    # The class alone catches the half it was trained to see, and needs no threshold.
    assert report["class"]["threshold"] is None
    assert report["class"]["test"]["oos_recall"] == 0.5
    for method in set(METHODS) - {"class"}:
        test = report[method]["test"]
        assert report[method]["met_target_on_val"]
        assert test["in_scope_accuracy"] >= 0.95
        assert test["oos_recall"] > 0.95, method


def test_second_space_methods_are_left_out_without_its_sentences() -> None:
    bare = [replace(_split(seed), sentences=None) for seed in (1, 2, 3)]
    report = compare_scores(*bare, OOS, target=0.95, k=5)
    assert "e5-knn" not in report and "energy+e5-knn" not in report
    assert report["energy+knn"]["test"]["oos_recall"] > 0.95


def test_an_unreachable_target_keeps_the_most_accurate_threshold() -> None:
    report = compare_scores(_split(1), _split(2), _split(3), OOS, target=1.01, k=5)
    assert not report["knn"]["met_target_on_val"]
    assert report["knn"]["val"]["in_scope_accuracy"] == 1.0


def test_mahalanobis_weighs_each_direction_by_how_much_intents_vary_along_it() -> None:
    """Two intents spread widely along one axis and tightly along the other: a message one unit off
    along the tight axis is further out than one five units along the wide one."""
    rng = np.random.default_rng(0)
    n = 500
    vectors = np.zeros((2 * n, 2), dtype=np.float32)
    vectors[:, 0] = rng.normal(scale=5.0, size=2 * n)
    vectors[:, 1] = rng.normal(scale=0.1, size=2 * n)
    vectors[n:, 1] += 10.0  # the second intent's mean
    labels = np.array([0] * n + [1] * n, dtype=np.int64)
    gaussians = Gaussians.fit(Readings(np.zeros((2 * n, 3), np.float32), vectors, labels), OOS)

    along_wide, along_tight = gaussians.distance(np.array([[5.0, 0.0], [0.0, 1.0]], np.float32))
    assert along_tight > 10 * along_wide
    # The distance is to the nearest intent's mean.
    near_second = gaussians.distance(np.array([[0.0, 10.0]], np.float32))[0]
    assert near_second < 1.0
