"""Conversation tokens, signed identities, the shop secret, staff API keys and the settings that
configure them."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.errors import Unauthorized
from api.security import (
    IDENTITY_CLOCK_SKEW_S,
    IdentityVerifier,
    Role,
    ShopSecretError,
    TokenSigner,
    identity_signature,
    load_shop_secret,
    role_of,
)
from tests.api.conftest import forged_token
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


@pytest.mark.parametrize(
    "payload_json",
    [
        '{"c":"c_1","u":["alice_1"],"t":1000000}',
        '{"c":"c_1","u":5,"t":1000000}',
        '{"c":"c_1","u":{"id":"alice_1"},"t":1000000}',
        '{"c":123,"u":null,"t":1000000}',
        '{"c":"","u":null,"t":1000000}',
        '{"c":["c_1"],"u":null,"t":1000000}',
        '{"c":"c_1","u":null,"t":NaN}',
        '{"c":"c_1","u":null,"t":Infinity}',
        '{"c":"c_1","u":null,"t":1e400}',
        '{"c":"c_1","u":null,"t":1' + "0" * 400 + "}",
        '{"c":"c_1","u":null,"t":"x"}',
        '{"c":"c_1","u":null,"t":"1000000"}',
        '{"c":"c_1","u":null,"t":true}',
        '{"c":"c_1","u":null,"t":null}',
        '{"u":null,"t":1000000}',
        '{"c":"c_1","t":1000000}',
        '{"c":"c_1","u":null}',
        '["c_1",null,1000000]',
        '"c_1"',
        "not json",
        '{"c":"c_1","u":null,"t":1003600}',  # issued an hour from now
    ],
)
def test_a_token_with_malformed_fields_is_refused_even_when_signed(payload_json: str) -> None:
    signer = TokenSigner("shop-secret", ttl_s=3600, clock=lambda: 1_000_000.0)
    with pytest.raises(Unauthorized) as refused:
        signer.verify(forged_token(signer, payload_json))
    assert refused.value.code == "invalid_token"


def test_a_well_formed_forged_payload_passes_so_the_refusals_above_are_about_the_fields() -> None:
    signer = TokenSigner("shop-secret", ttl_s=3600, clock=lambda: 1_000_000.0)
    for payload_json, customer in [
        ('{"c":"c_1","u":"alice_1","t":999999}', "alice_1"),
        ('{"c":"c_1","u":null,"t":1000030.5}', None),  # a replica's clock a little ahead
    ]:
        grant = signer.verify(forged_token(signer, payload_json))
        assert (grant.conversation_id, grant.customer_id) == ("c_1", customer)


def test_an_identity_signature_covers_the_customer_id_and_the_issue_time() -> None:
    # The documented format, as a shop's server computes it.
    expected = hmac.new(b"shop-secret", b"alice_1:1000000", hashlib.sha256).hexdigest()
    assert identity_signature("alice_1", 1_000_000, "shop-secret") == expected


def test_a_signed_identity_is_checked_for_signature_and_age() -> None:
    now = [1_000_000.0]
    identities = IdentityVerifier("shop-secret", max_age_s=600, clock=lambda: now[0])
    signature = identity_signature("alice_1", 1_000_000, "shop-secret")
    identities.verify("alice_1", 1_000_000, signature)
    identities.verify("alice_1", 1_000_000, signature.upper())
    refusals = [
        (("bob_2", 1_000_000, signature), "bad_signature"),  # another customer
        (("alice_1", 1_000_001, signature), "bad_signature"),  # another time
        (
            ("alice_1", 1_000_000, identity_signature("alice_1", 1_000_000, "other")),
            "bad_signature",
        ),
        (("alice_1", 1_000_000, "0" * 64), "bad_signature"),
        (("alice_1", 1_000_000, "é"), "bad_signature"),
    ]
    for (customer_id, issued_at, sig), code in refusals:
        with pytest.raises(Unauthorized) as refused:
            identities.verify(customer_id, issued_at, sig)
        assert refused.value.code == code
    now[0] = 1_000_000 - IDENTITY_CLOCK_SKEW_S  # the shop's clock a little ahead: accepted
    identities.verify("alice_1", 1_000_000, signature)
    now[0] -= 1
    with pytest.raises(Unauthorized, match="future") as refused:
        identities.verify("alice_1", 1_000_000, signature)
    assert refused.value.code == "identity_not_yet_valid"
    now[0] = 1_000_600
    identities.verify("alice_1", 1_000_000, signature)
    now[0] += 1
    with pytest.raises(Unauthorized, match="expired") as refused:
        identities.verify("alice_1", 1_000_000, signature)
    assert refused.value.code == "identity_expired"


def test_development_generates_a_private_shop_secret_once(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path / "var", shop_secret=None)
    secret, path = load_shop_secret(settings)
    assert path == tmp_path / "var" / "shop_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 40 and path.read_text().strip() == secret
    assert load_shop_secret(settings) == (secret, path)  # reused, not regenerated
    other, _ = load_shop_secret(settings.model_copy(update={"var_dir": tmp_path / "elsewhere"}))
    assert other != secret


def test_a_placeholder_is_replaced_in_development_unless_explicitly_allowed(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, shop_secret="changethis")
    secret, path = load_shop_secret(settings)
    assert secret != "changethis" and path == tmp_path / "shop_secret"
    allowed = settings.model_copy(
        update={"var_dir": tmp_path / "b", "allow_placeholder_secret": True}
    )
    assert load_shop_secret(allowed) == ("changethis", None)
    assert not (tmp_path / "b").exists()


def test_a_configured_secret_is_used_as_it_is(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, shop_secret="a-real-secret-8c1f")
    assert load_shop_secret(settings) == ("a-real-secret-8c1f", None)
    assert not (tmp_path / "shop_secret").exists()


@pytest.mark.parametrize("secret", [None, "changethis"])
def test_no_secret_is_generated_or_allowed_outside_development(
    tmp_path: Path, secret: str | None
) -> None:
    # model_copy skips the settings' own validation: the check at start-up still holds.
    settings = Settings(_env_file=None, var_dir=tmp_path).model_copy(
        update={
            "environment": "production",
            "shop_secret": secret and SecretStr(secret),
            "allow_placeholder_secret": True,
        }
    )
    with pytest.raises(ShopSecretError, match="CONCIERGE_SHOP_SECRET"):
        load_shop_secret(settings)
    assert not (tmp_path / "shop_secret").exists()


def test_an_unusable_secret_file_is_named_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "shop_secret").write_text("\n")
    settings = Settings(_env_file=None, var_dir=tmp_path, shop_secret=None)
    with pytest.raises(ShopSecretError, match="shop_secret"):
        load_shop_secret(settings)
    assert (tmp_path / "shop_secret").read_text() == "\n"


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
