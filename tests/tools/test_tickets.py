"""The staff's side of tickets: the queue, who holds a ticket, and approval requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.tools.helpers import as_customer, audit, find_order
from tools import tickets
from tools.context import ToolContext
from tools.errors import InvalidArgumentError, TicketNotFoundError, TicketStateError
from tools.escalation import create_ticket, transfer_to_human_agents
from tools.models import TicketKind, TicketStatus
from tools.store import Store


def _handoff(store: Store, conversation_id: str = "conv-1") -> int:
    ctx = ToolContext(store, conversation_id=conversation_id)
    return int(transfer_to_human_agents(ctx, "Wants a human.")["ticket_id"])


def test_tickets_carry_their_kind(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    handoff = _handoff(tau2_store)
    follow_up = create_ticket(as_customer(tau2_store, ref.customer_id), "Damaged.", severity=5)

    assert tickets.get_ticket(tau2_store, handoff)["kind"] == TicketKind.HANDOFF
    queue = tickets.list_tickets(tau2_store, status=TicketStatus.OPEN)
    # Most severe first.
    assert [(t["ticket_id"], t["kind"]) for t in queue] == [
        (follow_up["ticket_id"], "follow_up"),
        (handoff, "handoff"),
    ]
    assert tickets.list_tickets(tau2_store, kind=TicketKind.FOLLOW_UP) == queue[:1]


def test_a_claimed_ticket_belongs_to_its_holder(tau2_store: Store) -> None:
    ticket_id = _handoff(tau2_store)

    claimed = tickets.claim(tau2_store, ticket_id, "staff-a")
    assert (claimed["status"], claimed["claimed_by"]) == ("claimed", "staff-a")
    assert claimed["claimed_at"] is not None
    assert tickets.claim(tau2_store, ticket_id, "staff-a") == claimed
    refusals: list[Callable[[], object]] = [
        lambda: tickets.claim(tau2_store, ticket_id, "staff-b"),
        lambda: tickets.take(tau2_store, ticket_id, "staff-b"),
        lambda: tickets.release(tau2_store, ticket_id, "staff-b"),
        lambda: tickets.resolve(tau2_store, ticket_id, "staff-b"),
    ]
    for refused in refusals:
        with pytest.raises(TicketStateError, match="claimed by staff-a"):
            refused()
    # An administrator acts without taking the claim over.
    assert tickets.take(tau2_store, ticket_id, "staff-b", admin=True)["claimed_by"] == "staff-a"
    assert tickets.list_tickets(tau2_store, visible_to="staff-b") == []
    assert [t["ticket_id"] for t in tickets.list_tickets(tau2_store, visible_to="staff-a")] == [
        ticket_id
    ]

    released = tickets.release(tau2_store, ticket_id, "staff-a")
    assert (released["status"], released["claimed_by"]) == ("open", None)
    assigned = tickets.assign(tau2_store, ticket_id, "staff-c", by="staff-admin")
    assert (assigned["status"], assigned["claimed_by"]) == ("claimed", "staff-c")
    resolved = tickets.resolve(tau2_store, ticket_id, "staff-c", note="done")
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    with pytest.raises(TicketStateError, match="already resolved"):
        tickets.take(tau2_store, ticket_id, "staff-c", admin=True)
    with pytest.raises(TicketStateError, match="already resolved"):
        tickets.assign(tau2_store, ticket_id, "staff-a", by="staff-admin")
    assert [(e["actor"], e["action"]) for e in audit(tau2_store)] == [
        ("agent", "transfer_to_human_agents"),
        ("staff-a", "claim_ticket"),
        ("staff-a", "release_ticket"),
        ("staff-admin", "assign_ticket"),
        ("staff-c", "resolve_ticket"),
    ]


def test_acting_on_an_open_ticket_claims_it(tau2_store: Store) -> None:
    ticket_id = _handoff(tau2_store)
    assert tickets.take(tau2_store, ticket_id, "staff-b")["claimed_by"] == "staff-b"
    with pytest.raises(TicketNotFoundError):
        tickets.take(tau2_store, ticket_id + 1000, "staff-b")


def test_an_approval_request_is_one_ticket_per_pause(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    first = tickets.request_approval(
        tau2_store,
        "conv-9",
        customer_id=ref.customer_id,
        summary="Return $700",
        order_id=ref.order_id,
    )
    again = tickets.request_approval(
        tau2_store,
        "conv-9",
        customer_id=ref.customer_id,
        summary="Return $700",
        order_id=ref.order_id,
    )
    ticket = tickets.get_ticket(tau2_store, first)
    assert again == first
    assert (ticket["kind"], ticket["status"], ticket["order_id"]) == (
        "approval",
        "open",
        ref.order_id,
    )
    tickets.resolve(tau2_store, first, "staff-a")
    assert (
        tickets.request_approval(tau2_store, "conv-9", customer_id=ref.customer_id, summary="x")
        != first
    )
    # An order that is not the customer's is not attached.
    foreign = tickets.request_approval(
        tau2_store, "conv-10", customer_id=None, summary="Return", order_id=ref.order_id
    )
    assert tickets.get_ticket(tau2_store, foreign)["order_id"] is None
    with pytest.raises(InvalidArgumentError):
        tickets.request_approval(tau2_store, "conv-11", customer_id=None, summary="  ")
