"""Escalation: handing over to a human with a ticket, and looking tickets up."""

from __future__ import annotations

import pytest

from tests.tools.helpers import as_customer, audit, count, find_order, orders, snapshot
from tools.context import ToolContext
from tools.errors import (
    InvalidArgumentError,
    NotAuthenticatedError,
    NotFoundError,
    NotOwnerError,
)
from tools.escalation import create_ticket, get_ticket, transfer_to_human_agents
from tools.models import Ticket
from tools.store import Store


def test_transfer_opens_a_ticket(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    ctx = as_customer(tau2_store, ref.customer_id, actor="agent", conversation_id="conv-1")

    result = transfer_to_human_agents(ctx, "  Wants a refund outside the policy.  ")

    assert result["result"] == "Transfer successful"
    ticket = get_ticket(ctx, result["ticket_id"])
    assert ticket["status"] == "open"
    assert ticket["severity"] == 3
    assert ticket["summary"] == "Wants a refund outside the policy."
    assert ticket["order_id"] is None
    [entry] = audit(tau2_store)
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "agent",
        "transfer_to_human_agents",
        f"ticket:{result['ticket_id']}",
    )


def test_transfer_before_authentication_is_seen_by_its_conversation_only(
    tau2_store: Store,
) -> None:
    ctx = ToolContext(tau2_store, conversation_id="conv-anon")

    result = transfer_to_human_agents(ctx, "Cannot remember email or zip code.")

    assert get_ticket(ctx, result["ticket_id"])["summary"] == "Cannot remember email or zip code."
    with pytest.raises(NotFoundError):
        get_ticket(ToolContext(tau2_store, conversation_id="conv-other"), result["ticket_id"])


def test_create_ticket_about_an_own_order(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    ctx = as_customer(tau2_store, ref.customer_id)

    ticket = create_ticket(ctx, "Parcel arrived damaged.", ref.order_id[1:].lower(), severity=4)

    assert ticket["order_id"] == ref.order_id
    assert ticket["severity"] == 4
    read_back = get_ticket(ctx, ticket["ticket_id"])
    assert {k: v for k, v in read_back.items() if k != "created_at"} == {
        k: v for k, v in ticket.items() if k != "created_at"
    }
    assert [e["action"] for e in audit(tau2_store)] == ["create_ticket"]


def test_ticket_reads_back_exactly_as_created(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    ctx = as_customer(tau2_store, ref.customer_id)

    ticket = create_ticket(ctx, "Parcel arrived damaged.", ref.order_id)

    assert get_ticket(ctx, ticket["ticket_id"]) == ticket


def test_ticket_about_another_customers_order_is_refused(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "delivered")
    theirs = next(o for o in orders(tau2_store) if o.customer_id != mine.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError) as caught:
        create_ticket(as_customer(tau2_store, mine.customer_id), "Where is it?", theirs.order_id)

    assert theirs.customer_id not in caught.value.message
    assert snapshot(tau2_store) == before


def test_ticket_about_an_order_needs_authentication(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")

    with pytest.raises(NotAuthenticatedError):
        create_ticket(ToolContext(tau2_store), "Where is it?", ref.order_id)

    assert count(tau2_store, Ticket) == 0


@pytest.mark.parametrize(("summary", "severity"), [("  ", 3), ("Late parcel", 0), ("Late", 6)])
def test_ticket_needs_a_summary_and_a_severity_from_1_to_5(
    tau2_store: Store, summary: str, severity: int
) -> None:
    ref = find_order(tau2_store, "delivered")

    with pytest.raises(InvalidArgumentError):
        create_ticket(as_customer(tau2_store, ref.customer_id), summary, severity=severity)

    assert count(tau2_store, Ticket) == 0
    assert audit(tau2_store) == []


def test_another_customers_ticket_is_not_found(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "delivered")
    theirs = next(o for o in orders(tau2_store) if o.customer_id != mine.customer_id)
    ticket = create_ticket(as_customer(tau2_store, theirs.customer_id), "Refund late.")

    with pytest.raises(NotFoundError) as caught:
        get_ticket(as_customer(tau2_store, mine.customer_id), ticket["ticket_id"])
    with pytest.raises(NotFoundError) as missing:
        get_ticket(as_customer(tau2_store, mine.customer_id), ticket["ticket_id"] + 1000)

    assert "Refund late" not in caught.value.message
    assert caught.value.message.replace(str(ticket["ticket_id"]), "?") == (
        missing.value.message.replace(str(ticket["ticket_id"] + 1000), "?")
    )
