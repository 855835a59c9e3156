"""The OpenAI-compatible facade, driven by the official ``openai`` client over the ASGI app."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from tests.api.conftest import Service, sse_events


def client_for(service: Service, token: str) -> OpenAI:
    return OpenAI(
        base_url="http://testserver/v1", api_key=token, http_client=service.client, max_retries=0
    )


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_a_completion_answers_in_the_tokens_conversation(service: Service) -> None:
    cid, auth = service.start()
    client = client_for(service, token_of(auth))
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "an earlier question the agent must not answer again"},
            {"role": "assistant", "content": "an earlier answer"},
            {"role": "user", "content": "do you have the water bottle in stock?"},
        ],
    )
    assert completion.object == "chat.completion" and completion.model == "concierge"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and "Water Bottle" in (choice.message.content or "")
    history = service.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    # Only the last user message reached the agent; the conversation's own history is the record.
    assert [m["text"] for m in history["messages"] if m["role"] == "customer"] == [
        "do you have the water bottle in stock?"
    ]
    assert history["messages"][-1]["text"] == choice.message.content


def test_a_streamed_completion_ends_with_done(service: Service) -> None:
    cid, auth = service.start()
    client = client_for(service, token_of(auth))
    stream = client.chat.completions.create(
        model="concierge",
        messages=[{"role": "user", "content": [{"type": "text", "text": "return policy?"}]}],
        stream=True,
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    history = service.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    assert text and text == history["messages"][-1]["text"]

    raw = service.client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "thanks"}], "stream": True},
        headers=auth,
    )
    lines = [line for line in raw.text.splitlines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    assert all(json.loads(line[5:])["object"] == "chat.completion.chunk" for line in lines[:-1])
    assert [name for name, _ in sse_events(raw.text)][-1] == "message"


def test_the_api_key_must_be_a_conversation_token(service: Service) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        client_for(service, "sk-not-a-conversation-token").chat.completions.create(
            model="concierge", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.status_code == 401
    body = raised.value.body
    assert isinstance(body, dict) and body["code"] == "invalid_token"


def test_a_request_without_a_user_message_is_a_400_class_error(service: Service) -> None:
    _, auth = service.start()
    with pytest.raises(openai.UnprocessableEntityError):
        client_for(service, token_of(auth)).chat.completions.create(
            model="concierge", messages=[{"role": "system", "content": "be nice"}]
        )
