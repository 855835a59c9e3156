"""Process settings: one pydantic-settings model read from ``CONCIERGE_*`` variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository root when running from a checkout; ``var/`` and ``../shared`` are resolved from here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PLACEHOLDERS = frozenset({"", "changethis", "change-me", "changeme", "secret", "placeholder"})


class Settings(BaseSettings):
    """Everything a concierge process reads from its environment; ``.env.example`` lists every field."""

    model_config = SettingsConfigDict(
        env_prefix="CONCIERGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    """Outside development, placeholder secrets are refused at start-up."""

    var_dir: Path = PROJECT_ROOT / "var"
    """Where the embedded default keeps its files (SQLite store, vector store, trained models)."""

    store_url: str | None = None
    """SQLAlchemy URL of the commerce store; default a SQLite file under ``var_dir``.
    PostgreSQL example: ``postgresql+psycopg://user@127.0.0.1:5432/concierge``."""

    shared_data_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets"
    """Folder holding the public datasets (tau2-bench retail, Bitext, ...); read, never copied."""

    model_dir: Path | None = None
    """Where trained classifier artefacts live; default ``var_dir/models``."""

    classifier_threads: int | None = Field(default=None, ge=1)
    """onnxruntime threads of the classifier; empty: the number of cores, at most 4."""

    classifier_top_k: int = Field(default=3, ge=1)
    """How many ranked intents a classifier prediction carries."""

    demo_seed: int = 7
    """Seed of the deterministic demo-shop generator."""

    return_window_days: int = Field(default=30, ge=0)
    """Days after delivery during which items may be returned or exchanged (orders without a recorded
    delivery date, like the tau2 shop's, have no window to check)."""

    shop_secret: SecretStr = Field(default=SecretStr("changethis"))
    """HMAC secret the shop's site uses to sign customer identities for the chat widget."""

    chroma_url: str | None = None
    """Chroma server for the knowledge base (``http://host:8000``, started with ``chroma run``); empty:
    an embedded store in ``chroma_dir``."""

    chroma_dir: Path | None = None
    """Folder of the embedded chroma store; default ``var_dir/chroma``."""

    kb_collection: str = Field(default="concierge_kb", min_length=3, max_length=512)
    """Chroma collection holding the knowledge base's chunks."""

    kb_chunk_tokens: int = Field(default=200, ge=32)
    """Largest chunk in tiktoken tokens (breadcrumb included); 200 stays under MiniLM's 256 word
    pieces, past which it would ignore the rest."""

    kb_chunk_overlap: int = Field(default=32, ge=0)
    """Tokens of trailing text repeated at the start of the next chunk of the same section."""

    kb_token_encoding: Literal["o200k_base", "cl100k_base"] = "o200k_base"
    """tiktoken encoding that measures chunk sizes (served offline from quicktok's vocabularies)."""

    kb_language: str = "en"
    """Language recorded for documents that do not declare one."""

    kb_coverage_threshold: float = Field(default=0.38, ge=-1.0, le=1.0)
    """Best query-to-chunk cosine similarity below which the knowledge base says it has no answer.
    Calibrated on the demo docs + tau2 policy + demo catalog with 44 shop and 32 off-topic questions:
    off-topic peaked at 0.37, shop questions started at 0.39. Recalibrate for another corpus."""

    kb_coverage: Literal["threshold", "model"] = "threshold"
    """How a search decides the knowledge base covers the question: ``threshold``, the best cosine
    similarity against ``kb_coverage_threshold`` (default: it keeps 97% of answerable questions
    covered), or ``model``, the trained coverage model in ``kb_coverage_model`` (flags far more
    unanswerable questions, but today also a third of answerable ones; falls back to the threshold
    while there is no model file)."""

    kb_coverage_model: Path | None = None
    """The coverage model's JSON file, written by ``concierge bench retrieval``; default
    ``model_dir/kb_coverage.json``."""

    kb_embed_threads: int | None = Field(default=None, ge=1)
    """torch threads of the embedding model (process-wide); empty: torch's default, one per core.
    On a busy machine 1 embeds a query several times faster: a short query gives the threads too
    little work to pay for their synchronisation."""

    kb_spelling: bool = True
    """Correct misspelled query words against the knowledge base's vocabulary before searching."""

    kb_rrf_k: int = Field(default=60, ge=1)
    """The k of reciprocal rank fusion in hybrid search (higher flattens the rank weights)."""

    @model_validator(mode="after")
    def _reject_placeholder_secrets(self) -> Settings:
        secret = self.shop_secret.get_secret_value().strip().lower()
        if self.environment != "development" and secret in _PLACEHOLDERS:
            raise ValueError(
                "CONCIERGE_SHOP_SECRET is a placeholder; set a real secret outside development"
            )
        return self

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.var_dir / 'concierge.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.var_dir / "models"

    @property
    def resolved_chroma_dir(self) -> Path:
        return self.chroma_dir or self.var_dir / "chroma"

    @property
    def tau2_dir(self) -> Path:
        return self.shared_data_dir / "tau2_bench_retail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
