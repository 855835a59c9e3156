"""The shop's knowledge: ingest policy and product documents into a chroma store and retrieve cited
passages with hybrid (dense + BM25) search.

    kb = KnowledgeBase()                      # settings: CONCIERGE_CHROMA_URL / _DIR, KB_* fields
    kb.ingest([demo_docs_dir()])              # incremental: unchanged files cost nothing
    kb.sync_catalog(store)                    # one document per product, re-synced on stock changes
    result = kb.search("can I return worn shoes?", k=5, mode="hybrid", filters={"doc_type": "policy"})
    result.covered, [p.citation.ref for p in result.passages]

``covered`` comes from a trained coverage model when there is one (``knowledge.coverage``, trained
by ``concierge bench retrieval``), else from a cosine threshold.
"""

from knowledge.catalog import catalog_documents, product_document
from knowledge.chunking import Chunker, ChunkingConfig, slugify
from knowledge.coverage import (
    COVERAGE_METHODS,
    CoverageMethod,
    CoverageModel,
    CoverageTraining,
    coverage_features,
    load_coverage_model,
    train_coverage_model,
)
from knowledge.documents import DOC_TYPES, Chunk, ChunkMetadata, DocType, Document
from knowledge.embeddings import Embedder, PrecomputedEmbedder, get_embedder
from knowledge.errors import (
    CoverageModelError,
    EmbeddingError,
    InvalidQueryError,
    KnowledgeError,
    LoaderError,
    TokenizerError,
    UnsupportedFormatError,
    VectorStoreError,
)
from knowledge.knowledge_base import IngestReport, KnowledgeBase, KnowledgeStats, ProgressCallback
from knowledge.loaders import SUPPORTED_SUFFIXES, load_file, load_paths
from knowledge.retrieval import (
    SEARCH_MODES,
    Citation,
    Filters,
    Passage,
    Reranker,
    RetrievalResult,
    SearchMode,
    reciprocal_rank_fusion,
)
from knowledge.tokens import count_tokens, ensure_tiktoken_cache, get_encoding

__all__ = [
    "COVERAGE_METHODS",
    "DOC_TYPES",
    "SEARCH_MODES",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "ChunkMetadata",
    "Chunker",
    "ChunkingConfig",
    "Citation",
    "CoverageMethod",
    "CoverageModel",
    "CoverageModelError",
    "CoverageTraining",
    "DocType",
    "Document",
    "Embedder",
    "EmbeddingError",
    "Filters",
    "IngestReport",
    "InvalidQueryError",
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeStats",
    "LoaderError",
    "Passage",
    "PrecomputedEmbedder",
    "ProgressCallback",
    "Reranker",
    "RetrievalResult",
    "SearchMode",
    "TokenizerError",
    "UnsupportedFormatError",
    "VectorStoreError",
    "catalog_documents",
    "count_tokens",
    "coverage_features",
    "ensure_tiktoken_cache",
    "get_embedder",
    "get_encoding",
    "load_coverage_model",
    "load_file",
    "load_paths",
    "product_document",
    "reciprocal_rank_fusion",
    "slugify",
    "train_coverage_model",
]
