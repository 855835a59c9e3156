"""What a search returns (passages with citations and a coverage signal), metadata filters, rank
fusion, and the seam where a reranker plugs in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, Protocol, get_args

from knowledge.coverage import CoverageMethod
from knowledge.documents import ChunkMetadata
from knowledge.errors import InvalidQueryError

SearchMode = Literal["dense", "bm25", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchMode)


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: ``source`` id, document ``title``, section ``anchor`` (``""``
    before any heading and for products), and the passage's ``score`` in its search mode (cosine
    similarity for dense, BM25 score for bm25, reciprocal-rank-fusion score for hybrid)."""

    source: str
    title: str
    anchor: str
    score: float

    @property
    def ref(self) -> str:
        """``source#anchor`` (``source`` alone without an anchor)."""
        return f"{self.source}#{self.anchor}" if self.anchor else self.source


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: its text (breadcrumb first), citation and full metadata."""

    chunk_id: str
    text: str
    citation: Citation
    metadata: ChunkMetadata
    similarity: float | None = None
    """Cosine similarity to the query, when the dense search saw this chunk."""
    bm25: float | None = None
    """BM25 score, when the lexical search matched this chunk."""


@dataclass(frozen=True)
class RetrievalResult:
    """Passages best first, and whether the knowledge base covers the question at all.

    ``covered`` is ``coverage >= threshold``. With ``coverage_method`` ``"threshold"``, ``coverage``
    is the best cosine similarity between the query and any chunk allowed by the filters; with
    ``"model"`` it is the coverage model's probability that the passages answer the question. Both
    are the same whatever the mode. When ``covered`` is False the agent should say it does not have
    that information rather than answer from the passages."""

    query: str
    mode: SearchMode
    passages: list[Passage]
    covered: bool
    coverage: float
    threshold: float
    searched: str = ""
    """The query as searched, after spelling correction (equal to ``query`` when nothing changed)."""
    coverage_method: CoverageMethod = "threshold"
    """``"threshold"`` or ``"model"``: how ``coverage`` was computed."""
    coverage_features: Mapping[str, float] = field(default_factory=dict)
    """The signals the coverage model reads (``knowledge.coverage.FEATURES``), whichever method
    decided; empty when nothing was searched."""

    @property
    def citations(self) -> list[Citation]:
        return [p.citation for p in self.passages]


class Reranker(Protocol):
    """Reorders (and may cut) the fused candidates; plugged into ``KnowledgeBase(reranker=...)``.
    None ships today: a cross-encoder would have to be trained first (see MODELS.md)."""

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]: ...


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------

FilterValue = str | Sequence[str] | None


def _values(value: FilterValue) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Filters:
    """Metadata filters; each field is one value or several (any of them matches), all fields must
    match. ``product_id`` keeps only that product's catalog chunks."""

    doc_type: FilterValue = None
    language: FilterValue = None
    product_id: FilterValue = None
    source: FilterValue = None

    @classmethod
    def coerce(cls, value: Filters | Mapping[str, FilterValue] | None) -> Filters:
        """``Filters`` from ``None``, a ``Filters`` or a mapping of its field names."""
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise InvalidQueryError(
                f"unknown filter {sorted(unknown)}; use {', '.join(sorted(known))}"
            )
        return cls(**dict(value))

    def _conditions(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        for f in fields(self):
            values = _values(getattr(self, f.name))
            if values:
                yield f.name, values

    def where(self) -> dict[str, Any] | None:
        """The filters as a chroma ``where`` clause (None when there are none)."""
        clauses: list[dict[str, Any]] = [
            {name: values[0]} if len(values) == 1 else {name: {"$in": list(values)}}
            for name, values in self._conditions()
        ]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, metadata: ChunkMetadata) -> bool:
        """Whether a chunk with ``metadata`` passes every filter."""
        return all(getattr(metadata, name) in values for name, values in self._conditions())

    def __bool__(self) -> bool:
        return any(True for _ in self._conditions())


# --------------------------------------------------------------------------------------------------
# Fusion
# --------------------------------------------------------------------------------------------------


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Cormack et al.'s RRF: each id scores ``sum(1 / (k + rank))`` over the rankings it appears in
    (rank from 1). Returned best first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


__all__ = [
    "SEARCH_MODES",
    "Citation",
    "Filters",
    "Passage",
    "Reranker",
    "RetrievalResult",
    "SearchMode",
    "reciprocal_rank_fusion",
]


_MARKUP: Final = (
    (re.compile(r"^(?:[-*+]|\d+[.)]|#{1,6})\s+"), ""),  # list bullets, numbers and headings
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **bold**, *em*, `code`
)


def plain_text(line: str) -> str:
    """One line of a Markdown document as a chat reply shows it: no bullets, emphasis marks or
    link targets ("- **PayPal.**" -> "PayPal.")."""
    for pattern, replacement in _MARKUP:
        line = pattern.sub(replacement, line)
    return line


def passage_excerpt(text: str, limit: int = 320) -> str:
    """A passage's body to quote: its breadcrumb line ("Doc > Section") dropped, cut at a sentence end
    near ``limit`` characters (or at a word, with an ellipsis, when no sentence ends late enough)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    body = " ".join(plain_text(line) for line in (lines[1:] if len(lines) > 1 else lines))
    if len(body) <= limit:
        return body
    cut = body[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0] + "..."
