"""What the knowledge base holds: source documents, and the chunks cut from them with their metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any, Literal

DocType = Literal["policy", "faq", "guideline", "product", "page"]
"""``policy`` rules pages, ``faq`` question/answer sets, ``guideline`` agent manuals (ABCD),
``product`` catalog entries, ``page`` anything else (HTML pages, PDFs, text)."""

DOC_TYPES: tuple[DocType, ...] = ("policy", "faq", "guideline", "product", "page")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One source as loaded: Markdown text (``#`` headings) or plain text, with what describes it.

    ``source`` is the stable id citations carry (``demo/faq.md``, ``catalog/<product_id>``).
    ``scope`` groups the sources of one ingest root: re-ingesting the root removes the scope's
    sources that are gone."""

    source: str
    title: str
    text: str
    doc_type: DocType
    language: str = "en"
    updated_at: str = ""
    """ISO 8601: the file's modification time, or the product's ``updated_at``."""
    markdown: bool = True
    """Whether ``#`` lines are headings (False for plain text and PDFs)."""
    product_id: str = ""
    scope: str = ""
    location: str = ""
    """Where it was read from (a path or ``store``), for messages only."""

    @property
    def content_hash(self) -> str:
        """Hash of everything that shapes the chunks (not ``updated_at`` or ``location``), so a
        touched but unchanged file is not re-embedded."""
        parts = (self.source, self.title, self.doc_type, self.language, self.product_id)
        return sha256_text("\x1f".join((*parts, str(self.markdown), self.text)))


@dataclass(frozen=True)
class ChunkMetadata:
    """What every chunk carries into the vector store and back out in a citation."""

    source: str
    title: str
    heading_path: tuple[str, ...]
    anchor: str
    """GitHub-style slug of the chunk's last heading; ``""`` before any heading."""
    language: str
    doc_type: DocType
    updated_at: str
    content_hash: str
    """sha256 of the chunk's text (embeddings are reused across re-ingests by this)."""
    source_hash: str
    """The document's hash plus the chunker's settings: equal means nothing to redo."""
    position: int
    token_count: int
    product_id: str = ""
    scope: str = ""

    _SEPARATOR = " > "

    def to_chroma(self) -> dict[str, str | int]:
        """Flat, chroma-compatible metadata (heading path joined with `` > ``)."""
        out: dict[str, str | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = self._SEPARATOR.join(value) if f.name == "heading_path" else value
        return out

    @classmethod
    def from_chroma(cls, meta: dict[str, Any]) -> ChunkMetadata:
        kwargs: dict[str, Any] = {f.name: meta[f.name] for f in fields(cls) if f.name in meta}
        path = str(kwargs.get("heading_path") or "")
        kwargs["heading_path"] = tuple(path.split(cls._SEPARATOR)) if path else ()
        return cls(**kwargs)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough to embed; ``text`` starts with its heading breadcrumb."""

    id: str
    text: str
    metadata: ChunkMetadata = field(repr=False)


__all__ = ["DOC_TYPES", "Chunk", "ChunkMetadata", "DocType", "Document", "sha256_text"]
