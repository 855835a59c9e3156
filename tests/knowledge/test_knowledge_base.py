from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from knowledge import Embedder, KnowledgeBase, KnowledgeError, LoaderError
from tests.knowledge.conftest import KBFactory, ShopKB
from tests.knowledge.helpers import add_products
from tools.models import Product, Variant
from tools.store import Store


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


RETURNS = (
    "# Returns\n\n## Window\n\nThirty days from delivery.\n\n## Condition\n\nUnworn, with tags.\n"
)
SHIPPING = "# Shipping\n\n## Carriers\n\nUPS and FedEx.\n"


def test_unchanged_files_cost_nothing_changed_replace_deleted_disappear(
    tmp_path: Path, make_kb: KBFactory, embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    write(docs, "returns.md", RETURNS)
    write(docs, "shipping.md", SHIPPING)
    kb = make_kb()

    first = kb.ingest([docs])
    assert sorted(first.added) == ["returns.md", "shipping.md"]
    # One chunk per section; the H1s hold no text of their own.
    assert first.embedded == first.chunks_written == 3

    before = embedder.texts_embedded
    again = kb.ingest([docs])
    assert embedder.texts_embedded == before  # nothing embedded, not even re-chunked
    assert sorted(again.unchanged) == ["returns.md", "shipping.md"]
    assert not again.changed and again.chunks_written == 0

    # Touching a file without changing it is still free.
    (docs / "shipping.md").touch()
    assert kb.ingest([docs]).embedded == 0

    # A changed file replaces its chunks; only the changed section is embedded again.
    write(docs, "returns.md", RETURNS.replace("Thirty days", "Sixty days"))
    changed = kb.ingest([docs])
    assert (changed.updated, changed.embedded, changed.reused) == (["returns.md"], 1, 1)
    texts = [
        p.text
        for p in kb.search("return window days", k=10, filters={"source": "returns.md"}).passages
    ]
    assert any("Sixty days" in t for t in texts) and not any("Thirty days" in t for t in texts)
    assert kb.stats().chunks == 3

    # A file deleted from the folder disappears; a new one is added.
    (docs / "shipping.md").unlink()
    write(docs, "sub/faq.md", "# FAQ\n\n## Hours?\n\nNine to five.\n")
    third = kb.ingest([docs])
    assert (third.removed, third.added) == (["shipping.md"], ["sub/faq.md"])
    assert kb.sources() == ["returns.md", "sub/faq.md"]

    # Ingesting a single file never removes its folder's other sources.
    assert kb.ingest([docs / "returns.md"]).removed == []
    assert kb.sources() == ["returns.md", "sub/faq.md"]


def test_a_new_process_sees_the_same_state(tmp_path: Path, make_kb: KBFactory) -> None:
    docs = tmp_path / "docs"
    write(docs, "returns.md", RETURNS)
    make_kb().ingest([docs])
    reopened = make_kb()  # same folder: a fresh client on the persisted store
    assert reopened.ingest([docs]).embedded == 0
    assert reopened.search("how many days to return", k=1).passages[0].citation.anchor == "window"


def test_a_malformed_file_leaves_the_knowledge_base_untouched(
    tmp_path: Path, make_kb: KBFactory
) -> None:
    docs = tmp_path / "docs"
    write(docs, "returns.md", RETURNS)
    kb = make_kb()
    kb.ingest([docs])
    write(docs, "returns.md", RETURNS.replace("Thirty", "Ninety"))
    write(docs, "faq.jsonl", '{"question": "ok?", "answer": "yes"}\n{broken\n')
    with pytest.raises(LoaderError, match=r"faq\.jsonl, line 2"):
        kb.ingest([docs])
    assert kb.sources() == ["returns.md"]
    assert "Thirty" in kb.search("return window", k=1).passages[0].text


def test_two_files_with_the_same_source_id_are_refused(tmp_path: Path, make_kb: KBFactory) -> None:
    a = write(tmp_path / "a", "faq.md", "# A\n\nText.")
    b = write(tmp_path / "b", "faq.md", "# B\n\nText.")
    with pytest.raises(KnowledgeError, match="would both be source 'faq.md'"):
        make_kb().ingest([a, b])


def test_catalog_sync_follows_stock_changes_and_removals(
    tmp_path: Path, make_kb: KBFactory, embedder: Embedder
) -> None:
    store = Store(f"sqlite:///{tmp_path}/shop.db")
    store.migrate()
    add_products(store)
    kb = make_kb()
    first = kb.sync_catalog(store)
    assert sorted(first.added) == ["catalog/1000000001", "catalog/1000000002"]

    before = embedder.texts_embedded
    assert kb.sync_catalog(store).embedded == 0 and embedder.texts_embedded == before

    with store.write() as session:
        variant = session.scalars(select(Variant).where(Variant.id == "2000000011")).one()
        variant.stock = 0
    synced = kb.sync_catalog(store)
    assert synced.updated == ["catalog/1000000001"] and synced.unchanged == ["catalog/1000000002"]
    result = kb.search("desk lamp grey", k=1, filters={"product_id": "1000000001"})
    (passage,) = result.passages
    assert passage.citation.source == "catalog/1000000001" and passage.citation.anchor == ""
    assert "color grey: $49.99, out of stock" in passage.text

    with store.write() as session:
        session.execute(delete(Variant).where(Variant.product_id == "1000000002"))
        session.execute(delete(Product).where(Product.id == "1000000002"))
    assert kb.sync_catalog(store).removed == ["catalog/1000000002"]
    assert kb.sources() == ["catalog/1000000001"]
    store.dispose()


def test_stats(shop_kb: ShopKB) -> None:
    stats = shop_kb.kb.stats()
    assert stats.sources == len(shop_kb.kb.sources()) == 39
    assert stats.by_doc_type == {"faq": 1, "policy": 8, "product": 30}
    assert stats.by_scope == {"catalog": 30, "demo": 8, "tau2": 1}
    assert stats.chunks == shop_kb.docs.chunks_written + shop_kb.catalog.chunks_written


def test_measure_latency_and_ingestion_throughput(
    shop_kb: ShopKB, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prints numbers for the README and the retrieval benchmark; asserts nothing about speed."""
    kb = shop_kb.kb
    questions = [
        "can I return shoes I wore outside?",
        "how long does a refund to paypal take",
        "whats teh retrun windw",
        "does the thermostat work with google home",
        "how much is the espresso grinder",
        "what's the capital of France?",
        "can I change the size of something I ordered",
        "do you ship to canada",
    ]
    lines = []
    for report, what in ((shop_kb.docs, "documents"), (shop_kb.catalog, "catalog")):
        lines.append(
            f"ingest {what}: {report.chunks_written} chunks in {report.seconds:.1f}s "
            f"= {report.chunks_written / report.seconds:.1f} chunks/s (embedding included)"
        )
    for mode in ("dense", "bm25", "hybrid"):
        kb.search("warm up", mode=mode)
        timings = []
        for _ in range(3):
            for question in questions:
                started = time.perf_counter()
                kb.search(question, k=5, mode=mode)
                timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(0.95 * len(timings)))]
        lines.append(
            f"search {mode:6}: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
            f"over {len(timings)} queries ({kb.stats().chunks} chunks)"
        )
    with capsys.disabled():
        print("\n" + "\n".join(f"[knowledge] {line}" for line in lines))


def test_the_default_knowledge_base_uses_the_process_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedder: Embedder
) -> None:
    from tools.settings import get_settings

    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("CONCIERGE_CHROMA_URL", raising=False)
    monkeypatch.delenv("CONCIERGE_CHROMA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        with KnowledgeBase(embedder=embedder) as kb:
            assert kb.location == str(tmp_path / "chroma")
            assert (tmp_path / "chroma").is_dir()
    finally:
        get_settings.cache_clear()


def test_documents_built_in_code_are_ingested_and_their_scope_kept_complete(
    make_kb: KBFactory,
) -> None:
    from knowledge import Document

    def doc(asin: str, text: str) -> Document:
        return Document(
            source=f"feed/{asin}",
            title=f"Item {asin}",
            text=text,
            doc_type="product",
            markdown=False,
            product_id=asin,
            scope="feed",
        )

    kb = make_kb()
    first = kb.ingest_documents([doc("A1", "A quiet fan."), doc("B2", "A loud blender.")])
    assert sorted(first.added) == ["feed/A1", "feed/B2"] and first.chunks_written == 2
    assert kb.sections() == ["feed/A1", "feed/B2"]  # no headings: sections are the sources
    # Without complete_scope nothing is removed; with it, sources missing from the feed are.
    assert kb.ingest_documents([doc("A1", "A quiet fan.")]).removed == []
    second = kb.ingest_documents([doc("A1", "A very quiet fan.")], complete_scope="feed")
    assert (second.updated, second.removed) == (["feed/A1"], ["feed/B2"])
    assert kb.sources() == ["feed/A1"]


def test_sections_name_what_citations_cite(shop_kb: ShopKB) -> None:
    sections = shop_kb.kb.sections()
    assert "demo/faq.md#what-is-your-return-window" in sections
    assert any(s.startswith("catalog/") and "#" not in s for s in sections)
    cited = shop_kb.kb.search("what is your return window?", k=5)
    assert {p.citation.ref for p in cited.passages} <= set(sections)
