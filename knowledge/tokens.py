"""Token counting with tiktoken, offline.

tiktoken downloads its BPE files on first use, which fails on machines without internet. The
``quicktok-v1`` package ships the same ``o200k_base`` and ``cl100k_base`` vocabularies in its own binary
format; this module converts them into tiktoken's cache files (named by the sha1 of the blob URL
tiktoken would download), verifies each against the sha256 tiktoken itself expects, and points
``TIKTOKEN_CACHE_DIR`` at them. After :func:`ensure_tiktoken_cache` any tiktoken user in the process
(including langchain-openai's token counting) works offline.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.errors import TokenizerError

if TYPE_CHECKING:
    import tiktoken

_BLOB_BASE = "https://openaipublic.blob.core.windows.net/encodings/"


@dataclass(frozen=True)
class _Vocab:
    encoding: str
    quicktok_file: str
    sha256: str
    """What ``tiktoken_ext.openai_public`` passes as ``expected_hash`` for this encoding."""

    @property
    def blob_url(self) -> str:
        return f"{_BLOB_BASE}{self.encoding}.tiktoken"

    @property
    def cache_name(self) -> str:
        # tiktoken.load.read_file_cached names cache entries by the sha1 of the URL.
        return hashlib.sha1(self.blob_url.encode()).hexdigest()


VOCABS: dict[str, _Vocab] = {
    v.encoding: v
    for v in (
        _Vocab(
            "o200k_base",
            "o200k.vocab",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        ),
        _Vocab(
            "cl100k_base",
            "cl100k.vocab",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        ),
    )
}
"""The encodings that can be served offline, pinned to tiktoken's own expected hashes."""

DEFAULT_ENCODING = "o200k_base"

_lock = threading.Lock()


def default_cache_dir() -> Path:
    """``var_dir/tiktoken`` of the process settings."""
    from tools.settings import get_settings

    return get_settings().var_dir / "tiktoken"


def _quicktok_data_dir() -> Path:
    # Locate the package's data without importing it: we only need its files, not its native code.
    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError(
            "the quicktok-v1 package is not installed; it provides tiktoken's vocabularies offline"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def convert_quicktok_vocab(raw: bytes) -> bytes:
    """quicktok's ``.vocab`` (u32 count, then per token: u16 length, bytes, u32 rank; little-endian)
    as a tiktoken BPE file (``base64(token) rank`` per line, by rank)."""
    try:
        (count,) = struct.unpack_from("<I", raw, 0)
        offset = 4
        ranks: list[tuple[int, bytes]] = []
        for _ in range(count):
            (length,) = struct.unpack_from("<H", raw, offset)
            offset += 2
            token = raw[offset : offset + length]
            offset += length
            (rank,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            ranks.append((rank, token))
    except struct.error as exc:
        raise TokenizerError(f"truncated quicktok vocabulary: {exc}") from exc
    if offset != len(raw):
        raise TokenizerError(f"quicktok vocabulary has {len(raw) - offset} trailing bytes")
    ranks.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in ranks)


def _is_valid(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except FileNotFoundError:
        return False


def ensure_tiktoken_cache(cache_dir: Path | None = None) -> Path:
    """Write (once) and verify tiktoken's cache files for every encoding in :data:`VOCABS`, then set
    ``TIKTOKEN_CACHE_DIR`` to the folder. Returns the folder. Raises :class:`TokenizerError` when
    quicktok is missing or a converted file does not hash to tiktoken's expected sha256."""
    folder = (cache_dir or default_cache_dir()).resolve()
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        for vocab in VOCABS.values():
            target = folder / vocab.cache_name
            if _is_valid(target, vocab.sha256):
                continue
            source = _quicktok_data_dir() / vocab.quicktok_file
            try:
                raw = source.read_bytes()
            except OSError as exc:
                raise TokenizerError(f"cannot read {source}: {exc}") from exc
            data = convert_quicktok_vocab(raw)
            actual = hashlib.sha256(data).hexdigest()
            if actual != vocab.sha256:
                raise TokenizerError(
                    f"{vocab.encoding} converted from {source} hashes to {actual}, "
                    f"not the {vocab.sha256} tiktoken expects"
                )
            # Write then rename, so a concurrent reader never sees half a file.
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return folder


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, served from the offline cache (prepared on first call)."""
    if name not in VOCABS:
        raise TokenizerError(
            f"encoding {name!r} is not available offline; use one of {list(VOCABS)}"
        )
    ensure_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in ``text`` (special-token text counted as ordinary text)."""
    return len(get_encoding(encoding).encode_ordinary(text))


__all__ = [
    "DEFAULT_ENCODING",
    "VOCABS",
    "convert_quicktok_vocab",
    "count_tokens",
    "default_cache_dir",
    "ensure_tiktoken_cache",
    "get_encoding",
]
