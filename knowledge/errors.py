"""Errors of the knowledge package.

KnowledgeError
├── LoaderError                 a document could not be read (names the file, and the line if known)
│   └── UnsupportedFormatError  no loader for the file's type
├── TokenizerError              tiktoken's vocabularies could not be prepared offline
├── EmbeddingError              the embedding model could not be loaded
├── VectorStoreError            chroma could not be reached or refused an operation
├── CoverageModelError          a coverage model file is malformed or made for other features
└── InvalidQueryError           a search was asked with an unknown mode or filter (also a ValueError)
"""

from __future__ import annotations

from pathlib import Path


class KnowledgeError(Exception):
    """Base of every error raised by ``knowledge``."""


class LoaderError(KnowledgeError):
    """A file could not be turned into a document; the message names the file (and line)."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")


class UnsupportedFormatError(LoaderError):
    """No loader handles this file's extension."""


class TokenizerError(KnowledgeError):
    """The offline tiktoken vocabularies are missing or do not verify."""


class EmbeddingError(KnowledgeError):
    """The packaged embedding model could not be found or loaded."""


class VectorStoreError(KnowledgeError):
    """The chroma store (embedded or server) failed."""


class CoverageModelError(KnowledgeError):
    """A coverage model file is malformed, or was trained for other features (retrain it)."""


class InvalidQueryError(KnowledgeError, ValueError):
    """A search argument is invalid (unknown mode, filter field, or a k below 1)."""


__all__ = [
    "CoverageModelError",
    "EmbeddingError",
    "InvalidQueryError",
    "KnowledgeError",
    "LoaderError",
    "TokenizerError",
    "UnsupportedFormatError",
    "VectorStoreError",
]
