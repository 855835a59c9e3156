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

    demo_seed: int = 7
    """Seed of the deterministic demo-shop generator."""

    return_window_days: int = Field(default=30, ge=0)
    """Days after delivery during which items may be returned or exchanged (orders without a recorded
    delivery date, like the tau2 shop's, have no window to check)."""

    shop_secret: SecretStr = Field(default=SecretStr("changethis"))
    """HMAC secret the shop's site uses to sign customer identities for the chat widget."""

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
    def tau2_dir(self) -> Path:
        return self.shared_data_dir / "tau2_bench_retail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
