"""The multilingual head: Spanish and French customers read by a model (the real packaged
multilingual-e5-small), in the same intents as the English model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from classifiers import Classifier, Example, ModelNotFoundError, MultilingualHead
from classifiers.heldout import compare_heldout, evaluate_heldout
from classifiers.inference import SEVERITY_SECOND_OPINION_FROM
from classifiers.multilingual import (
    HEAD_FILE,
    EscalationHead,
    embed,
    fit_escalation,
    fit_head,
    fit_severity,
    head_rows,
    severity_rows,
)
from classifiers.pipeline import TrainResult

# English only: what the head learns must carry over to Spanish and French through the encoder.
ENGLISH = {
    "track_order": [
        "where is my order",
        "my package hasn't arrived yet, where is it",
        "can you tell me when my parcel gets here",
        "tracking says nothing, where's my stuff",
        "has my order shipped yet",
        "when will my delivery arrive",
    ],
    "cancel_order": [
        "cancel my order please",
        "I don't want it anymore, cancel the purchase",
        "please stop my order before it ships",
        "I ordered by mistake, cancel it",
        "how do I cancel what I just bought",
        "call off my order",
    ],
    "get_refund": [
        "I want my money back",
        "refund me please",
        "when do I get my refund",
        "give me a refund for the broken item",
        "I was charged and want the money returned",
        "how long until the refund shows up",
    ],
}
FOREIGN = [
    ("¿dónde está mi pedido? no ha llegado", "track_order"),
    ("quiero cancelar mi pedido, lo pedí por error", "cancel_order"),
    ("quiero que me devuelvan mi dinero", "get_refund"),
    ("où est mon colis ? il n'est toujours pas arrivé", "track_order"),
    ("je veux annuler ma commande", "cancel_order"),
    ("je voudrais être remboursé", "get_refund"),
]


def _rows() -> tuple[list[str], list[str]]:
    texts = [t for rows in ENGLISH.values() for t in rows]
    labels = [intent for intent, rows in ENGLISH.items() for _ in rows]
    return texts, labels


@pytest.fixture(scope="module")
def small_head() -> MultilingualHead:
    texts, labels = _rows()
    vectors = embed(texts)
    return fit_head(vectors, labels, vectors[::3], labels[::3], list(ENGLISH))


def test_english_rows_teach_spanish_and_french(small_head: MultilingualHead) -> None:
    probs = small_head.predict_proba([t for t, _ in FOREIGN])
    read = [small_head.intents[i] for i in probs.argmax(axis=1)]
    assert read == [intent for _, intent in FOREIGN]
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_a_saved_head_reads_the_same(small_head: MultilingualHead, tmp_path: Path) -> None:
    small_head.save(tmp_path / HEAD_FILE)
    loaded = MultilingualHead.load(tmp_path / HEAD_FILE)
    assert loaded.intents == small_head.intents and loaded.languages == ("es", "fr")
    vectors = embed(["je veux annuler ma commande"])
    assert np.allclose(loaded.proba(vectors), small_head.proba(vectors))


def test_an_intent_without_rows_is_never_chosen() -> None:
    texts, labels = _rows()
    vectors = embed(texts)
    head = fit_head(vectors, labels, vectors[:0], [], [*ENGLISH, "delete_account"])
    probs = head.proba(embed(["borra mi cuenta", "supprimez mon compte"]))
    assert probs[:, -1].max() < 1e-6


def _example(text: str, intent: str, source: str) -> Example:
    return Example(text=text, intent=intent, source=source)


def test_the_head_learns_from_our_rows_not_the_templates() -> None:
    rows = [
        _example("where is my order", "track_order", "intents_more"),
        _example("WHERE IS MY ORDER", "track_order", "intents_more"),  # the same text again
        _example("¿dónde está mi pedido?", "track_order", "intents_es_fr"),
        *(_example(f"I need to track order {i}", "track_order", "bitext_20k") for i in range(9)),
        *(
            _example(f"what is the weather on day {i}", "out_of_scope", "clinc150")
            for i in range(9)
        ),
    ]
    picked = head_rows(rows, bitext_per_intent=2, oos_rows=3)
    sources = [r.source for r in picked]
    assert sources.count("intents_more") == 1 and sources.count("intents_es_fr") == 1
    assert sources.count("bitext_20k") == 2 and sources.count("clinc150") == 3


def _with_head(model: TrainResult, tmp_path: Path, intents: tuple[str, ...]) -> Path:
    folder = tmp_path / "classifier"
    shutil.copytree(model.folder, folder)
    texts, labels = _rows()
    vectors = embed(texts)
    fit_head(vectors, labels, vectors[:0], [], intents).save(folder / HEAD_FILE)
    return folder


def test_the_classifier_reads_spanish_with_its_head(
    tiny_model: TrainResult, tmp_path: Path
) -> None:
    english_only = Classifier.from_pretrained(tiny_model.folder)
    clf = Classifier.from_pretrained(
        _with_head(tiny_model, tmp_path, english_only.intents), second_opinion_below=0.0
    )
    assert english_only.languages == ("en",) and clf.languages == ("en", "es", "fr")

    spanish = "quiero cancelar mi pedido, lo pedí por error"
    p = clf.predict(spanish, language="es")
    assert p.intent == "cancel_order" and p.top_k[0][0] == "cancel_order"
    # Severity, sentiment and entities still come from the main model; English is unchanged.
    plain = english_only.predict(spanish)
    assert p.severity == plain.severity and p.sentiment == plain.sentiment
    assert clf.predict("where is my order", language="en") == english_only.predict(
        "where is my order"
    )
    french = clf.predict(["je veux annuler ma commande", "où est mon colis ?"], language="fr")
    assert [x.intent for x in french] == ["cancel_order", "track_order"]


def test_a_head_for_other_intents_is_refused(tiny_model: TrainResult, tmp_path: Path) -> None:
    folder = _with_head(tiny_model, tmp_path, tuple(ENGLISH))
    with pytest.raises(ModelNotFoundError, match="other intents"):
        Classifier.from_pretrained(folder)


def test_the_heldout_sets_are_read_in_the_language_detected(
    tiny_model: TrainResult, tmp_path: Path
) -> None:
    clf = Classifier.from_pretrained(
        _with_head(tiny_model, tmp_path, Classifier.from_pretrained(tiny_model.folder).intents)
    )
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": f"es-{i}", "text": text, "intent": intent, "lang": "es"}
        for i, (text, intent) in enumerate(FOREIGN[:2])
    ]
    (data / "spanish_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    report = evaluate_heldout(clf, data)["spanish_test"]

    assert report["languages_detected"] == {"es": 2}
    assert report["language_detection_accuracy"] == 1.0
    assert report["accuracy"] == 1.0


def test_the_ablation_rows_pair_the_same_messages(tiny_model: TrainResult, tmp_path: Path) -> None:
    english_only = Classifier.from_pretrained(tiny_model.folder)
    clf = Classifier.from_pretrained(_with_head(tiny_model, tmp_path, english_only.intents))
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": f"fr-{i}", "text": text, "intent": intent, "lang": "fr"}
        for i, (text, intent) in enumerate(FOREIGN[3:])
    ]
    (data / "french_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    table = compare_heldout({"before": english_only, "after": clf}, "before", data)

    read_before = english_only.predict([r["text"] for r in rows])
    right_before = [p.intent == r["intent"] for p, r in zip(read_before, rows, strict=True)]
    assert table["before"]["french_test"] == {"accuracy": round(sum(right_before) / 3, 4)}
    after = table["after"]["french_test"]
    assert after["accuracy"] == 1.0
    assert after["mcnemar_vs_reference"]["only_b"] == 3 - sum(right_before)
    assert after["mcnemar_vs_reference"]["only_a"] == 0


def test_english_the_model_hesitates_on_gets_a_second_opinion(
    tiny_model: TrainResult, tmp_path: Path
) -> None:
    english_only = Classifier.from_pretrained(tiny_model.folder)
    folder = _with_head(tiny_model, tmp_path, english_only.intents)
    always = Classifier.from_pretrained(folder, second_opinion_below=1.0)
    never = Classifier.from_pretrained(folder, second_opinion_below=0.0)
    texts = ["please cancel my order, I bought it by mistake", "where is my parcel"]
    assert always.multilingual is not None

    main = english_only.predict_proba(texts)
    second = always.multilingual.predict_proba(texts)
    assert np.allclose(always.predict_proba(texts), (main + second) / 2)
    assert np.allclose(never.predict_proba(texts), main)
    # Only the messages below the threshold are read twice.
    cut = float(main[0].max() + main[1].max()) / 2
    between = Classifier.from_pretrained(folder, second_opinion_below=cut)
    low = int(np.argmin(main.max(axis=1)))
    mixed = between.predict_proba(texts)
    assert np.allclose(mixed[low], (main[low] + second[low]) / 2)
    assert np.allclose(mixed[1 - low], main[1 - low])
    # predict reads the same way: the intent and confidence of the averaged probabilities.
    p = always.predict(texts[0], language="en")
    # (int8 activations are scaled per batch: a message alone reads a hair differently)
    assert p.confidence == pytest.approx(float(((main[0] + second[0]) / 2).max()), abs=2e-3)


def _level_clusters(seed: int, swap: bool = False) -> tuple[np.ndarray, list[float]]:
    """Eight-dimensional vectors in one cluster per severity level 1-5 (``swap``: labelled 6 - level)."""
    rng = np.random.default_rng(seed)
    vectors, levels = [], []
    for level in range(1, 6):
        centre = np.zeros(8)
        centre[level] = 4.0
        for _ in range(12):
            vectors.append(centre + 0.3 * rng.normal(size=8))
            levels.append(float(6 - level if swap else level))
    return np.asarray(vectors, dtype=np.float32), levels


def test_the_severity_head_is_mixed_in_as_far_as_validation_trusts_it() -> None:
    train_x, train_y = _level_clusters(1)
    val_x, val_y = _level_clusters(2)
    gold = np.asarray(val_y, dtype=np.float32)

    # The English model reads nothing (3 everywhere): the head alone.
    head, report = fit_severity(train_x, train_y, val_x, val_y, np.full(len(gold), 3.0, np.float32))
    assert head.mix == 1.0 and report["1/1"]["mae"] == 0.0 and report["1/0"]["mae"] > 1.0
    assert np.allclose(np.rint(head.levels(val_x)), gold)
    # The head is wrong where the English model is right: the English model alone.
    swapped_x, swapped_y = _level_clusters(3, swap=True)
    head, report = fit_severity(
        train_x, train_y, swapped_x, swapped_y, np.asarray(swapped_y, np.float32)
    )
    assert head.mix == 0.0 and report["1/0"]["mae"] == 0.0
    main = np.asarray(swapped_y, np.float32)
    assert np.allclose(head.severity(swapped_x, main), main)


def test_the_severity_head_hands_off_no_more_plain_requests_than_the_english_model() -> None:
    """Validation rubric rows favour the head alone, but it reads one plain request (level 1 by
    the rules) as severe where the English model does not: a mix that keeps it below 4 is chosen."""
    train_x, train_y = _level_clusters(1)
    val_x, val_y = _level_clusters(2)
    plain = train_x[-1:]  # sits in the level-5 cluster
    val_x = np.vstack([val_x, plain])
    val_y = [*val_y, 1.0]
    main = np.asarray(val_y, np.float32)  # the English model reads every row right
    main[:-1] = 3.0  # ... except the rubric rows, which it reads as 3
    head, report = fit_severity(
        train_x,
        train_y,
        val_x,
        val_y,
        main,
        val_routine=[False] * (len(val_y) - 1) + [True],
    )
    assert report["1/1"]["false_alarms"] == 1 and report["1/1"]["mae"] == 0.0
    assert head.mix < 1.0
    assert report[f"1/{head.mix:g}"]["false_alarms"] == 0
    assert head.severity(plain, main[-1:])[0] < 3.5


def test_a_saved_severity_head_reads_the_same(small_head: MultilingualHead, tmp_path: Path) -> None:
    train_x, train_y = _level_clusters(1)
    severity, _ = fit_severity(train_x, train_y, train_x[:0], [], np.zeros(0, np.float32))
    with_severity = replace(small_head, severity=severity)
    with_severity.save(tmp_path / HEAD_FILE)
    loaded = MultilingualHead.load(tmp_path / HEAD_FILE)
    assert loaded.severity is not None and loaded.severity.mix == severity.mix
    assert np.allclose(loaded.severity.levels(train_x), severity.levels(train_x))
    # A head saved before severity heads existed loads without one.
    small_head.save(tmp_path / "old.npz")
    assert MultilingualHead.load(tmp_path / "old.npz").severity is None


def test_the_severity_rows_are_ours_each_once() -> None:
    rows = [
        Example("my card was charged twice!!", severity=4.0, source="severity_more"),
        Example("MY CARD WAS CHARGED TWICE!!", severity=4.0, source="severity_more"),
        Example("ticket: printer broken", severity=3.0, source="tickets_multi-lang-4-20k"),
        Example("where is my order", intent="track_order", severity=2.0, source="intents_more"),
    ]
    assert [r.text for r in severity_rows(rows)] == ["my card was charged twice!!"]
    # With the everyday rows of our intent files (their rule-derived severity), not the tickets'.
    everyday = severity_rows(rows, routine=True)
    assert [r.text for r in everyday] == ["my card was charged twice!!", "where is my order"]


SEVERITY_ROWS = [
    ("do you ship to Canada?", 1.0),
    ("thanks, the lamp arrived and it looks great", 1.0),
    ("what sizes does the linen shirt come in", 1.0),
    ("my parcel is a few days late, any update?", 3.0),
    ("the mug arrived chipped, can I get a new one", 3.0),
    ("the zip on my jacket broke after a week", 3.0),
    ("I was charged twice and I'm disputing it with my bank", 5.0),
    ("someone placed orders on my account that I never made, this is fraud", 5.0),
    ("the charger melted and nearly set my desk on fire", 5.0),
]


def test_spanish_severity_and_severe_english_are_read_by_the_severity_head(
    tiny_model: TrainResult, tmp_path: Path
) -> None:
    english_only = Classifier.from_pretrained(tiny_model.folder)
    folder = _with_head(tiny_model, tmp_path, english_only.intents)
    vectors = embed([t for t, _ in SEVERITY_ROWS])
    severity, _ = fit_severity(
        vectors, [y for _, y in SEVERITY_ROWS], vectors[:0], [], np.zeros(0, np.float32)
    )
    assert severity.mix == 1.0  # no validation rows: the head alone
    head = MultilingualHead.load(folder / HEAD_FILE)
    replace(head, severity=severity).save(folder / HEAD_FILE)
    clf = Classifier.from_pretrained(folder, second_opinion_below=0.0, english_severity_head=True)

    spanish = ["me cobraron dos veces y voy a reclamar al banco", "¿hacen envíos a Canadá?"]
    read = clf.predict(spanish, language="es")
    assert [p.severity for p in read] == pytest.approx(list(severity.levels(embed(spanish))))
    assert read[0].severity_level >= 4 and read[1].severity_level <= 2
    # English: what the main model reads as possibly severe (or negative) gets the head's reading;
    # the rest keeps the main model's, and the intents are the main model's either way.
    english = [t for t, _ in SEVERITY_ROWS]
    main = english_only.predict(english)
    _, main_severity, sentiment = english_only.raw_outputs(english)
    both = clf.predict(english, language="en")
    levels = severity.levels(embed(english))
    for p, m, s, raw, level in zip(both, main, sentiment, main_severity, levels, strict=True):
        assert p.intent == m.intent
        if raw >= SEVERITY_SECOND_OPINION_FROM or int(np.argmax(s)) == 0:
            assert p.severity == pytest.approx(float(level), abs=1e-4)
        else:
            assert p.severity == m.severity
    # By default English severity stays the English model's; Spanish is still read by the head.
    default = Classifier.from_pretrained(folder, second_opinion_below=0.0)
    assert default.predict(english, language="en") == main
    assert default.predict(spanish, language="es") == read


def _escalation_rows(seed: int) -> tuple[np.ndarray, list[float]]:
    """Features of messages whose kind (the embedding) decides: quiet threats (level 5) read calm
    by the English model, loud coupon questions (level 2) read severe and very negative by it."""
    rng = np.random.default_rng(seed)
    embeddings, severity, sentiment, levels = [], [], [], []
    for kind, (main, score, level) in enumerate([(2.0, -0.2, 5.0), (4.2, -0.95, 2.0)]):
        for _ in range(30):
            centre = np.zeros(8)
            centre[kind] = 3.0
            embeddings.append(centre + 0.3 * rng.normal(size=8))
            severity.append(main)
            sentiment.append(score)
            levels.append(level)
    features = EscalationHead.features(
        np.asarray(embeddings, np.float32),
        np.asarray(severity, np.float32),
        np.asarray(sentiment, np.float32),
    )
    return features, levels


def test_the_escalation_head_hands_off_the_quiet_threat_and_not_the_loud_coupon() -> None:
    train_x, train_y = _escalation_rows(1)
    val_x, val_y = _escalation_rows(2)
    # The English model's thresholds get every row wrong (the coupon reads 4 and -0.95).
    thresholds = [False] * 30 + [True] * 30
    head, report = fit_escalation(train_x, train_y, val_x, val_y, thresholds)
    assert report["1"]["f1"] == 1.0
    z = val_x @ head.weights + head.bias
    assert (z[:30] > 0).all() and (z[30:] < 0).all()


def test_the_escalation_head_hands_off_no_more_plain_requests_than_the_english_model() -> None:
    """Everyday rows that look like the quiet threats (and one more trait of their own): the lighter
    weights let the threats' rows win and hand them off; the weight that keeps them with the bot
    is chosen."""
    rng = np.random.default_rng(3)

    def lookalikes(n: int) -> np.ndarray:
        centre = np.zeros(8)
        centre[0], centre[2] = 3.0, 1.25
        embeddings = (centre + 0.3 * rng.normal(size=(n, 8))).astype(np.float32)
        return EscalationHead.features(
            embeddings, np.full(n, 2.0, np.float32), np.full(n, -0.2, np.float32)
        )

    train_x, train_y = _escalation_rows(1)
    val_x, val_y = _escalation_rows(2)
    train_x = np.vstack([train_x, lookalikes(10)])
    train_y = [*train_y, *[1.0] * 10]
    val_x = np.vstack([val_x, lookalikes(10)])
    val_y = [*val_y, *[1.0] * 10]
    english = [False] * 30 + [True] * 30 + [False] * 10  # it hands off no plain request
    head, report = fit_escalation(
        train_x,
        train_y,
        val_x,
        val_y,
        english,
        routine=[False] * 60 + [True] * 10,
        val_routine=[False] * 60 + [True] * 10,
    )
    assert report["0.1"]["false_alarms"] > 0 and report["0.1"]["f1"] == 1.0
    assert head.routine_weight == 1.0 and report["1"]["false_alarms"] == 0


def test_a_saved_escalation_head_reads_the_same(
    small_head: MultilingualHead, tmp_path: Path
) -> None:
    train_x, train_y = _escalation_rows(1)
    escalation, _ = fit_escalation(train_x, train_y, train_x[:0], [], [])
    replace(small_head, escalation=escalation).save(tmp_path / HEAD_FILE)
    loaded = MultilingualHead.load(tmp_path / HEAD_FILE).escalation
    assert loaded is not None and loaded.bias == pytest.approx(escalation.bias)
    assert np.allclose(loaded.weights, escalation.weights)
    small_head.save(tmp_path / "old.npz")  # a head saved before escalation heads existed
    assert MultilingualHead.load(tmp_path / "old.npz").escalation is None


ESCALATION_ROWS = [
    ("do you ship to Canada?", 1.0),
    ("thanks, the lamp arrived and it looks great", 1.0),
    ("my parcel is a few days late, any update?", 3.0),
    ("the mug arrived chipped, can I get a new one", 3.0),
    ("THIS COUPON DOESN'T WORK!!! ridiculous", 2.0),
    ("I was charged twice and I'm disputing it with my bank", 5.0),
    ("someone placed orders on my account that I never made", 5.0),
    ("fine. I'll let my followers know how you treat customers", 4.0),
]


def test_spanish_and_severe_english_get_the_escalation_heads_decision(
    tiny_model: TrainResult, tmp_path: Path
) -> None:
    english_only = Classifier.from_pretrained(tiny_model.folder)
    folder = _with_head(tiny_model, tmp_path, english_only.intents)
    texts = [t for t, _ in ESCALATION_ROWS]
    _, main_severity, sentiment_logits = english_only.raw_outputs(texts)
    probs = np.exp(sentiment_logits) / np.exp(sentiment_logits).sum(axis=1, keepdims=True)
    features = EscalationHead.features(
        embed(texts), main_severity, (probs[:, 2] - probs[:, 0]).astype(np.float32)
    )
    escalation, _ = fit_escalation(features, [y for _, y in ESCALATION_ROWS], features[:0], [], [])
    head = MultilingualHead.load(folder / HEAD_FILE)
    replace(head, escalation=escalation).save(folder / HEAD_FILE)
    clf = Classifier.from_pretrained(folder, second_opinion_below=0.0, escalation_head=True)

    spanish = clf.predict(["me cobraron dos veces y voy a reclamar al banco"], language="es")
    assert spanish[0].escalate is not None
    read = clf.predict(texts, language="en")
    for p, raw, s in zip(read, main_severity, sentiment_logits, strict=True):
        severe = raw >= SEVERITY_SECOND_OPINION_FROM or int(np.argmax(s)) == 0
        assert (p.escalate is not None) == bool(severe), p.text
    # Where it reads, it decides what its training rows taught (a person for 4 and up).
    for p, (_, level) in zip(read, ESCALATION_ROWS, strict=True):
        if p.escalate is not None:
            assert p.escalate == (level >= 4), p.text
    # Off: English is left to the thresholds, and nothing else changes.
    off = Classifier.from_pretrained(folder, second_opinion_below=0.0, escalation_head=False)
    unread = off.predict(texts, language="en")
    assert all(p.escalate is None for p in unread)
    assert [replace(p, escalate=None) for p in read] == unread
