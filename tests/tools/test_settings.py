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


def test_placeholder_secret_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "production")
    monkeypatch.setenv("CONCIERGE_SHOP_SECRET", "changethis")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CONCIERGE_SHOP_SECRET", "a-real-secret-8c1f")
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


def test_placeholder_secret_is_fine_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "development")
    monkeypatch.delenv("CONCIERGE_SHOP_SECRET", raising=False)
    assert Settings(_env_file=None).shop_secret.get_secret_value() == "changethis"  # type: ignore[call-arg]
