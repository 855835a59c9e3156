"""The retrieval benchmark: its metrics on hand-computed rankings, the dev/test split, and a tiny run
end to end (one FAQ page, a few questions, a few Amazon products) that writes every report key."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.bench_retrieval import (
    coverage_rates,
    default_split_path,
    load_amazon_qa,
    load_split,
    make_split,
    ndcg_at_k,
    percentile,
    product_documents,
    ranking_metrics,
    recall_at_k,
    reciprocal_rank,
    relevant_refs,
    sample_questions,
    section_ref,
)
from evals.retrieval_qa import QAItem, Relevant, default_qa_path, load_qa
from tools.demo import demo_docs_dir


def qa(qid: str, *refs: str, kind: str = "direct", corpus: str = "demo") -> QAItem:
    relevant = tuple(
        Relevant(*ref.split("#", 1)) if "#" in ref else Relevant(ref, "") for ref in refs
    )
    return QAItem(qid, f"question {qid}?", relevant, kind if refs else "no_answer", corpus)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def test_recall_at_k_counts_any_relevant_section_within_k() -> None:
    ranked = ["demo/a.md#x", "demo/b.md#y", "demo/c.md#z"]
    assert recall_at_k(ranked, {"demo/c.md#z"}, 2) == 0.0
    assert recall_at_k(ranked, {"demo/c.md#z"}, 3) == 1.0
    assert recall_at_k(ranked, {"demo/b.md#y", "demo/c.md#z"}, 2) == 1.0
    assert recall_at_k([], {"demo/a.md#x"}, 5) == 0.0


def test_reciprocal_rank_is_the_first_relevant_rank() -> None:
    assert reciprocal_rank(["x", "a", "b"], {"a", "b"}) == 0.5
    assert reciprocal_rank(["a"], {"a"}) == 1.0
    assert reciprocal_rank(["x", "y"], {"a"}) == 0.0


def test_ndcg_with_several_relevant_sections() -> None:
    # Relevant at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3).
    assert ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # Order among relevant sections does not matter; a second chunk of a section gains nothing.
    assert ndcg_at_k(["b", "a"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "b"], {"a", "b"}, 10) == pytest.approx(
        ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10)
    )
    # Only the first k count, and the ideal is capped at k: one of three relevant at rank 1, k = 2.
    assert ndcg_at_k(["x", "x", "a"], {"a"}, 2) == 0.0
    assert ndcg_at_k(["a", "x"], {"a", "b", "c"}, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a"], set(), 10) == 0.0


def test_ranking_metrics_average_over_answerable_questions() -> None:
    items = [qa("q1", "demo/a.md#x"), qa("q2", "demo/b.md#y", "demo/c.md"), qa("q3")]
    rankings = {
        "q1": ["demo/a.md#x", "demo/z.md"],
        "q2": ["demo/z.md", "demo/z.md#w", "demo/c.md"],
        "q3": ["demo/a.md#x"],
    }
    m = ranking_metrics(rankings, items)
    assert m["questions"] == 2  # the no-answer question is not ranked
    assert m["recall@1"] == 0.5
    assert m["recall@3"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["ndcg@10"] == pytest.approx((1 + 0.5 / (1 + 1 / math.log2(3))) / 2)


def test_coverage_rates_and_percentile() -> None:
    items = [qa("q1", "demo/a.md"), qa("q2", "demo/b.md"), qa("q3"), qa("q4")]
    rates = coverage_rates({"q1": True, "q2": False, "q3": False, "q4": True}, items)
    assert rates["no_answer_detection"] == 0.5
    assert rates["answerable_covered"] == 0.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)


def test_section_refs_match_citation_refs() -> None:
    assert section_ref("demo/faq.md", "how-do-i") == "demo/faq.md#how-do-i"
    assert section_ref("catalog/123", "") == "catalog/123"
    assert relevant_refs(qa("q", "catalog/123", "demo/a.md#x")) == {"catalog/123", "demo/a.md#x"}


# --------------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> list[QAItem]:
    return load_qa(default_qa_path())


def test_split_is_deterministic_disjoint_and_stratified(shipped: list[QAItem]) -> None:
    split = make_split(shipped)
    shuffled = list(shipped)
    random.Random(1).shuffle(shuffled)
    assert make_split(shuffled) == split
    dev, test = set(split["dev"]), set(split["test"])
    assert not dev & test
    assert dev | test == {i.id for i in shipped}
    assert abs(len(dev) - len(test)) <= 1
    by_half = {
        half: Counter((i.kind, i.corpus) for i in shipped if i.id in ids)
        for half, ids in (("dev", dev), ("test", test))
    }
    for stratum in {(i.kind, i.corpus) for i in shipped}:
        assert abs(by_half["dev"][stratum] - by_half["test"][stratum]) <= 1, stratum
    assert sum(1 for i in shipped if i.id in test and not i.answerable) >= 20


def test_shipped_split_file_is_the_computed_split(shipped: list[QAItem]) -> None:
    assert json.loads(default_split_path().read_text()) == make_split(shipped)
    dev, test = load_split(default_split_path(), shipped)
    assert len(dev) + len(test) == len(shipped)


def test_load_split_refuses_broken_files(shipped: list[QAItem], tmp_path: Path) -> None:
    split = make_split(shipped)
    for broken, message in (
        ({"dev": split["dev"] + split["test"][:1], "test": split["test"]}, "both halves"),
        ({"dev": split["dev"] + ["rq-999"], "test": split["test"]}, "unknown"),
        ({"dev": split["dev"][1:], "test": split["test"]}, "neither"),
    ):
        path = tmp_path / "split.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=message):
            load_split(path, shipped)


# --------------------------------------------------------------------------------------------------
# Amazon product documents
# --------------------------------------------------------------------------------------------------


def test_product_documents_hold_answers_and_leave_held_out_ones_out(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    rows = [
        {"asin": "B1", "question": "Is it loud?", "answer": "Quiet enough  to sleep."},
        {"asin": "B1", "question": "Does it fit?", "answer": "Fits a standard   outlet."},
        {"asin": "B2", "question": "Color?", "answer": "White."},
        {"asin": "B3", "question": "", "answer": "No question, skipped."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    loaded = load_amazon_qa(path)
    assert [r.asin for r in loaded] == ["B1", "B1", "B2"]
    assert [r.asin for r in load_amazon_qa(path, products=1)] == ["B1", "B1"]
    docs = product_documents(loaded)
    assert [d.source for d in docs] == ["amazon/B1", "amazon/B2"]
    assert docs[0].text == "Quiet enough to sleep.\n\nFits a standard outlet."
    assert (docs[0].doc_type, docs[0].product_id, docs[0].markdown) == ("product", "B1", False)
    held = product_documents(loaded, hold_out={loaded[0].index, loaded[2].index})
    assert [d.text for d in held] == ["Fits a standard outlet."]
    # Only products with two questions are sampled, one question each.
    assert [r.asin for r in sample_questions(loaded, 5)] == ["B1"]


# --------------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------------


def test_tiny_run_writes_every_report_key(tmp_path: Path) -> None:
    from evals.bench_retrieval import main

    out = tmp_path / "reports" / "bench.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"tools": {"kept": True}}))
    model = tmp_path / "var" / "models" / "kb_coverage.json"
    report = main(
        out=str(out),
        html=str(tmp_path / "reports" / "retrieval.html"),
        coverage_model_path=model,
        sources=[demo_docs_dir() / "faq.md"],
        catalog=False,
        max_questions=10,
        latency_queries=3,
        amazon_questions=3,
        amazon_products=4,
    )
    written = json.loads(out.read_text())
    assert written["tools"] == {"kept": True}  # other benchmarks' keys survive
    retrieval = written["retrieval"]
    assert set(retrieval) >= {
        "machine",
        "qa",
        "ranking",
        "coverage",
        "latency",
        "ingestion",
        "amazon",
        "targets",
    }
    assert set(retrieval["ranking"]["test"]) == {"dense", "bm25", "hybrid"}
    assert {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"} <= set(
        retrieval["ranking"]["test"]["hybrid"]
    )
    assert {"threshold", "model"} <= set(retrieval["coverage"])
    assert {"no_answer_detection", "answerable_covered"} <= set(
        retrieval["coverage"]["model"]["test"]
    )
    assert {"p50_ms", "p95_ms", "load_average_1m"} <= set(retrieval["latency"]["hybrid"])
    assert (
        {"live", "precomputed"}
        == set(retrieval["ingestion"]["shop"])
        == set(retrieval["ingestion"]["amazon"])
    )
    assert retrieval["ingestion"]["shop"]["precomputed"]["embedded"] == 0  # every vector was given
    assert set(retrieval["amazon"]["results"]) == {"answers_in_document", "answer_held_out"}
    assert "recall@5" in retrieval["amazon"]["results"]["answer_held_out"]["hybrid"]
    assert report["qa"]["questions"]["test"] > 0
    assert model.is_file()
    assert "<img" in (tmp_path / "reports" / "retrieval.html").read_text()


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["bench", "retrieval", "--help"])
    assert result.exit_code == 0, result.output
    assert "--amazon-questions" in result.output
