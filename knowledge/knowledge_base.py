"""The knowledge base: incremental ingestion of files and the catalog, and hybrid search.

Ingestion compares each document's hash with the one stored on its chunks: unchanged documents cost
nothing, changed ones have their chunks replaced (re-embedding only chunks whose text is new), and
sources that vanished from an ingested folder (or products gone from the store) are deleted.
Search runs a dense query in chroma and BM25 in memory, fuses them by reciprocal rank, optionally
reranks, and reports whether the question is covered at all (``knowledge.coverage``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import numpy as np

from knowledge.catalog import CATALOG_SCOPE, catalog_documents
from knowledge.chunking import Chunker, ChunkingConfig
from knowledge.coverage import (
    DENSE_DEPTH,
    CoverageMethod,
    CoverageModel,
    coverage_features,
    load_coverage_model,
)
from knowledge.documents import Chunk, Document
from knowledge.embeddings import Embedder, Vectors, get_embedder
from knowledge.errors import InvalidQueryError, KnowledgeError, VectorStoreError
from knowledge.lexical import BM25Index, LexicalHit, tokenize
from knowledge.loaders import known_namespaces, load_paths
from knowledge.retrieval import (
    SEARCH_MODES,
    Citation,
    Filters,
    FilterValue,
    Passage,
    Reranker,
    RetrievalResult,
    SearchMode,
    reciprocal_rank_fusion,
)
from knowledge.spelling import SpellingCorrector
from knowledge.vectorstore import DenseHit, StoredChunk, VectorStore, close_client, make_client
from tools.settings import Settings, get_settings
from tools.store import Store

_EMBED_BATCH = 64

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ProgressCallback(Protocol):
    """Told how far a long step is: ``stage`` is ``"embedding"`` (counting chunks) or ``"writing"``
    (counting sources)."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


