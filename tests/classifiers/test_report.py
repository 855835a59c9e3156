from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classifiers.report import markdown_tables, write_reports


def fake_report() -> dict[str, Any]:
    latency = {
        "batch1_p50_ms": 1.2, "batch1_p95_ms": 2.0, "batch32_ms_per_msg": 0.9,
        "batch32_msg_per_s": 1100.0, "peak_rss_mb": 150.0, "threads": 1, "load_s": 0.3,
    }  # fmt: skip
    test = {
        "n": 3, "accuracy": 2 / 3, "macro_precision": 0.5, "macro_recall": 0.5, "macro_f1": 0.5,
        "ece": 0.1, "correct": [1, 1, 0], "predicted": ["a", "b", "b"],
    }  # fmt: skip
    severity = {
        "tickets_heldout": {"n": 3, "mae": 0.5, "rounded_accuracy": 0.5, "constant_baseline_mae": 0.6},
        "severity_ours": {"n": 2, "mae": 0.7, "rounded_accuracy": 0.5, "constant_baseline_mae": 1.0},
    }  # fmt: skip
    clinc_test = {**test, "in_scope_accuracy": 0.9, "oos_recall": 0.8, "sweep": [[0.0, 0.95, 0.5]]}
    return {
        "created": "2026-11-22T00:00:00+00:00",
        "environment": {"cpu_count": 2, "platform": "linux"},
        "seconds": 120,
        "model_names": {"minilm_onnx_int8": "fine-tuned (ONNX int8)"},
        "tasks": {
            "bitext": {
                "sizes": {"train": 10, "val": 2, "test": 3},
                "labels": 2,
                "results": {
                    "minilm_onnx_int8": {
                        "train_seconds": 10.0,
                        "epochs": 3.0,
                        "test": test,
                        "natural": {**test, "accuracy": 0.5},
                        "latency": latency,
                        "severity": severity,
                    },
                    "tfidf_lr": {"train_seconds": 1.0, "epochs": 1.0, "test": test},
                },  # fmt: skip
                "mcnemar": [
                    {
                        "a": "minilm_onnx_int8",
                        "b": "tfidf_lr",
                        "set": "test",
                        "accuracy_a": 0.6,
                        "accuracy_b": 0.6,
                        "only_a": 0,
                        "only_b": 0,
                        "p_value": 1.0,
                    }
                ],  # fmt: skip
                "confusion": {"rows": ["a", "b"], "cols": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
            },
            "clinc150": {
                "sizes": {"train": 10, "val": 2, "test": 3},
                "labels": 3,
                "results": {
                    "minilm_onnx_int8": {
                        "train_seconds": 5.0,
                        "epochs": 3.0,
                        "test": clinc_test,
                        "oos_threshold": 0.4,
                    }  # fmt: skip
                },
                "mcnemar": [],
            },
        },
        "ablations": {
            "multitask": {
                "multi_task": {
                    "bitext_8k_accuracy": 0.9,
                    "natural_accuracy": 0.7,
                    "clinc_oos_recall": 0.9,
                    "tickets_severity_mae": 0.6,
                    "ours_severity_mae": 0.8,
                    "sentiment_accuracy_ours": 0.7,
                    "train_seconds": 100,
                    "batch1_p50_ms": 2.0,
                }
            }
        },  # fmt: skip
    }


def test_markdown_has_the_four_tables_and_targets() -> None:
    text = markdown_tables(fake_report())
    for heading in ("Table 1", "Table 2", "Table 3", "Table 4", "McNemar", "Targets"):
        assert heading in text
    assert "| fine-tuned (ONNX int8) | 0.6667 |" in text
    assert "1100.0" in text and "0.8000" in text


def test_write_reports(tmp_path: Path) -> None:
    paths = write_reports(fake_report(), tmp_path)
    data = json.loads(paths["json"].read_text())
    assert "correct" not in data["tasks"]["bitext"]["results"]["tfidf_lr"]["test"]
    rows = json.loads(paths["rows"].read_text())
    assert rows["bitext"]["tfidf_lr"]["test"]["correct"] == [1, 1, 0]
    page = paths["html"].read_text()
    assert page.count("<img") == 3 and "<table>" in page
    assert paths["markdown"].read_text().startswith("# Classifier benchmark")
