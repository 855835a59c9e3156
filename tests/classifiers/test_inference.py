from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from classifiers.errors import ModelNotFoundError
from classifiers.inference import Classifier, Prediction
from classifiers.pipeline import TrainResult

CATALOG = ["Running Shoes", "Office Chair"]


@pytest.fixture(scope="module")
def classifier(tiny_model: TrainResult) -> Classifier:
    return Classifier.from_pretrained(tiny_model.folder, catalog=CATALOG, threads=1, top_k=3)


def test_single_prediction_has_every_field(classifier: Classifier) -> None:
    p = classifier.predict("where is my order #W1234567? I paid $40 for the running shoes")
    assert isinstance(p, Prediction)
    assert p.intent in classifier.intents and p.category == classifier.categories[p.intent]
    assert 0.0 <= p.confidence <= 1.0 and len(p.top_k) == 3
    assert p.top_k[0][1] == pytest.approx(p.confidence)
    assert [x[1] for x in p.top_k] == sorted((x[1] for x in p.top_k), reverse=True)
    assert 1.0 <= p.severity <= 5.0 and p.severity_level in {1, 2, 3, 4, 5}
    assert p.sentiment in {"negative", "neutral", "positive"} and -1 <= p.sentiment_score <= 1
    assert {(e.type, e.value) for e in p.entities} == {
        ("order_id", "#W1234567"),
        ("amount", "40 USD"),
        ("product", "Running Shoes"),
    }
    assert p.to_dict()["entities"][0]["type"] == "order_id"


def test_batch_equals_singles(classifier: Classifier) -> None:
    """Same decisions; int8 dynamic quantisation scales activations per batch, so probabilities
    move a little with a message's batch-mates."""
    texts = ["cancel my order", "I want a refund", "where is my package??", "hello"]
    batch = classifier.predict(texts)
    singles = [classifier.predict(t) for t in texts]
    assert [p.intent for p in batch] == [p.intent for p in singles]
    assert np.allclose([p.confidence for p in batch], [p.confidence for p in singles], atol=0.06)
    assert classifier.predict([]) == []


def test_tiny_model_knows_the_common_intents(classifier: Classifier) -> None:
    got = classifier.predict(
        ["I want to cancel my order", "how do I reset my password", "I need a refund"]
    )
    assert (
        sum(
            p.intent == i
            for p, i in zip(got, ["cancel_order", "recover_password", "get_refund"], strict=True)
        )
        >= 2
    )


def test_out_of_scope_messages_get_low_confidence(
    classifier: Classifier, tiny_model: TrainResult
) -> None:
    """CLINC oos_test rows: mostly flagged out-of-scope, and the in-scope intent they would get is
    far less confident than on real support requests."""
    oos = tiny_model.card["metrics"]["clinc_oos_test"]["intent"]
    assert oos["oos_recall"] >= 0.6
    off_topic = [
        "what's the weather in Paris tomorrow",
        "tell me a joke about cats",
        "who won the game last night",
    ]
    support = ["I want to cancel my order", "where is my refund", "I forgot my password"]
    probs_off = classifier.predict_proba(off_topic)
    probs_on = classifier.predict_proba(support)
    oos_index = classifier.oos_index
    in_scope_conf_off = np.delete(probs_off, oos_index, axis=1).max(axis=1)
    in_scope_conf_on = np.delete(probs_on, oos_index, axis=1).max(axis=1)
    assert in_scope_conf_off.mean() < in_scope_conf_on.mean() - 0.2
    assert sum(p.out_of_scope for p in classifier.predict(off_topic)) >= 2


def test_blank_and_url_only_messages_are_out_of_scope(classifier: Classifier) -> None:
    for text in ["", "   \n", "https://example.com/x"]:
        p = classifier.predict(text)
        assert p.out_of_scope and p.intent == classifier.out_of_scope_intent
        assert p.confidence == 0.0 and p.top_k == () and p.text == text


def test_thread_safe(classifier: Classifier) -> None:
    texts = [f"where is my order number {i}" for i in range(8)] + ["refund please"] * 8
    expected = [p.intent for p in classifier.predict(texts)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append([p.intent for p in classifier.predict(texts)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    assert all(r == expected for r in results)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="concierge train"):
        Classifier.from_pretrained(tmp_path)


def test_catalog_can_be_replaced(classifier: Classifier) -> None:
    classifier.set_catalog(["Desk Lamp"])
    try:
        p = classifier.predict("my desk lamp flickers")
        assert [e.value for e in p.entities] == ["Desk Lamp"]
    finally:
        classifier.set_catalog(CATALOG)
