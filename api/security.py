"""Who may open what: the shop secret, the shop's signed customer identities, conversation tokens and
staff API keys.

- The shop secret is configured (``CONCIERGE_SHOP_SECRET``) or, in development, generated once into
  ``var_dir/shop_secret``; placeholders like ``changethis`` are never served unless development
  explicitly allows them.
- A signed identity is ``customer_id``, ``issued_at`` (Unix seconds) and
  ``hex(HMAC-SHA256(shop_secret, f"{customer_id}:{issued_at}"))``, computed by the shop's own server
  for its logged-in customer. It starts a conversation only within ``api_identity_max_age_s`` of
  ``issued_at``, so a signature that leaks (a cached page) does not open the account for ever.
- A conversation token is issued when a conversation is created and opens only that conversation. It
  is self-contained and signed (a key derived from the shop secret), so any replica can check it
  without a lookup: ``ct1.<payload>.<signature>``, the payload naming the conversation, the verified
  customer (if any) and when it was issued.
- Staff API keys carry a role (``agent`` or ``admin``), configured in the settings.

Every comparison of secrets is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from api.errors import Unauthorized
from tools.settings import Settings, is_placeholder

_TOKEN_PREFIX = "ct1"
_TOKEN_KEY_LABEL = b"concierge/conversation-token/v1"

SECRET_FILE = "shop_secret"
"""The generated development secret's file name under ``var_dir``."""

IDENTITY_CLOCK_SKEW_S = 60
"""How far in the future an identity's or a token's issue time may be: another server's clock."""


class ShopSecretError(Exception):
    """No shop secret that may be served: unset or a placeholder outside development, or an unusable
    generated file. The message says what to do."""


def load_shop_secret(settings: Settings) -> tuple[str, Path | None]:
    """The shop secret to serve with, and the file it is kept in when it was generated (None when it
    is configured). In development an unset or placeholder secret is generated once into
    ``var_dir/shop_secret`` (readable by its owner only) and read from there on later starts; a
    placeholder is kept only with ``allow_placeholder_secret``. Outside development an unset or
    placeholder secret raises :class:`ShopSecretError`."""
    configured = settings.shop_secret.get_secret_value() if settings.shop_secret else ""
    if not is_placeholder(configured):
        return configured, None
    if settings.environment != "development":
        raise ShopSecretError(
            "CONCIERGE_SHOP_SECRET is unset or a placeholder; outside development set it to a long "
            "random secret, the one the shop's server signs customer identities with"
        )
    if configured and settings.allow_placeholder_secret:
        return configured, None
    path = settings.var_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never overwrite a secret the shop's server may already sign with.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="utf-8").strip()
        if is_placeholder(secret):
            raise ShopSecretError(
                f"{path} holds no usable shop secret; delete it to have a new one generated"
            ) from None
        return secret, path
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    return secret, path


def identity_signature(customer_id: str, issued_at: int, shop_secret: str) -> str:
    """What the shop's server sends along with ``customer_id`` and ``issued_at`` to vouch for
    them: ``hex(HMAC-SHA256(shop_secret, f"{customer_id}:{issued_at}"))``."""
    message = f"{customer_id}:{issued_at}".encode()
    return hmac.new(shop_secret.encode(), message, hashlib.sha256).hexdigest()


class IdentityVerifier:
    """Checks the identities the shop's server signs: the signature, then the issue time."""

    def __init__(
        self, shop_secret: str, max_age_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = shop_secret
        self.max_age_s = max_age_s
        self._clock = clock

    def verify(self, customer_id: str, issued_at: int, signature: str) -> None:
        """Returns when the shop's server signed ``customer_id`` at ``issued_at`` and that is
        recent; raises :class:`Unauthorized` otherwise."""
        expected = identity_signature(customer_id, issued_at, self._secret)
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            raise Unauthorized(
                "The identity signature does not match this customer id and issue time.",
                code="bad_signature",
            )
        age = self._clock() - issued_at
        if age < -IDENTITY_CLOCK_SKEW_S:
            raise Unauthorized(
                "The signed identity was issued in the future; check the shop server's clock.",
                code="identity_not_yet_valid",
            )
        if age > self.max_age_s:
            raise Unauthorized(
                "The signed identity has expired; the shop's server must sign it again.",
                code="identity_expired",
            )


def new_conversation_id() -> str:
    """128 random bits: an id that cannot be guessed (the token is what opens it, not the id)."""
    return f"c_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Grant:
    """What a valid conversation token grants: one conversation, and the identity the channel
    verified when it was created (None for an anonymous chat)."""

    conversation_id: str
    customer_id: str | None
    issued_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks conversation tokens."""

    def __init__(
        self, shop_secret: str, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        # A key of its own: a token is not an identity signature, whatever the payload says.
        self._key = hmac.new(shop_secret.encode(), _TOKEN_KEY_LABEL, hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, conversation_id: str, customer_id: str | None) -> str:
        body = {"c": conversation_id, "u": customer_id, "t": int(self._clock())}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{_TOKEN_PREFIX}.{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> Grant:
        """The grant of a genuine, unexpired token; :class:`Unauthorized` otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            raise Unauthorized("That is not a conversation token.", code="invalid_token")
        _, payload, signature = parts
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            raise Unauthorized("The conversation token is not valid.", code="invalid_token")
        grant = _grant(payload)
        # Only the key makes a token, but a bug or a leaked key must give a 401, never a 500 or a
        # token that never expires (an issue time of NaN, or far in the future).
        if grant is None or grant.issued_at - self._clock() > IDENTITY_CLOCK_SKEW_S:
            raise Unauthorized("The conversation token is not valid.", code="invalid_token")
        if self._clock() - grant.issued_at > self.ttl_s:
            raise Unauthorized(
                "The conversation token has expired; start a new conversation.",
                code="token_expired",
            )
        return grant


def _grant(payload: str) -> Grant | None:
    """The grant a token's payload names, or None when any field is missing or of the wrong type."""
    try:
        body: Any = json.loads(_unb64(payload))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(body, dict) or not {"c", "u", "t"} <= body.keys():
        return None
    conversation_id, customer_id, issued_at = body["c"], body["u"], body["t"]
    if not isinstance(conversation_id, str) or not conversation_id:
        return None
    if customer_id is not None and (not isinstance(customer_id, str) or not customer_id):
        return None
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        return None
    try:
        issued_at = float(issued_at)
    except OverflowError:  # an integer past any float
        return None
    if not math.isfinite(issued_at):
        return None
    return Grant(conversation_id, customer_id, issued_at)


class Role(StrEnum):
    AGENT = "agent"
    ADMIN = "admin"


def role_of(
    key: str, agent_keys: Sequence[SecretStr], admin_keys: Sequence[SecretStr]
) -> Role | None:
    """The role an API key carries (admin wins when a key is listed twice), or None."""
    role: Role | None = None
    # Every key is compared, so the time taken does not tell which list (if any) matched.
    for configured, candidate in [(k, Role.AGENT) for k in agent_keys] + [
        (k, Role.ADMIN) for k in admin_keys
    ]:
        if hmac.compare_digest(configured.get_secret_value().encode(), key.encode()):
            role = candidate if role is None or candidate is Role.ADMIN else role
    return role


@dataclass(frozen=True)
class Staff:
    """Who calls the agent endpoints: a stable id derived from their API key, and its role."""

    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def staff_id(key: str) -> str:
    """A name for the holder of an API key that can be shown and stored (claims, the audit log)
    without revealing the key: one key per person gives one id per person."""
    return f"staff-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def bearer(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
