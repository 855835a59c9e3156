"""The classifier on our own held-out sets: how it reads real customers, in the figures a shop relies on.

- ``natural_test`` / ``natural_eval``: English messages in natural wording (typos, slang, run-on
  sentences, several requests, indirect requests) over all 31 intents;
- ``spanish_test`` / ``french_test``: the same in Spanish and French;
- ``frustration_test``: messages from calm to abusive, labelled by ``data/FRUSTRATION_RUBRIC.md`` with
  tone, severity, sentiment and whether the agent must hand the conversation to a person;
- ``frustration_test2``: the same, written later by another writer from the rubric alone, once the
  first set had been looked at while the severity head was designed: the untouched one.

None of them is ever trained on (``data/TEST_SETS.md``). Each message's language is detected as the
agent detects it (``classifiers.language``) and the message read in that language, so Spanish and
French go to the multilingual head where the model has one, as they do in a conversation.
Escalation is read with the thresholds the agent uses (``agent.context.Context``: severity level 4
and up, or a sentiment score of -0.85 and below),
passed in so that this package does not depend on the agent's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from classifiers.corpus import DATA_DIR
from classifiers.datasets import jsonl_objects
from classifiers.errors import DatasetFormatError
from classifiers.inference import Classifier, Prediction
from classifiers.labels import ESCALATION_LEVEL, NEGATIVE_SENTIMENT
from classifiers.language import detect_language
from classifiers.metrics import mcnemar

__all__ = ["INTENT_SETS", "compare_heldout", "evaluate_heldout", "load_rows"]

INTENT_SETS: Final = ("natural_eval", "natural_test", "spanish_test", "french_test")
FRUSTRATION_SETS: Final = ("frustration_test", "frustration_test2")


def load_rows(name: str, data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    """The rows of ``data_dir/name.jsonl``; a malformed line is an error naming it."""
    path = data_dir / f"{name}.jsonl"
    rows = []
    for line, row in jsonl_objects(path):
        if not isinstance(row.get("text"), str):
            raise DatasetFormatError(path, "a row needs a 'text' string", line=line)
        rows.append(row)
    return rows


def _read(classifier: Classifier, texts: Sequence[str]) -> tuple[list[Prediction], list[str]]:
    """Each text read in the language detected for it, as the agent reads a first message."""
    languages = [detect_language(t) for t in texts]
    preds: list[Prediction | None] = [None] * len(texts)
    for language in sorted(set(languages)):
        idx = [i for i, lang in enumerate(languages) if lang == language]
        read = classifier.predict([texts[i] for i in idx], language=language)
        for i, p in zip(idx, read, strict=True):
            preds[i] = p
    return [p for p in preds if p is not None], list(languages)


def _intents(rows: Sequence[dict[str, Any]], preds: Sequence[Prediction]) -> dict[str, Any]:
    pairs = list(zip(rows, preds, strict=True))
    right = [r["intent"] == p.intent for r, p in pairs]
    oos = [p.intent == "out_of_scope" for r, p in pairs if r["intent"] == "out_of_scope"]
    in_scope = [r["intent"] == p.intent for r, p in pairs if r["intent"] != "out_of_scope"]
    confused = Counter(f"{r['intent']} -> {p.intent}" for r, p in pairs if r["intent"] != p.intent)
    return {
        "n": len(rows),
        "accuracy": round(sum(right) / len(rows), 4),
        "in_scope_accuracy": round(sum(in_scope) / len(in_scope), 4) if in_scope else None,
        "oos_recall": round(sum(oos) / len(oos), 4) if oos else None,
        "top_confusions": confused.most_common(8),
    }


def _escalated(p: Prediction, severity_escalation: int, negative_sentiment: float) -> bool:
    """The agent's decision: the escalation head's where it read the message, else the thresholds."""
    if p.escalate is not None:
        return p.escalate
    return p.severity_level >= severity_escalation or p.sentiment_score <= negative_sentiment


def _frustration(
    rows: Sequence[dict[str, Any]],
    preds: Sequence[Prediction],
    severity_escalation: int,
    negative_sentiment: float,
) -> dict[str, Any]:
    pairs = list(zip(rows, preds, strict=True))
    escalated = [_escalated(p, severity_escalation, negative_sentiment) for p in preds]
    gold = [bool(r["escalate"]) for r in rows]
    tp = sum(e and g for e, g in zip(escalated, gold, strict=True))
    fp = sum(e and not g for e, g in zip(escalated, gold, strict=True))
    fn = sum(g and not e for e, g in zip(escalated, gold, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_tone: dict[str, list[float]] = {}
    for r, p in pairs:
        by_tone.setdefault(r["tone"], []).append(p.severity_level - r["severity"])
    return {
        "n": len(rows),
        "severity_mae": round(
            sum(abs(p.severity_level - r["severity"]) for r, p in pairs) / len(rows), 4
        ),
        "severity_bias_by_tone": {t: round(sum(v) / len(v), 3) for t, v in sorted(by_tone.items())},
        "sentiment_accuracy": round(
            sum(p.sentiment == r["sentiment"] for r, p in pairs) / len(rows), 4
        ),
        "escalation": {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "thresholds": {
                "severity_level": severity_escalation,
                "sentiment_score": negative_sentiment,
            },
        },
    }


def evaluate_heldout(
    classifier: Classifier,
    data_dir: Path = DATA_DIR,
    *,
    severity_escalation: int = ESCALATION_LEVEL,
    negative_sentiment: float = NEGATIVE_SENTIMENT,
) -> dict[str, Any]:
    """The classifier's figures on every held-out set of ours present in ``data_dir``."""
    report: dict[str, Any] = {}
    for name in (*INTENT_SETS, *FRUSTRATION_SETS):
        if not (data_dir / f"{name}.jsonl").is_file():
            continue
        rows = load_rows(name, data_dir)
        started = time.perf_counter()
        preds, languages = _read(classifier, [r["text"] for r in rows])
        if name in FRUSTRATION_SETS:
            entry = _frustration(rows, preds, severity_escalation, negative_sentiment)
        else:
            entry = _intents(rows, preds)
        entry["languages_detected"] = dict(Counter(languages).most_common())
        if all("lang" in r for r in rows):
            entry["language_detection_accuracy"] = round(
                sum(r["lang"] == lang for r, lang in zip(rows, languages, strict=True)) / len(rows),
                4,
            )
        entry["ms_per_message"] = round((time.perf_counter() - started) * 1000 / len(rows), 3)
        report[name] = entry
    return report


