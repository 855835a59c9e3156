"""The goal-routing evaluation: its scoring on hand-made signals, and a run with a real classifier
over the labeled Spanish and French messages."""

from __future__ import annotations

from pathlib import Path

from classifiers import Classifier
from classifiers.pipeline import TrainResult
from evals.goal_routing import POLICIES, Signals, accuracy, default_message_paths, evaluate, signals


def _s(text: str, gold: str | None, cue: str | None, intent: str, confidence: float) -> Signals:
    return Signals(text, "set", "en", gold, cue, intent, confidence, intent == "out_of_scope")


ROWS = [
    _s("is there a fee if I cancel?", "policy", "cancel_order", "check_cancellation_fee", 0.9),
    _s("cancel it", "cancel_order", "cancel_order", "cancel_order", 0.4),
    _s("where's my stuff", "track_order", None, "track_order", 0.8),
    _s("tell me a joke", None, None, "out_of_scope", 0.9),
]


def test_policies_are_scored_against_the_gold_goal() -> None:
    assert accuracy(POLICIES["cue_first"], ROWS, 0.5) == 0.75
    assert accuracy(POLICIES["classifier_first"], ROWS, 0.5) == 1.0
    assert accuracy(POLICIES["classifier_only"], ROWS, 0.5) == 0.75
    assert accuracy(POLICIES["cue_only"], ROWS, 0.5) == 0.5
    report = evaluate(ROWS, thresholds=(0.3, 0.5), min_confidence=0.5)
    assert report["accuracy"]["all"]["agent"] == 1.0 and report["accuracy"]["en"]["n"] == 4
    assert report["by_threshold"]["0.3"]["classifier_only"] == 1.0
    assert report["agent_misses"] == []


def test_signals_from_a_labeled_file(tiny_model: TrainResult) -> None:
    path = next(p for p in default_message_paths() if p.name == "routing_es_fr.jsonl")
    rows = signals(Classifier(Path(tiny_model.folder)), path)
    assert len(rows) == 30
    assert {s.language for s in rows} == {"es", "fr"}
    assert sum(s.gold is None for s in rows) == 2  # the out-of-scope ones
    assert all(s.source == "routing_es_fr" for s in rows)
    assert evaluate(rows)["accuracy"]["es+fr"]["n"] == 30
