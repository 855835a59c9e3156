"""The chat endpoints as a shop's widget uses them: identity, tokens, replies, the SSE stream, history,
and clear errors for anything malformed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from agent import deliver_human_reply
from api.security import TokenSigner
from tests.agent.conftest import find_order
from tests.api.conftest import SHOP_SECRET, Service, forged_token, signed_identity, sse_events


def test_anonymous_chat_authenticates_in_the_conversation(service: Service) -> None:
    order, customer = find_order(service.store, "delivered")
    cid, auth = service.start()
    first = service.say(cid, auth, f"where is my order {order.id}?")
    assert not first["authenticated"] and service.agent.result(cid).route == "authenticate"
    assert first["steps"] == []  # nothing about the order before the customer is verified
    second = service.say(cid, auth, f"my email is {customer.email}")
    assert second["authenticated"] and service.agent.state(cid).customer_id == customer.id
    assert second["steps"][0] == {"label": "Verifying your identity"}
    assert order.id in second["reply"]


def test_a_signed_identity_is_verified_from_the_first_message(service: Service) -> None:
    order, customer = find_order(service.store, "delivered", index=1)
    cid, auth = service.start(customer.id)
    r = service.say(cid, auth, f"where is my order {order.id}?")
    record = service.agent.result(cid)
    assert r["authenticated"] and record.customer_id == customer.id
    assert record.route != "authenticate"
    assert order.id in r["reply"] and "delivered" in r["reply"]


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        ("zero signature", "bad_signature"),
        ("another customer's signature", "bad_signature"),
        ("another time's signature", "bad_signature"),
        ("no issue time (the unsigned-time scheme)", "unsigned_identity"),
        ("no signature", "unsigned_identity"),
        ("signed two hours ago", "identity_expired"),
        ("signed for ten minutes from now", "identity_not_yet_valid"),
    ],
)
def test_a_forged_or_stale_identity_is_refused(service: Service, forge: str, code: str) -> None:
    _, customer = find_order(service.store, "pending")
    other = find_order(service.store, "delivered", index=2)[1]
    now = int(time.time())
    body: dict[str, Any] = signed_identity(customer.id, now)
    if forge == "zero signature":
        body["signature"] = "0" * 64
    elif forge == "another customer's signature":
        body["signature"] = signed_identity(other.id, now)["signature"]
    elif forge == "another time's signature":
        body["signature"] = signed_identity(customer.id, now - 1)["signature"]
    elif forge.startswith("no issue time"):
        body = {"customer_id": customer.id, "signature": identity_signature_v0(customer.id)}
    elif forge == "no signature":
        del body["signature"]
    elif forge == "signed two hours ago":
        body = signed_identity(customer.id, now - 7200)
    else:
        body = signed_identity(customer.id, now + 600)
    r = service.client.post("/v1/conversations", json=body)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == code


def identity_signature_v0(customer_id: str) -> str:
    """The signature before identities carried an issue time: valid forever, now refused."""
    return hmac.new(SHOP_SECRET.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("issued_at", "status"), [("soon", 422), (1.5, 422), (-1, 422), ([1], 422), (None, 401)]
)
def test_a_malformed_issue_time_is_refused(service: Service, issued_at: Any, status: int) -> None:
    _, customer = find_order(service.store, "pending")
    body = {**signed_identity(customer.id), "issued_at": issued_at}
    r = service.client.post("/v1/conversations", json=body)
    assert r.status_code == status, r.text


def test_a_signed_id_the_shop_does_not_have_is_refused(service: Service) -> None:
    r = service.client.post("/v1/conversations", json=signed_identity("nobody_123"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_customer"


def test_a_signed_token_with_malformed_fields_is_a_401_not_a_500(service: Service) -> None:
    cid, _ = service.start()
    signer = TokenSigner(SHOP_SECRET, ttl_s=3600)
    for body in [
        {"c": cid, "u": ["someone"], "t": time.time()},
        {"c": cid, "u": 5, "t": time.time()},
        {"c": cid, "u": None, "t": float("nan")},
        {"c": cid, "u": None, "t": "NaN"},
    ]:
        token = forged_token(signer, json.dumps(body))
        r = service.client.get(
            f"/v1/conversations/{cid}/messages", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token", r.text


def test_a_token_opens_only_its_own_conversation(service: Service) -> None:
    a, auth_a = service.start()
    b, auth_b = service.start()
    service.say(b, auth_b, "do you have the water bottle in stock?")
    for method, path, body in [
        ("GET", f"/v1/conversations/{b}/messages", None),
        ("POST", f"/v1/conversations/{b}/messages", {"text": "hi"}),
        ("POST", f"/v1/conversations/{b}/messages/stream", {"text": "hi"}),
    ]:
        r = service.client.request(method, path, json=body, headers=auth_a)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "unknown_conversation"
    token_a = auth_a["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token_a.split(".")
    forged = {"Authorization": f"Bearer {head}.{payload}.{signature[:-2]}AA"}
    for headers, code in [({}, "missing_token"), (forged, "invalid_token")]:
        r = service.client.get(f"/v1/conversations/{a}/messages", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == code
    assert [
        m["role"]
        for m in service.client.get(f"/v1/conversations/{b}/messages", headers=auth_b).json()[
            "messages"
        ]
    ] == ["customer", "concierge"]


def test_stream_events_end_with_done_and_carry_citations(service: Service) -> None:
    cid, auth = service.start()
    r = service.client.post(
        f"/v1/conversations/{cid}/messages/stream",
        json={"text": "what is your return policy?"},
        headers=auth,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names[0] == "citation" and names[-1] == "done" and "delta" in names
    assert names.index("citation") < names.index("delta")
    done = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "delta") == done["reply"]
    cited = [d for n, d in events if n == "citation"]
    assert cited == done["citations"]
    assert cited[0]["source"] == "demo/returns-and-refunds.md" and cited[0]["anchor"]
    assert ".md" not in done["reply"]  # cited as links, not as markers in the text


def test_handoff_is_streamed_and_a_human_reply_reaches_the_next_poll(service: Service) -> None:
    cid, auth = service.start()
    r = service.client.post(
        f"/v1/conversations/{cid}/messages/stream",
        json={"text": "I want to talk to a human"},
        headers=auth,
    )
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert "handoff" in names and names[-1] == "done"
    handoff = events[names.index("handoff")][1]
    assert handoff == {"state": "handed_off", "ticket_id": events[-1][1]["ticket_id"]}
    assert handoff["ticket_id"]
    assert "customer_asked_for_human" in service.agent.result(cid).escalation_reasons
    steps = [d["label"] for n, d in events if n == "step"]
    assert steps == ["Passing your conversation to our team"]
    waiting = service.say(cid, auth, "hello? anyone there?")
    assert waiting["reply"] == "" and waiting["handed_off"]
    deliver_human_reply(service.agent.graph, cid, "Hi, this is Dana from support.", agent="dana")
    history = service.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    assert history["handed_off"]
    assert history["messages"][-1] == {
        "id": history["messages"][-1]["id"],
        "role": "agent",
        "text": "Hi, this is Dana from support.",
        "agent": "dana",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"text": "hi"', "application/json", 400, "json_invalid"),
        (b"\xff\xfe\x00\x01binary\x9c", "application/json", 400, "body_unreadable"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", 415, "unsupported_media_type"),
        (b"text=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"text": "' + b"a" * 70_000 + b'"}', "application/json", 413, "body_too_large"),
        (b'{"message": "hi"}', "application/json", 422, "invalid_body"),
        (b'{"text": 42}', "application/json", 422, "invalid_body"),
        (b'["hi"]', "application/json", 422, "invalid_body"),
        (b'{"text": "  \\u0000 "}', "application/json", 422, "empty_message"),
        (b'{"text": "' + b"a" * 4001 + b'"}', "application/json", 422, "message_too_long"),
    ],
)
def test_bad_bodies_get_a_4xx_with_a_message(
    service: Service, content: bytes, content_type: str, status: int, code: str
) -> None:
    cid, auth = service.start()
    r = service.client.post(
        f"/v1/conversations/{cid}/messages",
        content=content,
        headers={**auth, "Content-Type": content_type},
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]


def test_a_huge_body_without_a_length_is_cut_off(service: Service) -> None:
    cid, auth = service.start()

    def chunks() -> object:
        for _ in range(100):
            yield b"a" * 1024

    r = service.client.post(
        f"/v1/conversations/{cid}/messages",
        content=chunks(),  # type: ignore[arg-type]
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_unknown_ids_routes_and_methods_are_4xx(service: Service) -> None:
    _, auth = service.start()
    for method, path, status in [
        ("GET", "/v1/conversations/c_0000/messages", 404),
        ("GET", "/v1/conversations/" + "x" * 500 + "/messages", 422),
        ("GET", "/v1/nothing-here", 404),
        ("DELETE", "/v1/conversations", 405),
    ]:
        r = service.client.request(method, path, headers=auth)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"]["message"]


def test_a_second_message_while_one_is_answered_is_refused(service: Service) -> None:
    cid, auth = service.start()
    runtime = service.app.state.runtime
    assert runtime.busy.acquire(cid)  # as if a turn were in progress
    try:
        r = service.client.post(
            f"/v1/conversations/{cid}/messages", json={"text": "hi"}, headers=auth
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "turn_in_progress"
    finally:
        runtime.busy.release(cid)
    assert service.say(cid, auth, "do you have the water bottle in stock?")["reply"]
