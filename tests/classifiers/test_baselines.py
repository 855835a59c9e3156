from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.baselines import BASELINES, BiLSTMBaseline, load_baseline
from classifiers.datasets import BITEXT_FILES, load_bitext, split
from classifiers.taxonomy import load_taxonomy
from tools.settings import Settings


@pytest.fixture(scope="module")
def small() -> tuple[list[str], list[str | None], list[str], list[str]]:
    rows = load_bitext(Settings().shared_data_dir / BITEXT_FILES["bitext_4k"], load_taxonomy())
    keep = {"cancel_order", "track_order", "get_refund", "recover_password"}
    parts = split([r for r in rows if r.intent in keep], seed=0)
    train = parts.train[:240]
    return (
        [r.text for r in train],
        [r.intent for r in train],
        [r.text for r in parts.test],
        [str(r.intent) for r in parts.test],
    )


@pytest.mark.parametrize("kind", ["tfidf_lr", "bilstm", "frozen_minilm_lr"])
def test_baseline_learns_and_round_trips(
    kind: str, small: tuple[list[str], list[str | None], list[str], list[str]], tmp_path: Path
) -> None:
    texts, labels, test_texts, test_labels = small
    model = BiLSTMBaseline(epochs=4) if kind == "bilstm" else BASELINES[kind]()
    severity = [float(1 + i % 5) if i % 2 else None for i in range(len(texts))]
    model.fit(texts, labels, severity)
    probs = model.predict_proba(test_texts)
    assert probs.shape == (len(test_texts), 4) and np.allclose(probs.sum(1), 1)
    accuracy = np.mean(
        [model.labels[i] == t for i, t in zip(probs.argmax(1), test_labels, strict=True)]
    )
    assert accuracy > 0.6  # 4 balanced classes: chance is 0.25
    sev = model.predict_severity(test_texts)
    assert sev is not None and ((sev >= 1) & (sev <= 5)).all()
    model.save(tmp_path)
    again = load_baseline(kind, tmp_path)
    assert np.allclose(again.predict_proba(test_texts[:5]), probs[:5], atol=1e-6)
