"""Our held-out sets scored the way a shop reads them: accuracy per language, out-of-scope recall,
and whether the agent's escalation thresholds catch the messages a person must see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers import Classifier
from classifiers.errors import DatasetFormatError
from classifiers.heldout import evaluate_heldout
from classifiers.pipeline import TrainResult


def _write(folder: Path, name: str, rows: list[dict[str, object]]) -> None:
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_figures_follow_the_predictions(tmp_path: Path, tiny_model: TrainResult) -> None:
    classifier = Classifier.from_pretrained(tiny_model.folder)
    natural = [
        {"id": "a", "text": "where the heck is my package", "intent": "track_order"},
        {"id": "b", "text": "cancel it pls i ordered by mistake", "intent": "cancel_order"},
        {"id": "c", "text": "who won the game last night", "intent": "out_of_scope"},
    ]
    furious = "THIRD time writing. You charged me twice. I'm disputing it with my bank."
    frustration = [
        {"id": "f1", "text": furious, "tone": "threatening", "severity": 5,
         "sentiment": "negative", "escalate": True},
        {"id": "f2", "text": "thanks so much, you were great", "tone": "calm", "severity": 1,
         "sentiment": "positive", "escalate": False},
    ]  # fmt: skip
    _write(tmp_path, "natural_test", natural)
    _write(tmp_path, "frustration_test", frustration)

    report = evaluate_heldout(classifier, tmp_path, severity_escalation=4, negative_sentiment=-0.85)

    assert set(report) == {"natural_test", "frustration_test"}  # only the sets present
    preds = classifier.predict([r["text"] for r in natural])
    right = sum(p.intent == r["intent"] for p, r in zip(preds, natural, strict=True))
    assert report["natural_test"]["accuracy"] == round(right / 3, 4)
    assert report["natural_test"]["oos_recall"] == float(preds[2].intent == "out_of_scope")
    f1, f2 = classifier.predict([furious, frustration[1]["text"]])
    caught = f1.severity_level >= 4 or f1.sentiment_score <= -0.85
    false_alarm = f2.severity_level >= 4 or f2.sentiment_score <= -0.85
    assert report["frustration_test"]["escalation"]["recall"] == float(caught)
    assert report["frustration_test"]["severity_mae"] == round(
        (abs(f1.severity_level - 5) + abs(f2.severity_level - 1)) / 2, 4
    )
    if caught and not false_alarm:
        assert report["frustration_test"]["escalation"]["f1"] == 1.0


def test_a_malformed_line_is_named(tmp_path: Path, tiny_model: TrainResult) -> None:
    (tmp_path / "spanish_test.jsonl").write_text(
        '{"text": "hola", "intent": "track_order"}\n{oops\n'
    )
    with pytest.raises(DatasetFormatError, match="spanish_test.jsonl.*line 2"):
        evaluate_heldout(Classifier.from_pretrained(tiny_model.folder), tmp_path)
