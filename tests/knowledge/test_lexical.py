from __future__ import annotations

from knowledge.documents import ChunkMetadata
from knowledge.lexical import BM25Index, tokenize
from knowledge.vectorstore import StoredChunk


def chunk(i: int, text: str, doc_type: str = "policy") -> StoredChunk:
    meta = ChunkMetadata(
        source=f"doc{i}.md",
        title="T",
        heading_path=(),
        anchor="",
        language="en",
        doc_type=doc_type,  # type: ignore[arg-type]
        updated_at="",
        content_hash="",
        source_hash="",
        position=0,
        token_count=1,
    )
    return StoredChunk(f"doc{i}.md#0", text, meta)


CHUNKS = [
    chunk(0, "Refunds reach a gift card immediately."),
    chunk(1, "Cancelled orders are refunded within days."),
    chunk(2, "The skillet is cast iron.", "product"),
]


def test_tokens_are_stemmed_without_stop_words() -> None:
    assert tokenize(["The refunds and the refunded"]) == [["refund", "refund"]]


def test_bm25_ranks_and_filters() -> None:
    index = BM25Index(CHUNKS)
    hits = index.search("refunding", 5)
    assert [h.chunk.id for h in hits] == ["doc0.md#0", "doc1.md#0"] or [
        h.chunk.id for h in hits
    ] == ["doc1.md#0", "doc0.md#0"]
    assert all(h.score > 0 for h in hits)
    assert index.search("refund", 5, keep=lambda m: m.doc_type == "product") == []
    assert [h.chunk.id for h in index.search("cast iron", 5)] == ["doc2.md#0"]


def test_queries_with_nothing_known_and_empty_indexes_return_nothing() -> None:
    assert BM25Index(CHUNKS).search("the and of", 5) == []
    assert BM25Index(CHUNKS).search("zebra", 5) == []
    assert BM25Index([]).search("refund", 5) == []


def test_term_statistics_for_the_coverage_estimate() -> None:
    index = BM25Index(CHUNKS)
    assert index.chunk_terms("doc0.md#0") == {"refund", "reach", "gift", "card", "immedi"}
    assert index.heading_terms("doc0.md#0") == set(
        tokenize(["Refunds reach a gift card immediately."])[0]
    )
    assert index.chunk_terms("unknown") == frozenset()
    assert (index.document_frequency("refund"), index.document_frequency("zebra")) == (2, 0)
    # A term no chunk holds weighs most; a term every chunk holds least.
    assert index.idf("zebra") > index.idf("skillet") > index.idf("refund") > 0
    assert index.search_terms(tokenize(["cast iron"])[0], 5) == index.search("cast iron", 5)
