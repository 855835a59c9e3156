"""The chat endpoints: create a conversation, send a message (JSON or Server-Sent Events), read it back."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.deps import ConversationGrant, Runtime, RuntimeDep, spend_message
from api.errors import Conflict, Unauthorized, Unprocessable
from api.replies import History, Reply
from api.security import Grant, new_conversation_id
from api.turns import TurnEvent, history, raise_for_error, turn_events
from classifiers import mask_cards
from tools.models import Customer

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

# Control characters other than tab and newlines carry nothing a customer wrote.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NewConversation(BaseModel):
    """An anonymous chat (empty body), or one the shop's server vouches for."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(
        default=None, min_length=1, max_length=80, description="The shop's id of its customer."
    )
    issued_at: int | None = Field(
        default=None,
        ge=0,
        strict=True,  # a JSON integer: the signed text is its decimal form
        description="When the shop's server signed the identity (Unix seconds); it is accepted "
        "for CONCIERGE_API_IDENTITY_MAX_AGE_S from then.",
    )
    signature: str | None = Field(
        default=None,
        max_length=128,
        description='hex(HMAC-SHA256(shop secret, f"{customer_id}:{issued_at}")), computed by the '
        "shop's server.",
    )


class Conversation(BaseModel):
    conversation_id: str
    token: str = Field(description="Opens this conversation only: 'Authorization: Bearer <token>'.")
    expires_at: int = Field(description="When the token stops working (Unix seconds).")
    authenticated: bool
    customer_id: str | None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="What the customer wrote.")


def _customer_exists(runtime: Runtime, customer_id: str) -> bool:
    store = runtime.agent.context.store
    if store is None:
        return True
    with store.read() as s:
        return s.get(Customer, customer_id) is not None


@router.post("", status_code=201, response_model=Conversation)
def create_conversation(
    runtime: RuntimeDep, body: Annotated[NewConversation | None, Body()] = None
) -> Conversation:
    """Start a conversation. With a signed ``customer_id`` the customer is verified from the start;
    without one the chat is anonymous and the agent asks the customer to identify themselves."""
    customer_id = None
    if body is not None and (
        body.customer_id is not None or body.issued_at is not None or body.signature is not None
    ):
        if body.customer_id is None or body.issued_at is None or body.signature is None:
            raise Unauthorized(
                "A signed identity needs customer_id, issued_at and signature.",
                code="unsigned_identity",
            )
        runtime.identities.verify(body.customer_id, body.issued_at, body.signature)
        if not _customer_exists(runtime, body.customer_id):
            raise Unprocessable(
                f"The shop has no customer {body.customer_id!r}.", code="unknown_customer"
            )
        customer_id = body.customer_id
    conversation_id = new_conversation_id()
    token = runtime.signer.issue(conversation_id, customer_id)
    return Conversation(
        conversation_id=conversation_id,
        token=token,
        expires_at=int(time.time() + runtime.signer.ttl_s),
        authenticated=customer_id is not None,
        customer_id=customer_id,
    )


def clean_message(runtime: Runtime, text: str) -> str:
    """The customer's text, control characters removed and card numbers cut to their last four
    digits (nobody, the agent and staff included, needs one whole); 422 when empty or too long."""
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise Unprocessable("The message is empty.", code="empty_message")
    limit = runtime.settings.api_max_message_chars
    if len(text) > limit:
        raise Unprocessable(
            f"The message is {len(text)} characters long; the limit is {limit}.",
            code="message_too_long",
        )
    return mask_cards(text)


def start_turn(
    runtime: Runtime, grant: Grant, text: str, *, channel: str
) -> AsyncIterator[TurnEvent]:
    """The events of the agent's turn on the customer's ``text``: the text cleaned (422 when empty or
    too long), then refused over the rate limit or while the previous message is still being
    answered (409)."""
    text = clean_message(runtime, text)
    spend_message(runtime, grant.conversation_id)
    if not runtime.busy.acquire(grant.conversation_id):
        raise Conflict(
            "The previous message in this conversation is still being answered.",
            code="turn_in_progress",
        )
    return turn_events(
        runtime.agent,
        grant,
        text,
        busy=runtime.busy,
        metrics=runtime.metrics,
        channel=channel,
        on_ticket=runtime.on_ticket,
    )


async def collect(events: AsyncIterator[TurnEvent]) -> dict[str, Any]:
    """The ``done`` event's body (a failed turn raises: a logged 500, or a 503 while a database is
    unreachable)."""
    done: dict[str, Any] | None = None
    async for event in events:
        if event.event == "done":
            done = event.data
        elif event.event == "error":
            raise_for_error(event)
    if done is None:
        raise RuntimeError("the turn ended without a reply")
    return done


@router.post("/{conversation_id}/messages", response_model=Reply)
async def send_message(runtime: RuntimeDep, grant: ConversationGrant, message: Message) -> Any:
    """Send the customer's message and get the agent's reply."""
    events = start_turn(runtime, grant, message.text, channel="rest")
    return await collect(events)


@router.post(
    "/{conversation_id}/messages/stream",
    response_model=None,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
)
async def stream_message(
    runtime: RuntimeDep, grant: ConversationGrant, message: Message
) -> EventSourceResponse:
    """The same as sending a message, as Server-Sent Events: ``step`` (what the agent is doing, in
    words), ``citation``, ``delta`` (the reply in pieces), ``handoff`` and, last, ``done`` with the
    whole reply (or ``error``)."""
    events = start_turn(runtime, grant, message.text, channel="sse")

    async def sse() -> AsyncIterator[ServerSentEvent]:
        async for event in events:
            yield ServerSentEvent(data=json.dumps(event.data), event=event.event, sep="\n")

    return EventSourceResponse(sse(), sep="\n", ping=15)


@router.get("/{conversation_id}/messages", response_model=History)
async def get_history(runtime: RuntimeDep, grant: ConversationGrant) -> Any:
    """The conversation so far, human agents' replies included (poll this while handed off)."""
    return await run_in_threadpool(history, runtime.agent, grant.conversation_id)
