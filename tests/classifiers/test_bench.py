from __future__ import annotations

from pathlib import Path

import numpy as np

from classifiers.bench import BenchConfig, ModelRun, _align, _confusion, _score, build_task
from classifiers.datasets import Example
from tools.settings import Settings


def config(tmp_path: Path) -> BenchConfig:
    return BenchConfig(Settings().shared_data_dir, tmp_path / "cache", tmp_path / "out", smoke=True)


def test_tasks_use_the_official_splits(tmp_path: Path) -> None:
    banking = build_task("banking77", config(tmp_path))
    assert len(banking.labels) == 77 and banking.oos is None
    assert len(banking.tests["test"]) == 300  # smoke subsample of the official 3,080
    clinc = build_task("clinc150", config(tmp_path))
    assert len(clinc.labels) == 151 and clinc.oos == "oos"
    assert any(e.intent == "oos" for e in clinc.train)


def test_align_reorders_columns() -> None:
    probs = np.array([[0.2, 0.8]])
    assert _align(probs, ["b", "a"], ["a", "c", "b"]).tolist() == [[0.8, 0.0, 0.2]]


def test_score_with_an_out_of_scope_threshold(tmp_path: Path) -> None:
    from classifiers.bench import Task

    val = [Example("x", intent="a"), Example("y", intent="oos"), Example("z", intent="b")]
    test = [Example("p", intent="a"), Example("q", intent="oos"), Example("r", intent="b")]
    task = Task("clinc150", val, val, {"test": test}, ["a", "b", "oos"], oos="oos")
    flat = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.85, 0.05]])
    run = ModelRun({"val": flat, "test": flat}, task.labels, 1.0, 1.0)
    scored = _score(task, run)
    assert scored["oos_threshold"] > 0.4
    assert scored["test"]["accuracy"] == 1.0 and scored["test"]["oos_recall"] == 1.0
    assert scored["test"]["class_only"]["oos_recall"] == 0.0
    assert scored["test"]["predicted"] == ["a", "oos", "b"]
    assert _confusion(task, scored)["matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
