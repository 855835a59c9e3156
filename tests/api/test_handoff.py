"""The human agents' endpoints over the real app, agent and store: a customer handed to a human and
back, risky writes approved or rejected from the queue, and keys that must not open them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.security import staff_id
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import find_order, order_status
from tests.api.conftest import Service, open_service
from tools.models import AuditEntry

AGENT_A = "agent-a-key-5f0c2b9e41"
AGENT_B = "agent-b-key-93d8e6a170"
ADMIN = "admin-key-c4a7e2d95b"


def key(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Service]:
    """The app with two agents' keys and an admin's, where every return needs a human's approval."""
    settings = {"api_agent_keys": [AGENT_A, AGENT_B], "api_admin_keys": [ADMIN]}
    with open_service(
        tmp_path_factory.mktemp("handoff"), api_classifier, api_kb, settings, risky_amount=0.0
    ) as service:
        yield service


def act(desk: Service, who: str, ticket_id: int, endpoint: str, **body: Any) -> Any:
    return desk.client.post(
        f"/v1/agent/tickets/{ticket_id}/{endpoint}", json=body or None, headers=key(who)
    )


def history(desk: Service, cid: str, auth: dict[str, str]) -> dict[str, Any]:
    r = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_human_takes_the_conversation_and_gives_it_back(desk: Service) -> None:
    order, customer = find_order(desk.store, "pending")
    cid, auth = desk.start(customer.id)
    escalated = desk.say(cid, auth, "I want to talk to a human")
    assert escalated["escalated"] and escalated["handed_off"]
    ticket_id = escalated["ticket_id"]

    queue = desk.client.get("/v1/agent/tickets?status=open", headers=key(AGENT_A)).json()
    [listed] = [t for t in queue["tickets"] if t["ticket_id"] == ticket_id]
    assert (listed["kind"], listed["status"], listed["conversation_id"]) == ("handoff", "open", cid)

    shown = desk.client.get(f"/v1/agent/tickets/{ticket_id}", headers=key(AGENT_A)).json()
    package = shown["handoff"]
    assert package["ticket_id"] == ticket_id and package["customer_id"] == customer.id
    assert "customer_asked_for_human" in package["reasons"]
    assert package["transcript"][0] == {"role": "customer", "text": "I want to talk to a human"}
    assert package["summary"] and package["classification"]["intent"]
    assert isinstance(package["orders"], list) and shown["approval"] is None
    assert shown["conversation"]["handed_off"]

    claimed = act(desk, AGENT_A, ticket_id, "claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["ticket"]["claimed_by"] == staff_id(AGENT_A)
    assert act(desk, AGENT_A, ticket_id, "claim").status_code == 200  # one's own claim again
    second = act(desk, AGENT_B, ticket_id, "claim")
    assert second.status_code == 409 and second.json()["error"]["code"] == "ticket_unavailable"
    assert act(desk, AGENT_B, ticket_id, "reply", text="Mine now").status_code == 409
    mine = desk.client.get("/v1/agent/tickets?claimed_by=me", headers=key(AGENT_B)).json()
    assert ticket_id not in [t["ticket_id"] for t in mine["tickets"]]

    r = act(desk, AGENT_A, ticket_id, "reply", text="Hi, this is Dana. Checking now.", name="Dana")
    assert r.status_code == 200, r.text
    assert r.json()["handed_off"]
    last = history(desk, cid, auth)["messages"][-1]
    assert (last["role"], last["agent"], last["text"]) == (
        "agent",
        "Dana",
        "Hi, this is Dana. Checking now.",
    )

    waiting = desk.say(cid, auth, "thanks, still there?")
    assert waiting["reply"] == "" and waiting["handed_off"]
    assert history(desk, cid, auth)["messages"][-1]["role"] == "customer"

    back = act(desk, AGENT_A, ticket_id, "hand-back")
    assert back.status_code == 200, back.text
    assert not back.json()["handed_off"] and back.json()["ticket"]["status"] == "claimed"
    after = history(desk, cid, auth)
    assert not after["handed_off"] and after["messages"][-1]["role"] == "concierge"
    again = act(desk, AGENT_A, ticket_id, "hand-back")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_handed_off"

    answered = desk.say(cid, auth, f"What is the status of order {order.id}?")
    assert answered["reply"] and not answered["handed_off"]
    assert "get_order_details" in desk.agent.result(cid).tools

    resolved = act(desk, AGENT_A, ticket_id, "resolve", note="customer helped")
    assert resolved.status_code == 200 and resolved.json()["ticket"]["status"] == "resolved"
    assert act(desk, AGENT_A, ticket_id, "reply", text="one more").status_code == 409
    done = desk.client.get("/v1/agent/tickets?status=resolved", headers=key(AGENT_A)).json()
    assert ticket_id in [t["ticket_id"] for t in done["tickets"]]
    with desk.store.read() as s:
        actions = [
            e.action for e in s.query(AuditEntry).filter_by(target=f"ticket:{ticket_id}").all()
        ]
    assert actions == ["transfer_to_human_agents", "claim_ticket", "resolve_ticket"]


def test_resolving_a_handed_off_ticket_gives_the_conversation_back(desk: Service) -> None:
    cid, auth = desk.start()
    ticket_id = desk.say(cid, auth, "I want to talk to a human")["ticket_id"]
    r = act(desk, AGENT_B, ticket_id, "resolve")
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["claimed_by"] == staff_id(AGENT_B) and not r.json()["handed_off"]
    assert not history(desk, cid, auth)["handed_off"]


def test_an_approved_return_goes_through(desk: Service) -> None:
    cid, auth, order_id, ticket_id = desk.pause_a_return(0)
    queue = desk.client.get("/v1/agent/tickets?kind=approval", headers=key(AGENT_A)).json()
    [listed] = [t for t in queue["tickets"] if t["ticket_id"] == ticket_id]
    assert listed["conversation_id"] == cid and listed["order_id"] == order_id
    shown = desk.client.get(f"/v1/agent/tickets/{ticket_id}", headers=key(AGENT_A)).json()
    assert shown["approval"]["tool"] == "return_delivered_order_items"
    assert shown["approval"]["arguments"]["order_id"] == order_id

    r = act(desk, AGENT_A, ticket_id, "approval", action="approve")
    assert r.status_code == 200, r.text
    assert "return" in r.json()["reply"].lower() and r.json()["ticket"]["status"] == "resolved"
    assert order_status(desk.store, order_id) == "return requested"
    last = history(desk, cid, auth)["messages"][-1]
    assert last["role"] == "concierge" and last["text"] == r.json()["reply"]
    twice = act(desk, AGENT_A, ticket_id, "approval", action="approve")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "nothing_pending"


def test_a_rejected_return_is_explained_to_the_customer(desk: Service) -> None:
    cid, auth, order_id, ticket_id = desk.pause_a_return(1)
    bad = act(desk, AGENT_B, ticket_id, "approval", action="bless")
    assert bad.status_code == 422
    edit = act(desk, AGENT_B, ticket_id, "approval", action="edit", arguments={"price": 0})
    assert edit.status_code == 422 and edit.json()["error"]["code"] == "unknown_argument"

    r = act(desk, AGENT_B, ticket_id, "approval", action="reject", reason="over the limit")
    assert r.status_code == 200, r.text
    assert order_status(desk.store, order_id) == "delivered"
    last = history(desk, cid, auth)["messages"][-1]
    assert last["role"] == "concierge"
    assert "could not approve" in last["text"] and "over the limit" in last["text"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_api_key"),
        (key("agent-a-key-5f0c2b9e4"), 401, "invalid_api_key"),
        ({"Authorization": f"Basic {AGENT_A}"}, 401, "missing_api_key"),
    ],
)
def test_requests_without_a_staff_key_are_refused(
    desk: Service, headers: dict[str, str], status: int, code: str
) -> None:
    r = desk.client.get("/v1/agent/tickets", headers=headers)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_keys_and_tokens_open_only_their_own_doors(desk: Service) -> None:
    cid, auth = desk.start()
    ticket_id = desk.say(cid, auth, "I want to talk to a human")["ticket_id"]
    # A customer's token is not a staff key, and a staff key is not a conversation token.
    refused = desk.client.get(f"/v1/agent/tickets/{ticket_id}", headers=auth)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "conversation_token"
    assert (
        act(desk, auth["Authorization"].removeprefix("Bearer "), ticket_id, "claim").status_code
        == 403
    )
    for staff_key in (AGENT_A, ADMIN):
        r = desk.client.get(f"/v1/conversations/{cid}/messages", headers=key(staff_key))
        assert r.status_code == 401
    r = desk.client.get("/v1/agent/me", headers={"X-API-Key": AGENT_B})
    assert r.json() == {"staff_id": staff_id(AGENT_B), "role": "agent", "name": None}
    unknown = desk.client.get("/v1/agent/tickets/999999", headers=key(AGENT_A))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_ticket"

    # Reassigning and looking at others' claims are for admins.
    assert act(desk, AGENT_A, ticket_id, "claim").status_code == 200
    others = f"/v1/agent/tickets?claimed_by={staff_id(AGENT_A)}"
    assert desk.client.get(others, headers=key(AGENT_B)).status_code == 403
    listed = desk.client.get(others, headers=key(ADMIN)).json()["tickets"]
    assert [t["ticket_id"] for t in listed if t["ticket_id"] == ticket_id] == [ticket_id]
    forbidden = act(desk, AGENT_B, ticket_id, "assign", staff_id=staff_id(AGENT_B))
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "admin_only"
    assert act(desk, AGENT_B, ticket_id, "release").status_code == 409
    moved = act(desk, ADMIN, ticket_id, "assign", staff_id=staff_id(AGENT_B))
    assert moved.status_code == 200 and moved.json()["ticket"]["claimed_by"] == staff_id(AGENT_B)
    assert act(desk, AGENT_B, ticket_id, "reply", text="Hello from B").status_code == 200
    assert act(desk, AGENT_A, ticket_id, "reply", text="Hello from A").status_code == 409
    # An admin may act on a ticket someone else holds; the claim stays theirs.
    r = act(desk, ADMIN, ticket_id, "reply", text="Hello from the admin")
    assert r.status_code == 200 and r.json()["ticket"]["claimed_by"] == staff_id(AGENT_B)
    released = act(desk, ADMIN, ticket_id, "release")
    assert released.status_code == 200 and released.json()["ticket"]["status"] == "open"
    nothing = act(desk, AGENT_A, ticket_id, "approval", action="approve")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_pending"


