from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.corpus import CorpusConfig
from classifiers.inference import CONFIG_FILE
from classifiers.pipeline import CORPUS_PRESETS, TrainResult, corpus_config
from classifiers.taxonomy import load_taxonomy


def test_model_folder_has_everything_inference_needs(tiny_model: TrainResult) -> None:
    names = {p.name for p in tiny_model.folder.iterdir()}
    assert {CONFIG_FILE, "model.int8.onnx", "tokenizer.json", "taxonomy.json"} <= names
    assert {"model_card.json", "torch"} <= names
    assert "model.fp32.onnx" not in names
    assert not list(tiny_model.folder.parent.glob(".classifier.*"))  # staging cleaned up
    config = json.loads((tiny_model.folder / CONFIG_FILE).read_text())
    assert config["intents"] == list(load_taxonomy().intents)
    assert 0 < config["temperature"] < 20 and 0 <= config["oos_threshold"] < 1


def test_model_card_records_data_splits_metrics_and_timings(tiny_model: TrainResult) -> None:
    card = json.loads((tiny_model.folder / "model_card.json").read_text())
    assert card == json.loads(json.dumps(tiny_model.card, default=float))
    assert card["mode"] == "test"
    sources = card["data"]["sources"]
    assert any(Path(p).name == "TrainingdatasetBitextsample.csv" for p in sources)
    assert all(len(s["sha256"]) == 64 for s in sources.values())
    assert set(card["data"]["splits"]) == {"train", "val", "test"}
    assert {"data", "train", "calibrate", "export", "evaluate", "total"} <= set(card["timings_s"])
    assert card["training"]["steps"] > 0
    assert "Seed paper 000 is not available" in card["notes"][0]


def test_tiny_model_beats_the_majority_baseline_by_far(tiny_model: TrainResult) -> None:
    """Trained on ~1,300 rows for two short epochs, scored on held-out Bitext rows."""
    metrics = tiny_model.card["metrics"]
    held = metrics["bitext_8k"]["intent"]
    majority = 1 / 27 * 1.2  # the 8k set is balanced: the best constant guess gets ~1/27
    assert held["n"] >= 100
    assert held["accuracy"] > 0.5 > 5 * majority


def test_calibration_lowers_ece(tiny_model: TrainResult) -> None:
    calibration = tiny_model.card["calibration"]
    assert calibration["val_ece_after"] < calibration["val_ece_before"]


def test_onnx_agrees_with_torch(tiny_model: TrainResult, tmp_path: Path) -> None:
    """fp32 ONNX reproduces torch; int8 keeps the decisions (ties of an undertrained model aside)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from classifiers.export import export_onnx
    from classifiers.modeling import ConciergeModel
    from classifiers.tokenization import encode_batch, load_tokenizer

    model = ConciergeModel.from_pretrained(tiny_model.folder / "torch")
    path = export_onnx(model, tmp_path / "fp32.onnx")
    tokenizer = load_tokenizer(tiny_model.folder, 24)
    ids, mask = encode_batch(tokenizer, ["where is my order #W1234567?", "refund pls", "hi"])
    with torch.inference_mode():
        expected = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    intent, severity, sentiment = session.run(None, {"input_ids": ids, "attention_mask": mask})
    assert np.allclose(intent, expected.intent_logits.numpy(), atol=1e-4)
    assert np.allclose(severity, expected.severity.numpy(), atol=1e-4)
    assert np.allclose(sentiment, expected.sentiment_logits.numpy(), atol=1e-4)
    agreement = tiny_model.card["metrics"]["torch_vs_onnx_int8"]
    assert agreement["argmax_agreement"] >= 0.9


def test_presets_shrink_the_corpus() -> None:
    tax = load_taxonomy()
    quick = corpus_config("quick", Path("d"), tax, seed=1)
    full = corpus_config("full", Path("d"), tax, seed=1, extra_files=[Path("x.jsonl")])
    assert isinstance(quick, CorpusConfig)
    assert quick.max_train_per_intent == CORPUS_PRESETS["quick"]["max_train_per_intent"]
    assert full.max_train_per_intent == CorpusConfig(Path("d"), tax).max_train_per_intent
    assert full.extra_files == (Path("x.jsonl"),)


@pytest.mark.parametrize("name", ["test", "quick", "full"])
def test_training_arguments_presets(name: str) -> None:
    from classifiers.training_args import TrainingArguments

    args = TrainingArguments.preset(name, seed=3)  # type: ignore[arg-type]
    assert args.seed == 3 and args.epochs >= 1
    assert args.to_dict()["max_length"] == args.max_length
