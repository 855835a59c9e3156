"""What endpoints depend on: the app's runtime, the conversation a token opens, the staff member an
API key names, and the rate limits.
Tests override ``get_runtime`` or build the app around their own agent."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agent import Agent
from api.errors import Forbidden, NotFound, RateLimited, Unauthorized
from api.limits import Busy, TokenBucket
from api.observability import Metrics
from api.security import Grant, IdentityVerifier, Staff, TokenSigner, role_of, staff_id
from tools.settings import Settings


@dataclass
class Runtime:
    """Everything the app's endpoints share; one per app."""

    settings: Settings
    agent: Agent
    signer: TokenSigner
    identities: IdentityVerifier
    metrics: Metrics = field(default_factory=Metrics)
    busy: Busy = field(default_factory=Busy)
    ip_limiter: TokenBucket | None = None
    conversation_limiter: TokenBucket | None = None
    on_ticket: Callable[[dict[str, Any]], None] | None = None
    """Told the reply body of each answered turn that carries a ticket (the Slack desk posts the
    new ones); None when nothing listens."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    """What the app opened itself (store, checkpointer, ...), closed at shutdown."""

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.closers.clear()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False, description="A conversation token (or a staff API key).")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def token_grant(runtime: RuntimeDep, credentials: BearerDep) -> Grant:
    """The conversation the bearer token opens."""
    if credentials is None:
        raise Unauthorized(
            "Send the conversation token as 'Authorization: Bearer <token>' "
            "(POST /v1/conversations returns one).",
            code="missing_token",
        )
    return runtime.signer.verify(credentials.credentials)


TokenGrant = Annotated[Grant, Depends(token_grant)]


def conversation_grant(
    grant: TokenGrant,
    conversation_id: Annotated[str, Path(max_length=80, description="The conversation's id.")],
) -> Grant:
    """The grant, if its token opens the conversation in the path. Another conversation's id reads
    as unknown, so a token tells nothing about conversations it does not open."""
    if not hmac.compare_digest(grant.conversation_id.encode(), conversation_id.encode()):
        raise NotFound(
            f"No conversation {conversation_id!r} for this token.", code="unknown_conversation"
        )
    return grant


ConversationGrant = Annotated[Grant, Depends(conversation_grant)]


_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A staff API key (or send it as a bearer token).",
)
ApiKeyDep = Annotated[str | None, Depends(_api_key)]


def current_staff(runtime: RuntimeDep, credentials: BearerDep, api_key: ApiKeyDep) -> Staff:
    """The staff member whose API key came with the request (agent or admin)."""
    key = credentials.credentials if credentials is not None else api_key
    if not key:
        raise Unauthorized(
            "Send a staff API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
            code="missing_api_key",
        )
    settings = runtime.settings
    role = role_of(key, settings.api_agent_keys, settings.api_admin_keys)
    if role is None:
        try:
            runtime.signer.verify(key)
        except Unauthorized:
            raise Unauthorized("That API key is not valid.", code="invalid_api_key") from None
        raise Forbidden(
            "A conversation token does not open the agent endpoints; use a staff API key.",
            code="conversation_token",
        )
    return Staff(staff_id(key), role)


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def current_admin(staff: CurrentStaff) -> Staff:
    if not staff.is_admin:
        raise Forbidden("Only an administrator may do this.", code="admin_only")
    return staff


CurrentAdmin = Annotated[Staff, Depends(current_admin)]


def spend_message(runtime: Runtime, conversation_id: str) -> None:
    """Take one message from the conversation's rate limit (429 with Retry-After when spent)."""
    limiter = runtime.conversation_limiter
    wait = limiter.take(conversation_id) if limiter is not None else 0.0
    if wait > 0:
        runtime.metrics.rate_limited.labels("conversation").inc()
        raise RateLimited(
            f"Too many messages in this conversation; try again in {wait:.0f} s.", wait
        )
