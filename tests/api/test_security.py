"""Conversation tokens, staff API keys and the settings that configure them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from api.errors import Unauthorized
from api.security import Role, TokenSigner, role_of
from tools.settings import Settings


def test_a_token_expires_and_another_shops_token_is_refused() -> None:
    now = [1_000_000.0]
    signer = TokenSigner("shop-secret", ttl_s=3600, clock=lambda: now[0])
    token = signer.issue("c_1", "alice_1")
    grant = signer.verify(token)
    assert (grant.conversation_id, grant.customer_id) == ("c_1", "alice_1")
    with pytest.raises(Unauthorized, match="not valid"):
        TokenSigner("another-shop", ttl_s=3600, clock=lambda: now[0]).verify(token)
    now[0] += 3601
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(token)


def test_api_keys_carry_their_role() -> None:
    agents, admins = [SecretStr("agent-key-0123456789")], [SecretStr("admin-key-0123456789")]
    assert role_of("agent-key-0123456789", agents, admins) is Role.AGENT
    assert role_of("admin-key-0123456789", agents, admins) is Role.ADMIN
    assert role_of("admin-key-012345678", agents, admins) is None


def test_list_settings_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_API_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("CONCIERGE_API_AGENT_KEYS", "k1,k2")
    settings = Settings(_env_file=None)
    assert settings.api_cors_origins == ["https://a.example", "https://b.example"]
    assert [k.get_secret_value() for k in settings.api_agent_keys] == ["k1", "k2"]


def test_short_api_keys_are_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "production")
    monkeypatch.setenv("CONCIERGE_SHOP_SECRET", "a-real-secret-8c1f")
    monkeypatch.setenv("CONCIERGE_API_ADMIN_KEYS", "changeme")
    with pytest.raises(ValidationError, match="API key"):
        Settings(_env_file=None)
    monkeypatch.setenv("CONCIERGE_API_ADMIN_KEYS", "a-long-random-admin-key-41f0")
    assert len(Settings(_env_file=None).api_admin_keys) == 1