def test_an_approval_is_queued_as_severe_as_the_customer_s_words_before_a_calm_one(
    desk: Service,
) -> None:
    calm = desk.pause_a_return(2)[3]
    order, customer = find_order(desk.store, "delivered", index=3)
    cid, auth = desk.start(customer.id)
    desk.say(cid, auth, f"I want to return all items of {order.id}")
    desk.say(
        cid,
        auth,
        "the original payment method. this is a disgrace, it burned my hand and I will call my "
        "lawyer",
    )
    severity = desk.agent.result(cid).severity  # as the classifier read that message
    assert severity is not None and severity >= 4
    paused = desk.say(cid, auth, "yes")
    assert paused["awaiting_approval"] and paused["ticket_id"], paused

    queue = desk.client.get("/v1/agent/tickets?kind=approval", headers=key(AGENT_A)).json()
    listed = [(t["ticket_id"], t["severity"]) for t in queue["tickets"]]
    assert (paused["ticket_id"], severity) in listed, listed
    ids = [ticket_id for ticket_id, _ in listed]
    assert ids.index(paused["ticket_id"]) < ids.index(calm), listed  # most severe first


def test_staff_see_a_card_number_the_customer_typed_only_as_its_last_four_digits(
    desk: Service,
) -> None:
    _, customer = find_order(desk.store, "delivered", index=3)
    cid, auth = desk.start(customer.id)
    escalated = desk.say(
        cid, auth, "you charged my card 5555 5555 5555 4444 twice, I want to talk to a human"
    )
    assert escalated["escalated"] and escalated["handed_off"]
    ticket_id = escalated["ticket_id"]
    shown = "you charged my card •••• 4444 twice, I want to talk to a human"

    detail = desk.client.get(f"/v1/agent/tickets/{ticket_id}", headers=key(AGENT_A)).json()
    assert detail["handoff"]["transcript"][0] == {"role": "customer", "text": shown}
    assert detail["conversation"]["messages"][0]["text"] == shown
    queue = desk.client.get("/v1/agent/tickets?status=open", headers=key(AGENT_A)).json()
    [listed] = [t for t in queue["tickets"] if t["ticket_id"] == ticket_id]
    assert history(desk, cid, auth)["messages"][0]["text"] == shown
    for seen in (detail, listed):
        assert "5555 5555" not in str(seen) and "5555555555554444" not in str(seen)
