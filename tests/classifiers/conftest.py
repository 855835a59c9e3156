"""A tiny classifier trained once per test session (a few hundred rows, one short epoch) on the real
packaged MiniLM and the real datasets: the training, export and inference code under test."""

from __future__ import annotations

import os

import pytest

# Before torch loads: on shared cores, spinning OpenMP threads slow training several times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from classifiers.pipeline import TrainResult, train_classifier


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train_classifier("test", output_dir=tmp_path_factory.mktemp("models") / "classifier")
