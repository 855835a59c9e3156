"""Every core flow with no LLM, on the tau2 shop: authentication, tracking, cancel, return, exchange,
address change, refund status, availability, policy answers, and the customer's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from knowledge import KnowledgeBase
from tests.agent.conftest import AgentFactory, Harness, find_order, order_status
from tools.models import Order, Variant


def test_asks_for_identity_before_account_data_then_tracks(make_agent: AgentFactory) -> None:
    h = make_agent()
    order, customer = find_order(h.store, "delivered")
    first = h.agent.send("c", f"where is my order {order.id}?")
    assert first.route == "authenticate"
    assert first.tools == []  # nothing about the order before the customer is verified
    assert "email" in first.reply
    second = h.agent.send("c", f"my email is {customer.email}")
    assert second.customer_id == customer.id
    assert second.tools[:1] == ["find_user_id_by_email"]
    assert "track_order" in second.tools
    assert order.id in second.reply and "delivered" in second.reply


def test_authenticates_by_name_and_zip(make_agent: AgentFactory) -> None:
    h = make_agent()
    order, customer = find_order(h.store, "pending")
    h.agent.send("c", f"track my order {order.id}")
    r = h.agent.send(
        "c", f"My name is {customer.first_name} {customer.last_name}, zip {customer.zip}"
    )
    assert "find_user_id_by_name_zip" in r.tools
    assert r.customer_id == customer.id
    assert "pending" in r.reply


def test_cancel_asks_reason_then_confirmation_and_cancels(make_agent: AgentFactory) -> None:
    h = make_agent(verified_customer_id=None)
    order, customer = find_order(h.store, "pending")
    h.agent.send("c", f"I want to cancel order {order.id}")
    r = h.agent.send("c", customer.email)
    assert "mistake" in r.reply  # the reason question, one slot at a time
    r = h.agent.send("c", "I ordered it by mistake")
    assert "yes/no" in r.reply and order.id in r.reply
    assert order_status(h.store, order.id) == "pending"  # nothing before the explicit yes
    r = h.agent.send("c", "yes")
    assert "cancelled" in r.reply.lower()
    assert order_status(h.store, order.id) == "cancelled"


def test_declining_a_confirmation_changes_nothing(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    h.agent.send("c", f"cancel {order.id}, I no longer need it")
    r = h.agent.send("c", "no")
    assert "haven't changed" in r.reply
    assert order_status(h.store, order.id) == "pending"


def test_a_rule_the_tool_enforces_is_explained(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"please cancel order {order.id}")
    assert "only pending orders can be cancelled" in r.reply
    assert order_status(h.store, order.id) == "delivered"


def test_return_asks_items_and_refund_method(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=2)
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"I want to return something from {order.id}")
    assert "Which items" in r.reply
    item = order.items[0]
    r = h.agent.send("c", f"the {item.name}")
    assert "refund" in r.reply.lower()
    assert not _INTERNAL_ID.search(r.reply), r.reply  # the refund options in plain words
    r = h.agent.send("c", "to the original payment method please")
    assert "yes/no" in r.reply and f"{item.price_cents / 100:.2f}" in r.reply
    assert not _INTERNAL_ID.search(r.reply) and _said_as_the_customer_knows_it(r.reply), r.reply
    r = h.agent.send("c", "yes")
    assert "return" in r.reply.lower() and r.grounded
    assert not _INTERNAL_ID.search(r.reply) and _said_as_the_customer_knows_it(r.reply), r.reply
    assert order_status(h.store, order.id) == "return requested"


# Ids only the shop's systems use: a customer knows "your Visa ending 1234", not these.
_INTERNAL_ID = re.compile(r"\b(credit_card|gift_card|paypal)_\d+|\b[a-z]+_[a-z]+_\d{4}\b|\.md#")


def _said_as_the_customer_knows_it(reply: str) -> bool:
    return bool(re.search(r"PayPal|gift card| ending \d{4}|credit card", reply))


def test_exchange_to_the_option_the_customer_names(make_agent: AgentFactory) -> None:
    store = make_agent().store
    # A delivered single-item order whose product has another available value of some option.
    with store.read() as s:
        for order in s.scalars(select(Order).where(Order.status == "delivered")).all():
            if len(order.items) != 1:
                continue
            item = order.items[0]
            variants = s.scalars(select(Variant).where(Variant.product_id == item.product_id)).all()
            target = next(
                (
                    v
                    for v in variants
                    if v.available
                    and v.id != item.item_id
                    and sum(v.options[k] != item.options.get(k) for k in v.options) == 1
                ),
                None,
            )
            if target is not None:
                key = next(k for k in target.options if target.options[k] != item.options.get(k))
                wanted = target.options[key]
                order_id, customer_id = order.id, order.customer_id
                break
    h = make_agent(verified_customer_id=customer_id)
    r = h.agent.send("c", f"I'd like to exchange the item in {order_id}")
    assert "instead" in r.reply
    r = h.agent.send("c", f"I want it in {wanted}")
    assert "yes/no" in r.reply and str(wanted) in r.reply
    r = h.agent.send("c", "yes")
    assert "exchange" in r.reply.lower()
    assert order_status(h.store, order_id) == "exchange requested"


def test_change_shipping_address(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"I need to change the address for {order.id}")
    assert "new shipping address" in r.reply
    r = h.agent.send("c", "445 Oak Ave, Apt 2, Denver, CO, 80202, USA")
    assert "445 Oak Ave" in r.reply and "yes/no" in r.reply
    h.agent.send("c", "yes")
    with h.store.read() as s:
        updated = s.get(Order, order.id)
        assert updated is not None and updated.address1 == "445 Oak Ave" and updated.zip == "80202"


def test_refund_status_after_a_cancellation(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    h.agent.send("c", f"cancel {order.id} I don't need it anymore")
    h.agent.send("c", "yes")
    r = h.agent.send("c", f"where is my refund for {order.id}?")
    assert "get_refund_status" in r.tools
    assert "Refunds on order" in r.reply and r.grounded


def test_product_availability_needs_no_login(make_agent: AgentFactory) -> None:
    h = make_agent()
    r = h.agent.send("c", "do you have the water bottle in stock?")
    assert {"search_products", "check_availability"} <= set(r.tools)
    assert "Water Bottle" in r.reply
    assert r.customer_id is None


def test_policy_question_is_answered_from_a_cited_passage(
    make_agent: AgentFactory, policy_kb: KnowledgeBase
) -> None:
    h = make_agent(kb=policy_kb)
    r = h.agent.send("c", "what's your return policy?")
    assert r.route == "retrieve"
    # The source travels beside the reply, as a citation the channel links; never inside the text.
    assert r.citations and r.citations[0] not in r.reply
    assert "[" not in r.reply and ".md" not in r.reply
    assert r.grounded


def test_replies_in_spanish_and_french(make_agent: AgentFactory) -> None:
    h = make_agent()
    order, _ = find_order(h.store, "pending")
    es = h.agent.send("es", f"hola, quiero cancelar mi pedido {order.id} por favor")
    assert es.language == "es" and "correo" in es.reply
    fr = h.agent.send("fr", f"bonjour, je voudrais annuler ma commande {order.id} s'il vous plaît")
    assert fr.language == "fr" and "e-mail" in fr.reply


def test_remembers_the_order_across_goals(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    h.agent.send("c", f"what's the status of {order.id}?")
    r = h.agent.send("c", "ok, then cancel it please")
    assert order.id in r.reply and "mistake" in r.reply


def _two_pending_orders(h: Harness) -> tuple[str, str, str]:
    """A customer with two pending orders: (customer id, first order, second order)."""
    with h.store.read() as s:
        rows = s.execute(
            select(Order.customer_id, Order.id).where(Order.status == "pending").order_by(Order.id)
        ).all()
    by_customer: dict[str, list[str]] = {}
    for customer_id, order_id in rows:
        by_customer.setdefault(customer_id, []).append(order_id)
    customer_id, (first, second, *_) = next(
        (c, ids) for c, ids in by_customer.items() if len(ids) >= 2
    )
    return customer_id, first, second


# Replies a probe of the running service sent to "Shall I go ahead?"; each ran the write then.
_PROBED_TRAPS = [
    "yes but actually no",
    "yes?",
    "yeah no",
    "yes... no, keep it",
    "sí, no, mejor no",
    "yes cancel the other one",
    "yes, but change the address instead",
]


@pytest.mark.parametrize("reply", _PROBED_TRAPS)
def test_a_mixed_or_redirected_yes_writes_nothing(make_agent: AgentFactory, reply: str) -> None:
    h = make_agent()
    customer_id, first, second = _two_pending_orders(h)
    h = make_agent(verified_customer_id=customer_id)
    r = h.agent.send("c", f"cancel {first}, I no longer need it")
    assert "yes/no" in r.reply
    r = h.agent.send("c", reply)
    assert order_status(h.store, first) == "pending"
    assert order_status(h.store, second) == "pending"
    assert not any(c["name"] == "cancel_pending_order" and c["ok"] for c in r.tool_calls)


def test_yes_but_another_order_instead_turns_to_that_order(make_agent: AgentFactory) -> None:
    h = make_agent()
    customer_id, first, second = _two_pending_orders(h)
    h = make_agent(verified_customer_id=customer_id)
    h.agent.send("c", f"cancel {first}, I no longer need it")
    r = h.agent.send("c", f"yes, but cancel {second} instead")
    # Neither order is cancelled on that reply: the new order's cancellation is asked anew.
    assert order_status(h.store, first) == "pending"
    assert order_status(h.store, second) == "pending"
    assert second in r.reply and first not in r.reply
    pending = h.agent.state("c").pending
    assert pending is None or pending["arguments"]["order_id"] == second
