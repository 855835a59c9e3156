from __future__ import annotations

import numpy as np
import pytest

from classifiers.metrics import classification_report, mcnemar, regression_report


def test_classification_report() -> None:
    report = classification_report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert report["accuracy"] == 0.75 and report["n"] == 4
    assert report["macro_recall"] == pytest.approx((0.5 + 1.0) / 2)


def test_regression_report() -> None:
    report = regression_report([2, 3, 4, 4], [2.2, 3.0, 3.4, 4.6])
    assert report["mae"] == pytest.approx(0.35)
    assert report["rounded_accuracy"] == 0.5
    assert report["constant_baseline_mae"] == pytest.approx(0.75)


def test_mcnemar() -> None:
    a = np.array([True] * 90 + [False] * 10)
    b = np.array([True] * 60 + [False] * 40)
    result = mcnemar(a, b)
    assert (result["only_a"], result["only_b"]) == (30, 0)
    assert result["p_value"] < 1e-5
    assert mcnemar(a, a)["p_value"] == 1.0
    small = mcnemar([True, True, False], [False, True, True])
    assert small["p_value"] == 1.0
