from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from knowledge.errors import TokenizerError
from knowledge.tokens import (
    VOCABS,
    convert_quicktok_vocab,
    count_tokens,
    ensure_tiktoken_cache,
    get_encoding,
)

REPO = Path(__file__).resolve().parents[2]


def test_pinned_hashes_are_the_ones_tiktoken_expects() -> None:
    # tiktoken_ext ships no type information; the module is only read as text here.
    source = inspect.getsource(importlib.import_module("tiktoken_ext.openai_public"))
    for vocab in VOCABS.values():
        assert vocab.blob_url in source
        assert f'expected_hash="{vocab.sha256}"' in source


def test_cache_files_are_named_as_tiktoken_looks_them_up() -> None:
    assert VOCABS["o200k_base"].cache_name == "fb374d419588a4632f3f557e76b4b70aebbca790"
    assert VOCABS["cl100k_base"].cache_name == "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"


def test_conversion_writes_verified_files_and_points_tiktoken_at_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)  # restored after the test
    folder = ensure_tiktoken_cache(tmp_path / "tiktoken")
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(folder)
    for vocab in VOCABS.values():
        data = (folder / vocab.cache_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == vocab.sha256
    # A corrupted cache file is rewritten, not trusted.
    target = folder / VOCABS["cl100k_base"].cache_name
    target.write_bytes(b"garbage")
    ensure_tiktoken_cache(folder)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == VOCABS["cl100k_base"].sha256


def test_malformed_quicktok_vocabularies_are_refused() -> None:
    with pytest.raises(TokenizerError, match="truncated"):
        convert_quicktok_vocab(b"\x05\x00\x00\x00\x01\x00")
    with pytest.raises(TokenizerError, match="trailing"):
        convert_quicktok_vocab(b"\x00\x00\x00\x00extra")


def test_unknown_encodings_are_refused() -> None:
    with pytest.raises(TokenizerError, match="not available offline"):
        get_encoding("p50k_base")


def test_counting_tokens() -> None:
    assert count_tokens("hello world") == 2
    assert count_tokens("hello world", "cl100k_base") == 2
    assert (
        get_encoding().decode(get_encoding().encode("Returns and Refunds")) == "Returns and Refunds"
    )


def test_tiktoken_works_offline_with_no_network(tmp_path: Path) -> None:
    """In a fresh process with every socket refused and the hub offline, a fresh cache is built
    and tiktoken (as langchain-openai would call it) encodes."""
    script = textwrap.dedent(
        f"""
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled in this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse

        from pathlib import Path
        from knowledge.tokens import ensure_tiktoken_cache
        ensure_tiktoken_cache(Path({str(tmp_path / "cache")!r}))

        import tiktoken
        for name in ("o200k_base", "cl100k_base"):
            enc = tiktoken.get_encoding(name)
            assert enc.decode(enc.encode("Where is my order #W2611340?")) == "Where is my order #W2611340?"
        print(len(tiktoken.encoding_for_model("gpt-4o").encode("hello world")))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
