"""Search over the shared demo corpus: right sections for paraphrases and typos, filters, coverage."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from knowledge import (
    Filters,
    InvalidQueryError,
    KnowledgeBase,
    Passage,
    reciprocal_rank_fusion,
)
from knowledge.retrieval import passage_excerpt, plain_text
from tests.knowledge.conftest import KBFactory, ShopKB


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # paraphrases
        ("can I send back trainers I wore on a muddy trail?", "demo/returns-and-refunds.md#shoes"),
        (
            "how many days until my money is back on paypal",
            "demo/returns-and-refunds.md#how-long-refunds-take",
        ),
        ("is the speaker ok in the rain", "demo/faq.md#is-the-bluetooth-speaker-waterproof"),
        (
            "what reasons can I give to cancel",
            "demo/orders-and-cancellations.md#cancelling-an-order",
        ),
        # misspellings
        ("whats teh retrun windw", "demo/faq.md#what-is-your-return-window"),
        (
            "can i pay with too giftcards",
            "demo/faq.md#can-i-pay-with-two-gift-cards-or-a-gift-card-and-a-card",
        ),
        ("how do i chnage my shiping adress", "demo/faq.md#can-i-change-my-shipping-address"),
    ],
)
def test_hybrid_search_finds_the_right_section(
    shop_kb: ShopKB, question: str, expected: str
) -> None:
    result = shop_kb.kb.search(question, k=3)
    refs = [p.citation.ref for p in result.passages]
    assert expected in refs, (result.searched, refs)
    assert result.covered


def test_every_mode_returns_cited_passages(shop_kb: ShopKB) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        result = shop_kb.kb.search("refund to a gift card", k=4, mode=mode)
        assert result.mode == mode and len(result.passages) == 4
        scores = [p.citation.score for p in result.passages]
        assert scores == sorted(scores, reverse=True)
        top = result.passages[0]
        assert top.citation.source.startswith("demo/") and top.citation.title
        assert top.metadata.source == top.citation.source and top.text.startswith(
            top.citation.title
        )
    hybrid = shop_kb.kb.search("refund to a gift card", k=4)
    assert any(p.similarity is not None and p.bm25 is not None for p in hybrid.passages)


def test_coverage_is_false_off_topic_and_true_on_topic(shop_kb: ShopKB) -> None:
    for question in (
        "what's the capital of France?",
        "write me a poem about the sea",
        "who won the world cup in 2018?",
    ):
        result = shop_kb.kb.search(question)
        assert not result.covered, (question, result.coverage)
        assert result.coverage < result.threshold
    for question in ("what is your return window?", "does the robot vacuum work with alexa"):
        assert shop_kb.kb.search(question).covered
    # bm25 ranks lexically, but coverage is the same semantic signal in every mode.
    assert not shop_kb.kb.search("what's the capital of France?", mode="bm25").covered


def test_filters(shop_kb: ShopKB) -> None:
    kb = shop_kb.kb
    faq = kb.search("how long do refunds take", k=5, filters={"doc_type": "faq"})
    assert faq.passages and {p.metadata.doc_type for p in faq.passages} == {"faq"}
    products = kb.search("waterproof", k=5, filters=Filters(doc_type="product"))
    assert products.passages and all(
        p.citation.source.startswith("catalog/") for p in products.passages
    )
    several = kb.search("waterproof", k=8, filters={"doc_type": ["product", "faq"]})
    assert {p.metadata.doc_type for p in several.passages} <= {"product", "faq"}

    speaker = next(p for p in products.passages if "Speaker" in p.citation.title)
    only = kb.search("battery life", k=5, filters={"product_id": speaker.metadata.product_id})
    assert {p.citation.source for p in only.passages} == {speaker.citation.source}
    for mode in ("dense", "bm25"):
        tau2 = kb.search(
            "cancel an order",
            k=3,
            mode=mode,
            filters={"source": "tau2/policy.md", "language": "en"},
        )
        assert tau2.passages and {p.citation.source for p in tau2.passages} == {"tau2/policy.md"}
    assert kb.search("cancel an order", filters={"language": "de"}).passages == []
    with pytest.raises(InvalidQueryError, match="unknown filter"):
        kb.search("x", filters={"colour": "red"})


def test_invalid_arguments(shop_kb: ShopKB) -> None:
    with pytest.raises(InvalidQueryError, match="mode"):
        shop_kb.kb.search("x", mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError, match="k must"):
        shop_kb.kb.search("x", k=0)
    empty = shop_kb.kb.search("   ")
    assert (empty.passages, empty.covered) == ([], False)


def test_an_empty_knowledge_base_answers_nothing(make_kb: KBFactory) -> None:
    result = make_kb().search("what is your return window?")
    assert (result.passages, result.covered, result.coverage) == ([], False, 0.0)


class ByTitle:
    """A reranker that puts passages in title order: enough to see the seam is used."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        self.seen.append(len(passages))
        return sorted(passages, key=lambda p: (p.citation.title, p.chunk_id))


def test_a_reranker_sees_all_candidates_and_decides_the_order(shop_kb: ShopKB) -> None:
    reranker = ByTitle()
    with KnowledgeBase(shop_kb.kb.settings, embedder=shop_kb.kb.embedder, reranker=reranker) as kb:
        result = kb.search("return window", k=3)
    assert reranker.seen and reranker.seen[0] > 3
    titles = [p.citation.title for p in result.passages]
    assert titles == sorted(titles)


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert list(fused) == ["a", "c", "b"]
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)


def test_filters_as_chroma_where_clauses() -> None:
    assert Filters().where() is None and not Filters()
    assert Filters(doc_type="faq").where() == {"doc_type": "faq"}
    assert Filters(doc_type=["faq", "policy"], language="en").where() == {
        "$and": [{"doc_type": {"$in": ["faq", "policy"]}}, {"language": "en"}]
    }


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("- **Credit cards:** Visa and Discover.", "Credit cards: Visa and Discover."),
        ("1. See [our FAQ](https://shop.example/faq) for *more*.", "See our FAQ for more."),
        ("## Refund timing", "Refund timing"),
        ("Sizes 3*4 and a_b stay as written", "Sizes 3*4 and a_b stay as written"),
    ],
)
def test_a_quoted_line_reads_as_text_not_markup(line: str, shown: str) -> None:
    # The widget and the terminal show replies as text: "**UPS**" reached customers as written.
    assert plain_text(line) == shown
    assert passage_excerpt(f"Doc > Section\n{line}") == shown
