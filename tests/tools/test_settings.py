from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting() -> None:
    documented = set(re.findall(r"^CONCIERGE_(\w+)=", (REPO / ".env.example").read_text(), re.M))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_defaults_give_an_embedded_sqlite_store_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONCIERGE_STORE_URL", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_store_url.startswith("sqlite:///")
    assert settings.resolved_store_url.endswith("var/concierge.db")
    assert settings.resolved_model_dir == settings.var_dir / "models"


def test_empty_variables_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_MODEL_DIR", "")
    monkeypatch.setenv("CONCIERGE_STORE_URL", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_model_dir == settings.var_dir / "models"
    assert settings.resolved_store_url.startswith("sqlite:///")


@pytest.mark.parametrize("secret", ["changethis", None])
def test_a_placeholder_or_missing_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "production")
    if secret is None:
        monkeypatch.delenv("CONCIERGE_SHOP_SECRET", raising=False)
    else:
        monkeypatch.setenv("CONCIERGE_SHOP_SECRET", secret)
    with pytest.raises(ValidationError, match="CONCIERGE_SHOP_SECRET is unset or a placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CONCIERGE_SHOP_SECRET", "a-real-secret-8c1f")
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


def test_allowing_a_placeholder_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "test")
    monkeypatch.setenv("CONCIERGE_SHOP_SECRET", "a-real-secret-8c1f")
    monkeypatch.setenv("CONCIERGE_ALLOW_PLACEHOLDER_SECRET", "1")
    with pytest.raises(ValidationError, match="only in development"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_development_starts_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # `concierge serve` then generates one (tests/api/test_security.py).
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "development")
    monkeypatch.delenv("CONCIERGE_SHOP_SECRET", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.shop_secret is None and not settings.allow_placeholder_secret
