"""The chroma collection holding the chunks, their metadata and their vectors.

One code path for both deployments: an embedded ``PersistentClient`` (default, a folder under
``var_dir``) or an ``HttpClient`` to a ``chroma run`` server shared by many API replicas. Vectors are
always computed by us and passed in (chroma's default embedding function would download a model).
A revision token in the collection's metadata changes on every write, so each process knows when
its in-memory BM25 index is stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from knowledge.documents import Chunk, ChunkMetadata
from knowledge.embeddings import Vectors
from knowledge.errors import VectorStoreError

_PAGE = 2000


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: ChunkMetadata


@dataclass(frozen=True)
class DenseHit:
    chunk: StoredChunk
    similarity: float
    """Cosine similarity to the query (1 - chroma's cosine distance)."""


def make_client(*, url: str | None, path: Path) -> Any:
    """A chroma client: ``HttpClient`` for ``url`` (``http://host:port``), else a
    ``PersistentClient`` in ``path``. Telemetry is off either way."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if url:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            if not parts.hostname:
                raise VectorStoreError(f"CONCIERGE_CHROMA_URL {url!r} has no host")
            ssl = parts.scheme == "https"
            port = parts.port or (443 if ssl else 8000)
            return chromadb.HttpClient(host=parts.hostname, port=port, ssl=ssl, settings=settings)
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except VectorStoreError:
        raise
    except Exception as exc:  # chroma raises many types (ValueError, httpx errors, ...)
        where = url or path
        raise VectorStoreError(f"cannot open the chroma store at {where}: {exc}") from exc


def close_client(client: Any) -> None:
    """Close a client from :func:`make_client`: its HTTP connection pool, and its share of the
    embedded system (stopped when the last client on that folder closes)."""
    # chroma's HttpClient.close() releases the system but never closes the httpx pools (its own
    # and its internal admin client's), which then leak sockets until garbage collection.
    for owner in (client, getattr(client, "_admin_client", None)):
        session = getattr(getattr(owner, "_server", None), "_session", None)
        if session is not None and hasattr(session, "close"):
            session.close()
    client.close()


class VectorStore:
    """The chunk collection of one knowledge base."""

    def __init__(self, client: Any, collection_name: str) -> None:
        self.client = client
        self.collection_name = collection_name
        try:
            self.collection = client.get_or_create_collection(
                collection_name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"revision": uuid.uuid4().hex},
            )
        except Exception as exc:
            raise VectorStoreError(
                f"cannot open chroma collection {collection_name!r}: {exc}"
            ) from exc

    # -- reads -----------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self.collection.count())

    def revision(self) -> str:
        """Changes whenever any process writes to the collection."""
        fresh = self.client.get_collection(self.collection_name, embedding_function=None)
        return str((fresh.metadata or {}).get("revision", ""))

    def _pages(self, include: list[str], where: Mapping[str, Any] | None = None) -> Iterator[Any]:
        offset = 0
        while True:
            page = self.collection.get(include=include, where=where, limit=_PAGE, offset=offset)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def metadatas(self) -> list[ChunkMetadata]:
        """Every chunk's metadata (no texts, no vectors)."""
        return [
            ChunkMetadata.from_chroma(dict(meta))
            for page in self._pages(["metadatas"])
            for meta in page["metadatas"]
        ]

    def chunks(self) -> list[StoredChunk]:
        """Every chunk with its text, in a stable order (by id)."""
        out = [
            StoredChunk(id_, text or "", ChunkMetadata.from_chroma(dict(meta)))
            for page in self._pages(["documents", "metadatas"])
            for id_, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            )
        ]
        return sorted(out, key=lambda c: c.id)

    def vectors_by_content(self, source: str) -> dict[str, Vectors]:
        """The stored vectors of ``source``'s chunks by content hash, to reuse for unchanged text."""
        out: dict[str, Vectors] = {}
        for page in self._pages(["metadatas", "embeddings"], where={"source": source}):
            for meta, vector in zip(page["metadatas"], page["embeddings"], strict=True):
                out[str(meta["content_hash"])] = vector
        return out

    def query(
        self, vector: Vectors, n: int, where: Mapping[str, Any] | None = None
    ) -> list[DenseHit]:
        n = min(n, self.count())
        if n <= 0:
            return []
        try:
            result = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=n,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        except Exception as exc:
            raise VectorStoreError(f"chroma query failed: {exc}") from exc
        return [
            DenseHit(
                StoredChunk(id_, text or "", ChunkMetadata.from_chroma(dict(meta))),
                1.0 - float(distance),
            )
            for id_, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    # -- writes ----------------------------------------------------------------------------------

    def replace_source(self, source: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Make ``chunks`` the only chunks of ``source``. New chunks are written before stale ones
        are deleted, so a concurrent search never finds the source missing."""
        stale = set(self.collection.get(where={"source": source}, include=[])["ids"])
        batch = max(1, int(self.client.get_max_batch_size()))
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            self.collection.upsert(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata.to_chroma() for c in part],
                embeddings=vectors[start : start + batch],
            )
        stale -= {c.id for c in chunks}
        if stale:
            self.collection.delete(ids=sorted(stale))

    def delete_sources(self, sources: Sequence[str]) -> None:
        for source in sources:
            self.collection.delete(where={"source": source})

    def bump_revision(self) -> None:
        self.collection.modify(metadata={"revision": uuid.uuid4().hex})

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self.client.delete_collection(self.collection_name)


__all__ = ["DenseHit", "StoredChunk", "VectorStore", "close_client", "make_client"]