@dataclass
class IngestReport:
    """What one ingest or catalog sync did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_written: int = 0
    embedded: int = 0
    """Chunks embedded by the model (new text)."""
    reused: int = 0
    """Chunks of changed documents whose text, and so vector, was already stored."""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class KnowledgeStats:
    """What the knowledge base holds."""

    location: str
    collection: str
    chunks: int
    sources: int
    by_doc_type: dict[str, int]
    """Sources per doc type."""
    by_scope: dict[str, int]
    """Sources per scope (``demo``, ``tau2``, ``catalog``, ``dir:/path``)."""
    last_updated: str


class KnowledgeBase:
    """Policy and product knowledge in one chroma collection, searchable with citations.

    Everything not passed comes from ``settings`` (default: the process settings); the embedding
    model is the process-wide one unless an :class:`Embedder` is given. With ``kb_coverage`` set to
    ``model``, the coverage model is ``coverage_model`` or else read from ``kb_coverage_model``
    (:class:`~knowledge.errors.CoverageModelError` if that file is unusable); without one, the
    cosine threshold decides coverage."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        client: Any = None,
        reranker: Reranker | None = None,
        coverage_model: CoverageModel | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.embedder = embedder or get_embedder()
        self.chunker = Chunker(
            ChunkingConfig(
                chunk_tokens=self.settings.kb_chunk_tokens,
                overlap_tokens=self.settings.kb_chunk_overlap,
                encoding=self.settings.kb_token_encoding,
            )
        )
        self.location = self.settings.chroma_url or str(self.settings.resolved_chroma_dir)
        self._owns_client = client is None
        self.client = client or make_client(
            url=self.settings.chroma_url, path=self.settings.resolved_chroma_dir
        )
        self.store = VectorStore(self.client, self.settings.kb_collection)
        self.reranker = reranker
        self.coverage_threshold = self.settings.kb_coverage_threshold
        self.coverage_model: CoverageModel | None = None
        """The model deciding ``covered``; None: the cosine threshold decides."""
        if self.settings.kb_coverage == "model":
            self.coverage_model = coverage_model or load_coverage_model(self.coverage_model_path)
        # Writes are serialised; searches only wait for a BM25 rebuild, never for an ingest.
        self._write_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._lexical_index: _LexicalIndex | None = None

    @property
    def coverage_model_path(self) -> Path:
        """Where the coverage model is read from (and where ``concierge bench retrieval`` writes it)."""
        return (
            self.settings.kb_coverage_model or self.settings.resolved_model_dir / "kb_coverage.json"
        )

    @property
    def coverage_method(self) -> CoverageMethod:
        return "threshold" if self.coverage_model is None else "model"

    def __repr__(self) -> str:
        return f"KnowledgeBase({self.location!r}, collection={self.settings.kb_collection!r})"

    def close(self) -> None:
        """Release the chroma client this knowledge base opened (an injected one is left open)."""
        if self._owns_client:
            close_client(self.client)

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingestion -------------------------------------------------------------------------------

    def ingest(
        self, paths: Iterable[Path | str], *, progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Ingest files and folders (Markdown, text, HTML, PDF, JSON/JSONL FAQs, ABCD guidelines).

        Every file is read and checked before anything is written, so a malformed file
        (:class:`~knowledge.errors.LoaderError`) leaves the knowledge base as it was. Sources that
        vanished from an ingested folder are removed; JSON files in a folder that are neither an
        FAQ nor guidelines are skipped (listed in ``notes``)."""
        loaded = load_paths(
            [Path(p) for p in paths],
            language=self.settings.kb_language,
            namespaces=known_namespaces(self.settings),
        )
        report = self._sync(loaded.documents, loaded.complete_scopes, progress)
        report.notes.extend(f"skipped {reason}" for reason in loaded.skipped)
        return report

    def ingest_documents(
        self,
        documents: Sequence[Document],
        *,
        complete_scope: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest documents built in code (an adapter's pages, a product feed), incrementally like
        :meth:`ingest`. With ``complete_scope``, ``documents`` are all of that scope: its stored
        sources that are not among them are removed."""
        return self._sync(documents, {complete_scope} if complete_scope else set(), progress)

    def sync_catalog(
        self, store: Store, *, progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Make the catalog chunks match ``store``'s products: new and changed products (price,
        stock, availability, text) are re-embedded, removed ones deleted."""
        documents = catalog_documents(store, language=self.settings.kb_language)
        return self._sync(documents, {CATALOG_SCOPE}, progress)

    def _sync(
        self,
        documents: Sequence[Document],
        complete_scopes: set[str],
        progress: ProgressCallback | None,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        seen: dict[str, Document] = {}
        for doc in documents:
            if doc.source in seen:
                raise KnowledgeError(
                    f"{doc.location} and {seen[doc.source].location} would both be source "
                    f"{doc.source!r}; ingest them separately or rename one"
                )
            seen[doc.source] = doc
        with self._write_lock:
            stored: dict[str, tuple[str, str]] = {}
            for meta in self._guard(self.store.metadatas):
                stored[meta.source] = (meta.source_hash, meta.scope)
            pending: list[tuple[Document, list[Chunk]]] = []
            for doc in documents:
                previous = stored.get(doc.source)
                if previous is not None and previous[0] == self.chunker.source_hash(doc):
                    report.unchanged.append(doc.source)
                    continue
                (report.updated if previous else report.added).append(doc.source)
                chunks = self.chunker.chunk(doc)
                if not chunks:
                    report.notes.append(f"{doc.location}: no text to index")
                pending.append((doc, chunks))
            report.removed = sorted(
                source
                for source, (_, scope) in stored.items()
                if scope in complete_scopes and source not in seen
            )
            vectors = self._vectors(pending, set(report.updated), report, progress)
            total = len(pending) + len(report.removed)
            for done, (doc, chunks) in enumerate(pending, start=1):
                self._guard(self.store.replace_source, doc.source, chunks, vectors[doc.source])
                report.chunks_written += len(chunks)
                if progress:
                    progress("writing", done, total)
            if report.removed:
                self._guard(self.store.delete_sources, report.removed)
                if progress:
                    progress("writing", total, total)
            if report.changed:
                self._guard(self.store.bump_revision)
        report.seconds = time.perf_counter() - started
        return report

    def _vectors(
        self,
        pending: list[tuple[Document, list[Chunk]]],
        updated: set[str],
        report: IngestReport,
        progress: ProgressCallback | None,
    ) -> dict[str, Vectors]:
        """Vectors for every pending chunk: reused by content hash for documents already stored,
        embedded in batches otherwise."""
        out: dict[str, Vectors] = {}
        to_embed: list[tuple[str, int, str]] = []  # (source, chunk index, text)
        for doc, chunks in pending:
            known = (
                self._guard(self.store.vectors_by_content, doc.source)
                if doc.source in updated
                else {}
            )
            vectors = np.zeros((len(chunks), self.embedder.dimension), dtype=np.float32)
            for i, chunk in enumerate(chunks):
                reuse = known.get(chunk.metadata.content_hash)
                if reuse is not None:
                    vectors[i] = reuse
                    report.reused += 1
                else:
                    to_embed.append((doc.source, i, chunk.text))
            out[doc.source] = vectors
        for start in range(0, len(to_embed), _EMBED_BATCH):
            batch = to_embed[start : start + _EMBED_BATCH]
            embedded = self.embedder.embed([text for _, _, text in batch])
            for (source, i, _), vector in zip(batch, embedded, strict=True):
                out[source][i] = vector
            if progress:
                progress("embedding", start + len(batch), len(to_embed))
        report.embedded = len(to_embed)
        return out

    # -- search ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: SearchMode = "hybrid",
        filters: Filters | Mapping[str, FilterValue] | None = None,
        candidates: int | None = None,
    ) -> RetrievalResult:
        """The ``k`` best passages for ``query``.

        ``mode``: ``"dense"`` (MiniLM + chroma), ``"bm25"`` (lexical) or ``"hybrid"`` (both, fused
        by reciprocal rank). ``filters``: a :class:`Filters` or a mapping like
        ``{"doc_type": "faq", "language": "en", "product_id": "..."}``. ``candidates``: how many
        each retriever hands to fusion and the reranker (default ``max(4k, 20)``)."""
        if mode not in SEARCH_MODES:
            raise InvalidQueryError(f"unknown search mode {mode!r}; use one of {SEARCH_MODES}")
        if k < 1:
            raise InvalidQueryError("k must be at least 1")
        wanted = Filters.coerce(filters)
        n = candidates or max(4 * k, 20)
        model = self.coverage_model
        threshold = self.coverage_threshold if model is None else model.threshold
        if not query.strip():
            return RetrievalResult(
                query, mode, [], False, 0.0, threshold, query, self.coverage_method
            )
        index = self._lexical()
        searched = index.speller.correct(query) if self.settings.kb_spelling else query
        vector = self.embedder.embed_query(searched)
        # Coverage reads both retrievers whatever the mode, so it is the same signal in every mode;
        # the retriever a mode does not rank with only needs to go as deep as the features read.
        depth = DENSE_DEPTH if mode == "bm25" else max(n, DENSE_DEPTH)
        dense = self._guard(self.store.query, vector, depth, wanted.where())
        keep = wanted.accepts if wanted else None
        terms = tokenize([searched])[0]
        lexical = index.bm25.search_terms(terms, 2 if mode == "dense" else n, keep)
        features = coverage_features(terms, dense, lexical, index.bm25) if dense else {}
        if not dense:
            coverage = 0.0
        elif model is None:
            coverage = dense[0].similarity
        else:
            coverage = model.probability(features)

        passages: list[Passage]
        if mode == "dense":
            passages = [_passage(h.chunk, h.similarity, h.similarity, None) for h in dense[:n]]
        elif mode == "bm25":
            passages = [_passage(h.chunk, h.score, None, h.score) for h in lexical]
        else:
            passages = self._fuse(dense[:n], lexical)
        if self.reranker is not None:
            passages = self.reranker.rerank(query, passages)
        return RetrievalResult(
            query=query,
            mode=mode,
            passages=passages[:k],
            covered=bool(dense) and coverage >= threshold,
            coverage=coverage,
            threshold=threshold,
            searched=searched,
            coverage_method=self.coverage_method,
            coverage_features=features,
        )

    def _fuse(self, dense: list[DenseHit], lexical: list[LexicalHit]) -> list[Passage]:
        chunks: dict[str, StoredChunk] = {}
        similarity = {h.chunk.id: h.similarity for h in dense}
        bm25 = {h.chunk.id: h.score for h in lexical}
        for stored in [*(h.chunk for h in dense), *(h.chunk for h in lexical)]:
            chunks.setdefault(stored.id, stored)
        fused = reciprocal_rank_fusion(
            [[h.chunk.id for h in dense], [h.chunk.id for h in lexical]], k=self.settings.kb_rrf_k
        )
        return [
            _passage(chunks[cid], score, similarity.get(cid), bm25.get(cid))
            for cid, score in fused.items()
        ]

    def _lexical(self) -> _LexicalIndex:
        """BM25 and the spelling vocabulary, rebuilt when any process has written to the
        collection since they were built."""
        revision = self._guard(self.store.revision)
        with self._index_lock:
            index = self._lexical_index
            if index is None or index.revision != revision:
                chunks = self._guard(self.store.chunks)
                index = _LexicalIndex(
                    revision,
                    BM25Index(chunks),
                    SpellingCorrector((c.text for c in chunks), self.embedder.vocabulary()),
                )
                self._lexical_index = index
            return index

    # -- inspection ------------------------------------------------------------------------------

    def stats(self) -> KnowledgeStats:
        metas = self._guard(self.store.metadatas)
        sources = {m.source: m for m in metas}
        return KnowledgeStats(
            location=self.location,
            collection=self.settings.kb_collection,
            chunks=len(metas),
            sources=len(sources),
            by_doc_type=dict(sorted(Counter(m.doc_type for m in sources.values()).items())),
            by_scope=dict(sorted(Counter(m.scope for m in sources.values()).items())),
            last_updated=max((m.updated_at for m in metas), default=""),
        )

    def sources(self) -> list[str]:
        """Every source id in the knowledge base, sorted."""
        return sorted({m.source for m in self._guard(self.store.metadatas)})

    def sections(self) -> list[str]:
        """Every section a citation can name (``Citation.ref``: ``source#anchor``, or ``source``
        for text before any heading and for products), sorted."""
        return sorted(
            {
                Citation(m.source, m.title, m.anchor, 0.0).ref
                for m in self._guard(self.store.metadatas)
            }
        )

    @staticmethod
    def _guard(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return fn(*args, **kwargs)
        except KnowledgeError:
            raise
        except Exception as exc:  # chroma's errors are untyped across its two clients
            raise VectorStoreError(f"chroma failed: {exc}") from exc


@dataclass(frozen=True)
class _LexicalIndex:
    revision: str
    bm25: BM25Index
    speller: SpellingCorrector


def _passage(
    chunk: StoredChunk, score: float, similarity: float | None, bm25: float | None
) -> Passage:
    meta = chunk.metadata
    return Passage(
        chunk_id=chunk.id,
        text=chunk.text,
        citation=Citation(meta.source, meta.title, meta.anchor, float(score)),
        metadata=meta,
        similarity=similarity,
        bm25=bm25,
    )


__all__ = ["IngestReport", "KnowledgeBase", "KnowledgeStats", "ProgressCallback"]