def _correct(
    classifier: Classifier, name: str, rows: Sequence[dict[str, Any]], thresholds: tuple[int, float]
) -> list[bool]:
    """Per message: the intent read right, or (frustration set) the escalation decided right."""
    preds, _ = _read(classifier, [r["text"] for r in rows])
    if name in FRUSTRATION_SETS:
        severity, sentiment = thresholds
        return [
            _escalated(p, severity, sentiment) == bool(r["escalate"])
            for r, p in zip(rows, preds, strict=True)
        ]
    return [p.intent == r["intent"] for r, p in zip(rows, preds, strict=True)]


def compare_heldout(
    models: Mapping[str, Classifier],
    reference: str,
    data_dir: Path = DATA_DIR,
    *,
    severity_escalation: int = ESCALATION_LEVEL,
    negative_sentiment: float = NEGATIVE_SENTIMENT,
) -> dict[str, dict[str, Any]]:
    """Ablation rows: each model's accuracy on every held-out set (on the frustration set, of the
    escalation decision), with McNemar's test on the same messages against ``reference`` and
    against the row before it (each row one change more than the last)."""
    thresholds = (severity_escalation, negative_sentiment)
    table: dict[str, dict[str, Any]] = {name: {} for name in models}
    for set_name in (*INTENT_SETS, *FRUSTRATION_SETS):
        if not (data_dir / f"{set_name}.jsonl").is_file():
            continue
        rows = load_rows(set_name, data_dir)
        correct = {m: _correct(c, set_name, rows, thresholds) for m, c in models.items()}
        previous: str | None = None
        for m, right in correct.items():
            entry: dict[str, Any] = {"accuracy": round(sum(right) / len(right), 4)}
            if m != reference:
                entry["mcnemar_vs_reference"] = mcnemar(correct[reference], right)
            if previous is not None and previous != reference:
                entry["mcnemar_vs_previous_row"] = mcnemar(correct[previous], right)
            table[m][set_name] = entry
            previous = m
    return table
