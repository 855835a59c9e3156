from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.latency import measure_in_subprocess, model_meta
from classifiers.pipeline import TrainResult


def test_onnx_latency_and_memory_in_a_fresh_process(tiny_model: TrainResult) -> None:
    assert model_meta(tiny_model.folder)["max_length"] == 24
    texts = ["where is my order", "I want a refund for the lamp", "hello"] * 20
    result = measure_in_subprocess("onnx", tiny_model.folder, texts, threads=1)
    assert "error" not in result, result
    assert 0 < result["batch1_p50_ms"] < 100 and result["batch32_msg_per_s"] > 10
    # onnxruntime + tokenizers + numpy, no torch: well under the 300 MB target.
    assert 20 < result["peak_rss_mb"] < 300


def test_meta_of_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        model_meta(tmp_path)
