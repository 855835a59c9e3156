"""The human agents' console at /console: a static page under the strict CSP, a script that shows
what customers wrote as text only, and what it reads from /v1/agent (the queue, a ticket with the
customer's orders, the suggested reply, signing in by name). (Driven in a real browser in
test_console_browser.py.)"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from api.security import staff_id
from api.slack import Target, brief
from api.web import STATIC_DIR
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.api.conftest import Service, open_service
from tools.models import Customer, Order
from tools.store import Store


def test_the_console_page_is_served_under_the_strict_csp(service: Service) -> None:
    r = service.client.get("/console")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    page = r.text
    assert re.search(r'<script src="/console.js"[^>]*\sdefer>', page)
    assert '<link rel="stylesheet" href="/console.css">' in page
    # Nothing inline for the CSP to block: no inline scripts, styles or handlers.
    assert "<script>" not in page and "style=" not in page and "<style" not in page
    assert not re.search(r"\son[a-z]+=", page)
    # The controls the script looks up by id are all on the page.
    script = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    for element_id in re.findall(r'\$\("([a-z-]+)"\)', script):
        assert f'id="{element_id}"' in page, element_id


def test_the_console_never_writes_html() -> None:
    """Tickets, transcripts and replies are shown as text: the script has no way in for markup."""
    source = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(")
    for sink in sinks:
        assert sink not in source
    assert "textContent" in source
    # The key goes only to this origin's API and stays in this tab.
    assert "localStorage" not in source and "sessionStorage" in source
    assert not re.search(r"fetch\(\s*[\"'`]https?:", source)


# ------------------------------------------------------------------------------------------------
# What the console reads from /v1/agent: the queue, a ticket, the suggested reply, signing in

AGENT_A = "console-agent-a-key-7d31"
AGENT_B = "console-agent-b-key-c95e"
VIP_SPEND = 1000.0


def key(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Service]:
    """The app with two agents' keys, where a lifetime spend of $1,000 makes a VIP."""
    settings = {"api_agent_keys": [AGENT_A, AGENT_B]}
    with open_service(
        tmp_path_factory.mktemp("console"), api_classifier, api_kb, settings, vip_spend=VIP_SPEND
    ) as service:
        yield service


def spend(store: Store, customer_id: str) -> float:
    """Payments less refunds over the customer's orders, counted here from the rows."""
    with store.read() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return sum(
            (1 if t.transaction_type == "payment" else -1) * t.amount_cents / 100
            for o in customer.orders
            for t in o.transactions
        )


def customer_with(store: Store, *, vip: bool) -> tuple[Customer, list[str]]:
    """A customer with two orders or more, a VIP (spent $1,000 or more) or not, and their orders."""
    with store.read() as s:
        for customer in s.scalars(select(Customer).order_by(Customer.id)):
            orders = [o.id for o in customer.orders]
            if len(orders) >= 2 and (spend(store, customer.id) >= VIP_SPEND) is vip:
                s.expunge(customer)
                return customer, orders
    raise AssertionError("no such customer in the tau2 shop")


def handed_off(
    desk: Service, customer_id: str | None, *texts: str
) -> tuple[str, dict[str, str], int]:
    """A conversation where the customer wrote ``texts`` and then asked for a person."""
    cid, auth = desk.start(customer_id)
    for text in texts:
        desk.say(cid, auth, text)
    reply = desk.say(cid, auth, "I want to talk to a human")
    assert reply["handed_off"] and reply["ticket_id"], reply
    return cid, auth, int(reply["ticket_id"])


def listed(desk: Service, who: str, ticket_id: int) -> dict[str, Any]:
    r = desk.client.get("/v1/agent/tickets", headers=key(who))
    assert r.status_code == 200, r.text
    [ticket] = [t for t in r.json()["tickets"] if t["ticket_id"] == ticket_id]
    return dict(ticket)


def test_signing_in_without_staff_keys_configured_says_how_to_configure_them(
    service: Service,
) -> None:
    for method, path, body in [
        ("GET", "/v1/agent/me", None),
        ("POST", "/v1/agent/sign-in", {"name": "Dana"}),
        ("GET", "/v1/agent/tickets", None),
    ]:
        r = service.client.request(method, path, json=body, headers=key("any-key-at-all-1234"))
        assert r.status_code == 401, r.text
        error = r.json()["error"]
        assert error["code"] == "no_staff_keys"
        assert "CONCIERGE_API_AGENT_KEYS" in error["message"]
        assert "CONCIERGE_API_ADMIN_KEYS" in error["message"]


