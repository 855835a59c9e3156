from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from classifiers.datasets import (
    BITEXT_FILES,
    Example,
    dedup,
    load_banking77,
    load_bitext,
    load_clinc,
    load_labeled_file,
    load_tickets,
    remove_overlap,
    split,
)
from classifiers.errors import DatasetFormatError, DatasetNotFoundError
from classifiers.taxonomy import load_taxonomy
from tools.settings import Settings

TAX = load_taxonomy()
DATA = Settings().shared_data_dir


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bitext_20k_labels_are_normalised() -> None:
    rows = load_bitext(DATA / BITEXT_FILES["bitext_20k"], TAX)
    intents = Counter(r.intent for r in rows)
    assert len(rows) == 21534 and len(intents) == 27
    assert "check_invoices" not in intents and intents["check_invoice"] == 1013
    assert all(r.text and r.text == r.text.strip() for r in rows)
    assert any("W" in r.tags for r in rows)


def test_bitext_4k_and_8k_layouts() -> None:
    tagged = load_bitext(DATA / BITEXT_FILES["bitext_4k"], TAX)
    service = load_bitext(DATA / BITEXT_FILES["bitext_8k"], TAX)
    assert (len(tagged), len(service)) == (4514, 8175)
    assert {r.intent for r in tagged} == {r.intent for r in service}


def test_clinc_banking_and_tickets() -> None:
    clinc = load_clinc(DATA / "clinc150" / "data_full.json")
    assert {k: len(v) for k, v in clinc.items()}["oos_test"] == 1000
    assert len({r.intent for r in clinc["train"]}) == 150
    banking = load_banking77(DATA / "banking77")
    assert (len(banking["train"]), len(banking["test"])) == (10003, 3080)
    held = load_tickets(
        DATA / "customer_support_tickets_tobi_bueck_subset" / "tickets_multi-lang3-4k_prefix.csv"
    )
    assert len(held) == 486
    assert Counter(r.severity for r in held) == {4.0: 216, 3.0: 195, 2.0: 75}


def test_bitext_with_an_unknown_intent_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bitext.csv",
        'flags,utterance,category,intent\nB,"where is\nmy order",ORDER,track_order\n'
        "B,hello,ORDER,teleport_order\n",
    )
    with pytest.raises(DatasetFormatError, match=r"bitext\.csv, line 4: intent 'teleport_order'"):
        load_bitext(path, TAX)


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("text,intent\nhi,track_order\nbad,row,extra\n", 3, "expected 2 fields, found 3"),
        ("txt,intent\nhi,track_order\n", 1, "missing column"),
        ('text,intent\n"unterminated,track_order\n', 2, "malformed CSV"),
        ("text,intent\nhi,fly_to_the_moon\n", 2, "not in the taxonomy"),
        ("text,intent,severity\nhi,,9\n", 2, "outside 1-5"),
        ("text,intent\nhi,\n", 2, "at least one label"),
    ],
)
def test_malformed_csv_is_rejected_with_file_and_line(
    tmp_path: Path, content: str, line: int, reason: str
) -> None:
    path = write(tmp_path / "shop.csv", content)
    with pytest.raises(DatasetFormatError) as info:
        load_labeled_file(path, TAX)
    assert info.value.path == path and info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: ")
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        (['{"text": "hi", "intent": "track_order"}', "{not json"], 2, "invalid JSON"),
        (['["a list"]'], 1, "must be a JSON object"),
        (['{"text": "hi", "intnet": "track_order"}'], 1, "unknown field(s) ['intnet']"),
        (["", '{"text": 3, "intent": "track_order"}'], 2, "'text' must be a string"),
        (['{"text": "hi", "severity": "high"}'], 1, "is not a number"),
        (['{"text": "hi", "sentiment": "angry"}'], 1, "sentiment 'angry'"),
    ],
)
def test_malformed_jsonl_is_rejected_with_file_and_line(
    tmp_path: Path, lines: list[str], line: int, reason: str
) -> None:
    path = write(tmp_path / "shop.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=rf"shop\.jsonl, line {line}: ") as info:
        load_labeled_file(path, TAX)
    assert reason in str(info.value)


def test_shop_jsonl_and_csv(tmp_path: Path) -> None:
    rows = [
        {"text": "where's my parcel? https://t.co/x", "intent": "track_order"},
        {"text": "   ", "intent": "track_order"},
        {"text": "charged twice!!", "severity": 4, "sentiment": "negative", "id": "x1"},
        {"text": "need invoice", "intent": "check_invoices"},
    ]
    path = write(tmp_path / "shop.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    got = load_labeled_file(path, TAX)
    assert [(e.text, e.intent, e.severity, e.sentiment) for e in got] == [
        ("where's my parcel?", "track_order", None, None),
        ("charged twice!!", None, 4.0, "negative"),
        ("need invoice", "check_invoice", None, None),
    ]
    csv_path = write(tmp_path / "shop.csv", "text,intent,severity\nhi there,out_of_scope,1\n")
    assert load_labeled_file(csv_path, TAX) == [
        Example("hi there", intent="out_of_scope", severity=1.0, source="shop")
    ]


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="CONCIERGE_SHARED_DATA_DIR"):
        load_bitext(tmp_path / "nope.csv", TAX)
    with pytest.raises(DatasetFormatError, match="expected a .jsonl or .csv"):
        load_labeled_file(write(tmp_path / "x.txt", "hi"), TAX)


def test_split_is_stratified_deduplicated_and_seeded() -> None:
    rows = [Example(f"text {i % 50}", intent=f"i{i % 5}") for i in range(500)]
    rows += [Example("TEXT 1 ", intent="i1")]
    parts = split(rows, seed=1)
    assert parts.sizes() == {"train": 40, "val": 5, "test": 5}
    assert {e.intent for e in parts.test} == {"i0", "i1", "i2", "i3", "i4"}
    assert split(rows, seed=1).test == parts.test
    assert split(rows, seed=2).test != parts.test
    with pytest.raises(ValueError, match="sum to 1"):
        split(rows, (0.5, 0.1, 0.1))


def test_remove_overlap_keeps_evaluation_unseen() -> None:
    parts = split([Example(f"t{i}", intent="a") for i in range(10)], seed=0)
    parts.val.append(Example(parts.train[0].text.upper(), intent="a"))
    parts.test.append(Example(parts.val[0].text, intent="a"))
    clean = remove_overlap(parts)
    train = {e.text.lower() for e in clean.train}
    assert not train & {e.text.lower() for e in clean.val + clean.test}
    assert not {e.text for e in clean.val} & {e.text for e in clean.test}
    assert len(dedup(clean.train)) == len(clean.train)
