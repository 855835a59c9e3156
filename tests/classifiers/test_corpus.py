from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from classifiers.corpus import DATA_DIR, CorpusConfig, build_corpus, frozen_encoder_rows
from classifiers.datasets import load_labeled_file
from classifiers.preprocessing import dedup_key
from classifiers.taxonomy import load_taxonomy
from tools.settings import Settings

TAX = load_taxonomy()


def test_our_files_are_valid_and_big_enough() -> None:
    extra = load_labeled_file(DATA_DIR / "intents_extra.jsonl", TAX)
    counts = Counter(e.intent for e in extra)
    for intent in ("return_item", "exchange_item", "product_availability", "out_of_scope"):
        assert counts[intent] >= 60, intent
    lines = (DATA_DIR / "intents_extra.jsonl").read_text(encoding="utf-8").splitlines()
    langs = Counter(json.loads(line)["lang"] for line in lines)
    assert langs["es"] >= 4 and langs["fr"] >= 4
    severity = load_labeled_file(DATA_DIR / "severity.jsonl", TAX)
    assert len(severity) >= 150
    assert set(Counter(round(e.severity or 0) for e in severity)) == {1, 2, 3, 4, 5}
    assert all(e.sentiment is not None for e in severity)
    plain = load_labeled_file(DATA_DIR / "intents_natural.jsonl", TAX)
    assert set(Counter(e.intent for e in plain).values()) == {10}
    assert len(Counter(e.intent for e in plain)) == 27
    natural = load_labeled_file(DATA_DIR / "natural_eval.jsonl", TAX)
    assert {e.intent for e in natural} == set(TAX.intents)
    trained = {dedup_key(e.text) for e in extra + plain}
    assert not {dedup_key(e.text) for e in natural} & trained
    assert (DATA_DIR / "SEVERITY_RUBRIC.md").read_text().count("What makes a 5") == 1
    more = load_labeled_file(DATA_DIR / "intents_more.jsonl", TAX)
    assert min(Counter(e.intent for e in more).values()) >= 24
    assert {e.intent for e in more} == set(TAX.intents)
    lines = (DATA_DIR / "intents_es_fr.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    per_language = Counter((r["lang"], r["intent"]) for r in rows)
    assert min(per_language.values()) >= 14 and len(per_language) == 2 * len(TAX.intents)
    frustration = load_labeled_file(DATA_DIR / "severity_more.jsonl", TAX)
    assert len(frustration) >= 450 and all(e.sentiment for e in frustration)
    # Nothing we train on is a message of our held-out sets.
    ours = {dedup_key(e.text) for e in more + frustration} | {dedup_key(r["text"]) for r in rows}
    for name in (
        "natural_test",
        "spanish_test",
        "french_test",
        "frustration_test",
        "frustration_test2",
    ):
        held = (DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert not ours & {dedup_key(json.loads(line)["text"]) for line in held}, name


@pytest.fixture(scope="module")
def corpus_and_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, CorpusConfig]:
    shop = tmp_path_factory.mktemp("shop") / "shop.jsonl"
    # A shop's file that happens to hold a message of our held-out sets: it must not be trained on.
    held = json.loads((DATA_DIR / "natural_test.jsonl").read_text().splitlines()[0])
    shop.write_text(
        "\n".join(
            json.dumps({"text": f"my parcel number {i} went missing", "intent": "track_order"})
            for i in range(20)
        )
        + "\n"
        + json.dumps({"text": held["text"].upper(), "intent": held["intent"]})
    )
    config = CorpusConfig(
        Settings().shared_data_dir,
        TAX,
        max_train_per_intent=60,
        max_eval_per_intent=10,
        clinc_negatives_per_intent=1,
        max_tickets_train=100,
        max_heldout=300,
        extra_files=[shop],
    )
    return build_corpus(config), config


def test_corpus_has_no_evaluation_row_in_training(
    corpus_and_config: tuple[object, CorpusConfig],
) -> None:
    from classifiers.corpus import Corpus

    corpus, _ = corpus_and_config
    assert isinstance(corpus, Corpus)
    train = {dedup_key(e.text) for e in corpus.splits.train}
    for rows in [corpus.splits.val, corpus.splits.test, *corpus.heldout.values()]:
        assert not train & {dedup_key(e.text) for e in rows}
    assert set(corpus.heldout) == {"bitext_8k", "tickets_heldout", "clinc_oos_test", "natural"}
    assert len(corpus.heldout["tickets_heldout"]) == 300
    intents = Counter(e.intent for e in corpus.splits.train)
    assert set(intents) - {None} == set(TAX.intents)
    assert min(n for i, n in intents.items() if i is not None) >= 200  # upsampled
    assert all(e.severity is not None and e.sentiment for e in corpus.splits.train)
    assert any(e.source == "shop" for e in corpus.splits.train)
    held = {
        dedup_key(json.loads(line)["text"])
        for line in (DATA_DIR / "natural_test.jsonl").read_text().splitlines()
    }
    for _, part in corpus.splits:
        assert not held & {dedup_key(e.text) for e in part}


def test_corpus_records_source_hashes(corpus_and_config: tuple[object, CorpusConfig]) -> None:
    from classifiers.corpus import Corpus

    corpus, _ = corpus_and_config
    assert isinstance(corpus, Corpus)
    names = {Path(p).name for p in corpus.sources}
    assert "TrainingdatasetBitextsample.csv" in names and "shop.jsonl" in names
    assert all(len(s["sha256"]) == 64 for s in corpus.sources.values())


def test_the_new_rows_are_in_and_the_hard_ones_out_unless_asked() -> None:
    def sources(**overrides: object) -> set[str]:
        config = CorpusConfig(
            Settings().shared_data_dir,
            TAX,
            max_train_per_intent=20,
            max_eval_per_intent=4,
            clinc_negatives_per_intent=0,
            max_tickets_train=10,
            max_heldout=20,
            **overrides,  # type: ignore[arg-type]
        )
        return {e.source for e in build_corpus(config).splits.train}

    new = {"intents_more", "intents_es_fr", "severity_more"}
    hard = {"intents_hard", "severity_hard", "severity_boundary", "severity_identity"}
    assert sources() >= new and not sources() & hard
    assert not sources(new_rows=False) & new
    assert sources(hard_rows=True) >= new | hard


def test_the_heads_on_the_frozen_encoder_get_the_hard_rows_the_english_model_leaves_out() -> None:
    config = CorpusConfig(Settings().shared_data_dir, TAX)
    extra = frozen_encoder_rows(config)
    hard = {"intents_hard", "severity_hard", "severity_boundary", "severity_identity"}
    assert {e.source for e in extra.train} == hard
    # Every distinct text of those files once, except any of our held-out sets'.
    held = {
        dedup_key(json.loads(line)["text"])
        for path in [*DATA_DIR.glob("*_test*.jsonl"), DATA_DIR / "natural_eval.jsonl"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if "text" in json.loads(line)
    }
    texts = {
        dedup_key(e.text)
        for name in hard
        for e in load_labeled_file(DATA_DIR / f"{name}.jsonl", TAX)
    }
    assert sorted(dedup_key(e.text) for _, part in extra for e in part) == sorted(texts - held)
    # Split as the corpus splits them, so no text is in two parts.
    parts = [{dedup_key(e.text) for e in part} for _, part in extra]
    assert not parts[0] & parts[1] and not parts[0] & parts[2]
    # The intent rows get weak severity and sentiment labels, as in the corpus.
    assert all(e.severity is not None for e in extra.train if e.source == "intents_hard")
    # Where the corpus holds them already, there is nothing extra.
    assert sum(len(part) for _, part in frozen_encoder_rows(replace(config, hard_rows=True))) == 0