def test_with_keys_configured_a_wrong_key_is_still_just_wrong(desk: Service) -> None:
    r = desk.client.get("/v1/agent/me", headers=key("not-a-staff-key"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_staff_sign_in_with_their_name_and_tickets_show_it(desk: Service) -> None:
    assert desk.client.get("/v1/agent/me", headers=key(AGENT_A)).json()["name"] is None
    r = desk.client.post("/v1/agent/sign-in", json={"name": "  Dana  "}, headers=key(AGENT_A))
    assert r.status_code == 200, r.text
    assert r.json() == {"staff_id": staff_id(AGENT_A), "role": "agent", "name": "Dana"}
    assert desk.client.get("/v1/agent/me", headers=key(AGENT_A)).json()["name"] == "Dana"
    bad = desk.client.post("/v1/agent/sign-in", json={"name": "<b>x</b>"}, headers=key(AGENT_A))
    assert bad.status_code == 422

    _, _, ticket_id = handed_off(desk, None)
    claimed = desk.client.post(f"/v1/agent/tickets/{ticket_id}/claim", headers=key(AGENT_A))
    assert claimed.json()["ticket"]["claimed_by_name"] == "Dana"
    mine = listed(desk, AGENT_A, ticket_id)
    assert (mine["claimed_by"], mine["claimed_by_name"]) == (staff_id(AGENT_A), "Dana")
    # Signing in again under a new name renames the holder everywhere.
    desk.client.post("/v1/agent/sign-in", json={"name": "Dana K"}, headers=key(AGENT_A))
    assert listed(desk, AGENT_A, ticket_id)["claimed_by_name"] == "Dana K"


def test_the_queue_says_who_the_customer_is_and_what_they_want(desk: Service) -> None:
    vip, vip_orders = customer_with(desk.store, vip=True)
    regular, _ = customer_with(desk.store, vip=False)
    _, _, vip_ticket = handed_off(desk, vip.id, f"I want to return all items of {vip_orders[0]}")
    _, _, regular_ticket = handed_off(desk, regular.id, "I'd like to cancel an order")
    _, _, guest_ticket = handed_off(desk, None)

    r = desk.client.get("/v1/agent/tickets?status=open", headers=key(AGENT_B))
    assert r.status_code == 200
    assert abs(datetime.fromisoformat(r.json()["now"]).timestamp() - time.time()) < 60
    first = listed(desk, AGENT_B, vip_ticket)
    assert first["customer_name"] == f"{vip.first_name} {vip.last_name}"
    assert first["vip"] is True
    assert first["wants"] == "Return an item"
    assert first["last_message"] == "I want to talk to a human"
    assert first["severity"] in range(1, 6) and first["created_at"]
    second = listed(desk, AGENT_B, regular_ticket)
    assert second["customer_name"] == f"{regular.first_name} {regular.last_name}"
    assert (second["vip"], second["wants"]) == (False, "Cancel an order")
    guest = listed(desk, AGENT_B, guest_ticket)
    assert (guest["customer_name"], guest["vip"]) == (None, False)
    assert guest["wants"] == "Talk to a person"
    for ticket in (first, second, guest):
        assert "_" not in ticket["wants"], ticket["wants"]


def test_a_ticket_shows_the_customers_orders_named_in_the_conversation_and_only_theirs(
    desk: Service,
) -> None:
    customer, orders = customer_with(desk.store, vip=False)
    other, others = customer_with(desk.store, vip=True)
    assert other.id != customer.id
    cid, _, ticket_id = handed_off(
        desk,
        customer.id,
        f"Where is my order {orders[0]}?",
        f"and {orders[1]}, and my neighbour's {others[0]} too",
    )
    r = desk.client.get(f"/v1/agent/tickets/{ticket_id}", headers=key(AGENT_B))
    assert r.status_code == 200, r.text
    detail = r.json()
    shown = [o["order_id"] for o in detail["orders"]]
    assert shown == orders[:2]
    assert others[0] not in shown
    with desk.store.read() as s:
        order = s.get(Order, orders[0])
        assert order is not None
        names = [item.name for item in order.items]
    [first] = [o for o in detail["orders"] if o["order_id"] == orders[0]]
    assert first["items"] == names and first["status"] == order.status
    # The whole conversation, as the customer sees it.
    said = [m["text"] for m in detail["conversation"]["messages"] if m["role"] == "customer"]
    assert said == [
        f"Where is my order {orders[0]}?",
        f"and {orders[1]}, and my neighbour's {others[0]} too",
        "I want to talk to a human",
    ]
    assert detail["conversation"]["conversation_id"] == cid

    # A guest naming someone's order sees none: nothing says whose the order is but the store.
    _, _, guest_ticket = handed_off(desk, None, f"What is in order {orders[0]}?")
    guest = desk.client.get(f"/v1/agent/tickets/{guest_ticket}", headers=key(AGENT_B)).json()
    assert guest["orders"] == []


def test_the_suggested_reply_is_the_copilots_with_sources_and_is_sent_as_edited(
    desk: Service,
) -> None:
    cid, auth, ticket_id = handed_off(desk, None, "What is your return policy for a gift?")
    r = desk.client.get(f"/v1/agent/tickets/{ticket_id}/suggestion", headers=key(AGENT_B))
    assert r.status_code == 200, r.text
    suggestion = r.json()
    assert suggestion["citations"], suggestion
    ref = suggestion["citations"][0]
    assert f"[{ref}]" in suggestion["reply"]
    assert ref in [p["ref"] for p in suggestion["passages"]]
    assert all(p["title"] and p["excerpt"] for p in suggestion["passages"])
    # The same reply the Slack copilot suggests for this ticket.
    assert suggestion["reply"] == brief(desk.agent, Target(ticket_id=ticket_id)).suggested_reply

    edited = suggestion["reply"] + " Anything else I can help with?"
    sent = desk.client.post(
        f"/v1/agent/tickets/{ticket_id}/reply",
        json={"text": edited, "name": "Sam"},
        headers=key(AGENT_B),
    )
    assert sent.status_code == 200, sent.text
    history = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    last = history["messages"][-1]
    assert (last["role"], last["agent"]) == ("agent", "Sam")
    assert last["text"].endswith("Anything else I can help with?")


def test_the_agent_endpoints_document_their_responses(desk: Service) -> None:
    schema = desk.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    ticket = components["TicketView"]["properties"]
    for field in ("customer_name", "vip", "wants", "last_message", "claimed_by_name"):
        assert ticket[field].get("description"), field
    paths = schema["paths"]
    for path in (
        "/v1/agent/tickets",
        "/v1/agent/tickets/{ticket_id}/suggestion",
        "/v1/agent/sign-in",
    ):
        [operation] = paths[path].values()
        content = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in content, path
