"""Errors of the classifiers package.

ClassifierError
├── TaxonomyError               a taxonomy file is malformed or a label is not in it
├── DatasetFormatError          a data file is malformed (names the file, and the line if known)
├── DatasetNotFoundError        a data file or folder is missing
├── BaseModelError              the packaged base encoder (or student weights) could not be found
└── ModelNotFoundError          no trained classifier in the given folder, or an incomplete one
"""

from __future__ import annotations

from pathlib import Path


class ClassifierError(Exception):
    """Base of every error raised by ``classifiers``."""


class TaxonomyError(ClassifierError, ValueError):
    """The taxonomy file does not follow its format, or a label is unknown to it."""


class DatasetFormatError(ClassifierError, ValueError):
    """A data file could not be read; the message starts with ``file, line N:``."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")


class DatasetNotFoundError(ClassifierError, FileNotFoundError):
    """A dataset file or folder is missing (the shared datasets folder is configurable)."""


class BaseModelError(ClassifierError):
    """The packaged MiniLM weights (or the L3 student's ONNX weights) are not installed."""


class ModelNotFoundError(ClassifierError, FileNotFoundError):
    """The folder holds no trained classifier (run ``concierge train``), or files are missing."""
