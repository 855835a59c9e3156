"""Who may open what: the shop's signed customer identities, conversation tokens and staff API keys.

- A signed identity is ``hex(HMAC-SHA256(shop_secret, customer_id))``, computed by the shop's own
  server for its logged-in customer, like the identity hashes of common chat widgets.
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
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from api.errors import Unauthorized

_TOKEN_PREFIX = "ct1"
_TOKEN_KEY_LABEL = b"concierge/conversation-token/v1"


def identity_signature(customer_id: str, shop_secret: str) -> str:
    """What the shop's server sends along with ``customer_id`` to vouch for it."""
    return hmac.new(shop_secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def identity_is_signed(customer_id: str, signature: str, shop_secret: str) -> bool:
    expected = identity_signature(customer_id, shop_secret)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


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
        try:
            body = json.loads(_unb64(payload))
            grant = Grant(str(body["c"]), body["u"], float(body["t"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise Unauthorized(
                "The conversation token is not valid.", code="invalid_token"
            ) from exc
        if self._clock() - grant.issued_at > self.ttl_s:
            raise Unauthorized(
                "The conversation token has expired; start a new conversation.",
                code="token_expired",
            )
        return grant


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
