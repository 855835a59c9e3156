"""An OpenAI-compatible ``POST /v1/chat/completions``, so existing chat clients can talk to the agent.

How it maps onto conversations: the API key *is* a conversation token (create one with
``POST /v1/conversations`` and pass it as the client's ``api_key``). The agent keeps the conversation's
history itself, so only the last ``user`` message of ``messages`` is sent to it; earlier messages a
client resends are ignored rather than answered twice. A token opens its own conversation and no
other, whatever ``user`` or ``model`` say. ``model`` is echoed as ``concierge``. A completion also
carries the customer's view of the reply (:class:`api.replies.Reply`: citations, handoff state) under
``concierge``; a streamed one sends the reply's text only.

    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=token)
    client.chat.completions.create(model="concierge", messages=[{"role": "user", "content": "hi"}])
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.conversations import collect, start_turn
from api.deps import RuntimeDep, TokenGrant
from api.errors import Unprocessable

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

MODEL = "concierge"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request this facade reads; others (temperature, ...) are accepted and
    ignored, since the agent decides how it answers."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None


def _last_user_text(request: ChatCompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        if message.content:
            return "\n".join(p.text for p in message.content if p.type == "text" and p.text)
    raise Unprocessable("messages has no user message to answer.", code="no_user_message")


def _envelope(completion_id: str, created: int, obj: str) -> dict[str, Any]:
    return {"id": completion_id, "object": obj, "created": created, "model": MODEL}


def _chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None) -> str:
    body = _envelope(completion_id, created, "chat.completion.chunk")
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return json.dumps(body)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    runtime: RuntimeDep, grant: TokenGrant, request: ChatCompletionRequest
) -> dict[str, Any] | EventSourceResponse:
    """Answer the last user message in the conversation the API key (a conversation token) opens.
    With ``stream``, OpenAI's ``chat.completion.chunk`` events, ending with ``data: [DONE]``."""
    events = start_turn(runtime, grant, _last_user_text(request), channel="openai")
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())
    if not request.stream:
        body = await collect(events)
        completion = _envelope(completion_id, created, "chat.completion")
        completion["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": body["reply"]},
                "finish_reason": "stop",
            }
        ]
        completion["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        completion["concierge"] = body
        return completion

    async def chunks() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(_chunk(completion_id, created, {"role": "assistant"}, None), sep="\n")
        async for event in events:
            if event.event == "delta":
                delta = {"content": event.data["text"]}
                yield ServerSentEvent(_chunk(completion_id, created, delta, None), sep="\n")
            elif event.event == "reset":
                # OpenAI's stream cannot take text back: the reply sent instead follows after a
                # blank line (rare: what was sent had passed the grounding check).
                delta = {"content": "\n\n"}
                yield ServerSentEvent(_chunk(completion_id, created, delta, None), sep="\n")
            elif event.event == "error":
                error = {"error": {"type": "server_error", **event.data}}
                yield ServerSentEvent(json.dumps(error), sep="\n")
        yield ServerSentEvent(_chunk(completion_id, created, {}, "stop"), sep="\n")
        yield ServerSentEvent("[DONE]", sep="\n")

    return EventSourceResponse(chunks(), sep="\n", ping=15)


@router.get("/models")
def list_models() -> dict[str, Any]:
    """The one model this facade serves (some clients list models before chatting)."""
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "concierge"}],
    }
