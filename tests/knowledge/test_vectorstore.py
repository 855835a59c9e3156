"""The chroma layer in both deployments: embedded (every other test) and a real ``chroma run`` server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import KnowledgeBase, VectorStoreError
from knowledge.vectorstore import VectorStore, close_client, make_client
from tests.knowledge.conftest import KBFactory
from tests.knowledge.helpers import chroma_server, free_port


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``chroma run`` subprocess on a free loopback port, stopped after the module's tests."""
    folder = tmp_path_factory.mktemp("chroma-server")
    with chroma_server(folder, tmp_path_factory.mktemp("chroma-log") / "server.log") as url:
        yield url


def test_the_same_code_runs_against_a_chroma_server(
    chroma_url: str, tmp_path: Path, make_kb: KBFactory
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\n## Window\n\nThirty days from delivery.\n")
    (docs / "shipping.md").write_text("# Shipping\n\n## Carriers\n\nUPS and FedEx.\n")
    kb = make_kb(chroma_url=chroma_url, kb_collection="server_test")
    assert kb.location == chroma_url
    report = kb.ingest([docs])
    assert sorted(report.added) == ["returns.md", "shipping.md"]
    assert kb.ingest([docs]).embedded == 0

    # A second replica (its own client) sees the same chunks and answers the same.
    replica = make_kb(chroma_url=chroma_url, kb_collection="server_test")
    for mode in ("dense", "bm25", "hybrid"):
        top = replica.search("which carriers deliver", k=1, mode=mode).passages[0]
        assert top.citation.ref == "shipping.md#carriers"

    # A write through one replica reaches the other's BM25 index (revision check), with no restart.
    (docs / "shipping.md").write_text("# Shipping\n\n## Carriers\n\nDHL only.\n")
    kb.ingest([docs])
    top = replica.search("DHL", k=1, mode="bm25").passages[0]
    assert "DHL only." in top.text
    kb.store.drop()


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path, make_kb: KBFactory) -> None:
    with pytest.raises(VectorStoreError, match=f"127.0.0.1:{(port := free_port())}"):
        make_kb(chroma_url=f"http://127.0.0.1:{port}")
    with pytest.raises(VectorStoreError, match="has no host"):
        make_client(url="http://:8000", path=tmp_path)


def test_embedded_revisions_change_on_every_write(tmp_path: Path) -> None:
    client = make_client(url=None, path=tmp_path / "chroma")
    store = VectorStore(client, "revisions")
    first = store.revision()
    store.bump_revision()
    assert store.revision() != first
    assert store.count() == 0 and store.chunks() == [] and store.metadatas() == []
    close_client(client)


def test_embedded_and_server_settings(tmp_path: Path, make_kb: KBFactory) -> None:
    kb = make_kb(chroma_dir=tmp_path / "elsewhere", kb_collection="custom_name")
    assert isinstance(kb, KnowledgeBase)
    assert kb.location == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "chroma.sqlite3").exists()
    assert kb.store.collection.name == "custom_name"
