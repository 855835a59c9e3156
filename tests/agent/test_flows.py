"""Every core flow with no LLM, on the tau2 shop: authentication, tracking, cancel, return, exchange,
address change, refund status, availability, policy answers, and the customer's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agent.guardrails import internal_text
from knowledge import KnowledgeBase
from tests.agent.conftest import PROBED_TRAPS, AgentFactory, Harness, find_order, order_status
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
    assert "only orders that haven't shipped yet can be cancelled" in r.reply
    assert order_status(h.store, order.id) == "delivered"


def test_a_rule_is_explained_in_the_customers_words_and_language(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"por favor, cancele el pedido {order.id}")
    assert f"el pedido {order.id} ya se entregó" in r.reply, r.reply
    assert "solo se puede cancelar un pedido aún no enviado" in r.reply
    assert "'delivered'" not in r.reply and order_status(h.store, order.id) == "delivered"


def test_return_asks_items_and_refund_method(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=2)
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"I want to return something from {order.id}")
    assert "Which items" in r.reply
    item = order.items[0]
    r = h.agent.send("c", f"the {item.name}")
    assert "refund" in r.reply.lower()
    assert not internal_text(r.reply), r.reply  # the refund options in plain words
    r = h.agent.send("c", "to the original payment method please")
    assert "yes/no" in r.reply and f"{item.price_cents / 100:.2f}" in r.reply
    assert not internal_text(r.reply) and _said_as_the_customer_knows_it(r.reply), r.reply
    r = h.agent.send("c", "yes")
    assert "return" in r.reply.lower() and r.grounded
    assert not internal_text(r.reply) and _said_as_the_customer_knows_it(r.reply), r.reply
    assert order_status(h.store, order.id) == "return requested"


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


@pytest.mark.parametrize("reply", [t for t in PROBED_TRAPS if "#W" not in t])
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


def test_identity_in_one_sentence_then_the_request_it_came_with(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    h = make_agent()
    item = order.items[0].name
    r = h.agent.send(
        "c",
        f"hi, my first name is {customer.first_name.lower()} and my last name is "
        f"{customer.last_name.lower()}, zip code {customer.zip}. where is my {item}?",
    )
    assert r.customer_id == customer.id
    # The request said before verifying is answered, not asked for again.
    assert order.id in r.reply and "delivered" in r.reply


def test_a_user_id_verifies_only_with_its_own_zip(make_agent: AgentFactory) -> None:
    _, customer = find_order(make_agent().store, "delivered")
    h = make_agent()
    wrong = f"{(int(customer.zip) + 1) % 100000:05d}"
    r = h.agent.send("c", f"I'm {customer.id} in zipcode {wrong}")
    assert r.customer_id is None and "find_user_id_by_user_id_zip" in r.tools
    r = h.agent.send("c", f"sorry, {customer.id}, zip {customer.zip}")
    assert r.customer_id == customer.id


def test_the_order_is_found_by_the_item_the_customer_names(make_agent: AgentFactory) -> None:
    h = make_agent()
    with h.store.read() as s:
        orders = s.scalars(select(Order).order_by(Order.id)).all()
        by_customer: dict[str, list[Order]] = {}
        for o in orders:
            by_customer.setdefault(o.customer_id, []).append(o)
        # A customer with several orders, one of which alone holds some product.
        customer_id, order, name = next(
            (cid, o, i.name)
            for cid, os in by_customer.items()
            if len(os) >= 2
            for o in os
            for i in o.items
            if sum(any(j.name == i.name for j in other.items) for other in os) == 1
        )
    h = make_agent(verified_customer_id=customer_id)
    r = h.agent.send("c", f"what's the status of my {name.lower()}?")
    assert order.id in r.reply and "Which order" not in r.reply


def test_everything_but_one_item_is_returned_as_said(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=3)
    kept = order.items[0]
    if any(i.name == kept.name for i in order.items[1:]):
        pytest.skip("the first item's product repeats in this order")
    h = make_agent(verified_customer_id=customer.id, risky_amount=100_000.0)
    r = h.agent.send(
        "c", f"return everything from {order.id} except the {kept.name.lower()}, original card"
    )
    assert "yes/no" in r.reply
    pending = h.agent.state("c").pending
    assert pending is not None
    returned = pending["arguments"]["item_ids"]
    assert kept.item_id not in returned and len(returned) == len(order.items) - 1


def test_the_default_address_and_the_gift_card_balance(make_agent: AgentFactory) -> None:
    _, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send(
        "c", "we moved, please update my default address to 12 Elm St, Austin, TX 78701"
    )
    assert "12 Elm St" in r.reply and "yes/no" in r.reply
    h.agent.send("c", "yes")
    with h.store.read() as s:
        from tools.models import Customer

        me = s.get(Customer, customer.id)
        assert me is not None and me.address1 == "12 Elm St" and me.zip == "78701"
    r = h.agent.send("c", "and what payment methods do you have for me?")
    assert "On your account" in r.reply and "_" not in r.reply


def test_a_question_is_rephrased_once_then_handed_to_a_person(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=2)
    h = make_agent(verified_customer_id=customer.id)
    first = h.agent.send("c", f"I want to return something from {order.id}")
    assert "Which items" in first.reply
    second = h.agent.send("c", "hmm")
    # Asked again, it says so instead of repeating itself word for word.
    assert second.reply != first.reply and second.reply.endswith(first.reply)
    third = h.agent.send("c", "hmm")
    assert third.escalated and "repeated_question" in third.escalation_reasons


def test_an_order_number_alone_starts_with_what_the_order_is_doing(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"hi, I need help with my order {order.id}")
    assert order.id in r.reply and "delivered" in r.reply


def test_yes_please_to_the_refund_question_means_the_original_method(
    make_agent: AgentFactory,
) -> None:
    # raj_sanchez_2970 paid #W7736708 by card and has a gift card: the refund could go to either.
    h = make_agent(verified_customer_id="raj_sanchez_2970", risky_amount=100_000.0)
    r = h.agent.send("c", "I'd like to return the Headphones from #W7736708")
    assert "original payment method" in r.reply
    r = h.agent.send("c", "yes please")
    pending = h.agent.state("c").pending
    assert pending is not None and "yes/no" in r.reply
    assert pending["arguments"]["payment_method_id"] == "credit_card_3362387"


def test_a_refund_with_one_possible_destination_is_not_asked_about(
    make_agent: AgentFactory,
) -> None:
    # yusuf_hernandez_6467 has PayPal only: the confirmation says where the money goes.
    h = make_agent(verified_customer_id="yusuf_hernandez_6467")
    r = h.agent.send("c", "I'd like to return the coffee maker")
    assert "original payment method" not in r.reply
    assert "PayPal" in r.reply and "yes/no" in r.reply


def test_a_request_repeated_after_it_is_done_is_answered_as_done(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    h = make_agent(verified_customer_id=customer.id)
    h.agent.send("c", f"cancel {order.id}, I no longer need it")
    r = h.agent.send("c", "yes")
    assert "anything else" in r.reply
    for _ in range(2):
        r = h.agent.send("c", f"I want to cancel {order.id}, I no longer need it")
        assert "already taken care of" in r.reply and not r.escalated


# ------------------------------------------------------------- several requests in one conversation


def _status(h: Harness, order_id: str) -> str:
    return order_status(h.store, order_id)


def test_two_requests_in_one_message_are_confirmed_and_done_in_turn(
    make_agent: AgentFactory,
) -> None:
    # yusuf_hernandez_6467: #W2033238 pending (Sunglasses), #W1633718 delivered (Coffee Maker).
    h = make_agent(verified_customer_id="yusuf_hernandez_6467")
    r = h.agent.send(
        "c",
        "hi, two things: cancel the sunglasses order, i ordered them by mistake, and i also "
        "want to return the coffee maker, it leaks",
    )
    assert "#W2033238" in r.reply and "yes/no" in r.reply
    assert "Coffee Maker" not in r.reply  # one question at a time
    r = h.agent.send("c", "yes")
    assert _status(h, "#W2033238") == "cancelled"
    assert "Coffee Maker" in r.reply and "yes/no" in r.reply  # the next request, straight away
    assert "anything else" not in r.reply.lower()
    assert _status(h, "#W1633718") == "delivered"  # nothing before its own yes
    r = h.agent.send("c", "yes")
    assert _status(h, "#W1633718") == "return requested"
    assert "anything else" in r.reply.lower()
    # The last request taken from the queue is not taken up a second time.
    assert "already" not in r.reply and h.agent.state("c").queue == []


def test_declining_the_first_request_still_takes_up_the_next(make_agent: AgentFactory) -> None:
    h = make_agent(verified_customer_id="yusuf_hernandez_6467")
    h.agent.send(
        "c", "cancel the sunglasses order (ordered by mistake) and return the coffee maker"
    )
    r = h.agent.send("c", "no")
    assert _status(h, "#W2033238") == "pending"
    assert "haven't changed" in r.reply or "left that" in r.reply
    assert "Coffee Maker" in r.reply and "yes/no" in r.reply


def test_a_yes_that_adds_a_request_confirms_this_one_and_queues_the_other(
    make_agent: AgentFactory,
) -> None:
    h = make_agent(verified_customer_id="yusuf_hernandez_6467")
    h.agent.send("c", "please cancel my sunglasses order, i ordered it by mistake")
    r = h.agent.send("c", "yes. and after that can you return the backpack too? it's too small")
    assert _status(h, "#W2033238") == "cancelled"
    assert "Backpack" in r.reply and "yes/no" in r.reply
    assert _status(h, "#W7133840") == "delivered"
    r = h.agent.send("c", "yes please")
    assert _status(h, "#W7133840") == "return requested"


def test_items_named_from_two_orders_become_one_return_per_order(make_agent: AgentFactory) -> None:
    # raj_sanchez_2970: Headphones in #W7736708, Wireless Earbuds in #W1067251, both delivered.
    h = make_agent(verified_customer_id="raj_sanchez_2970")
    r = h.agent.send("c", "I'd like to return the headphones and the wireless earbuds, refund to "
                          "my credit card please")  # fmt: skip
    assert "Headphones" in r.reply and "Earbuds" not in r.reply
    r = h.agent.send("c", "yes")
    assert _status(h, "#W7736708") == "return requested"
    assert "Earbuds" in r.reply and "yes/no" in r.reply
    h.agent.send("c", "yes")
    assert _status(h, "#W1067251") == "return requested"


def test_statuses_and_options_are_in_the_customers_language(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("es", f"hola, ¿dónde está mi pedido {order.id}?")
    assert "entregado" in r.reply and "delivered" not in r.reply
    r = h.agent.send("fr", f"bonjour, où en est ma commande {order.id} ?")
    assert "livrée" in r.reply and "delivered" not in r.reply
    # Option names too: no "color"/"size" in a French reply listing the items.
    assert not re.search(r"\b(color|size|material)\b", r.reply)


def test_a_confirmation_narrowed_to_one_item_is_asked_again_for_that_item(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=3)
    first, second = order.items[0], order.items[1]
    if first.name == second.name or any(
        i.name in (first.name, second.name) for i in order.items[2:]
    ):
        pytest.skip("the first two items' products repeat in this order")
    h = make_agent(verified_customer_id=customer.id, risky_amount=100_000.0)
    h.agent.send(
        "c",
        f"return the {first.name.lower()} and the {second.name.lower()} from {order.id}, "
        "refund to the original payment method",
    )
    r = h.agent.send("c", f"actually, only the {second.name.lower()}")
    assert "yes/no" in r.reply and second.name in r.reply and first.name not in r.reply
    pending = h.agent.state("c").pending
    assert pending is not None and pending["arguments"]["item_ids"] == [second.item_id]
    r = h.agent.send("c", "yes")
    assert order_status(h.store, order.id) == "return requested"
    assert second.name in r.reply and first.name not in r.reply


def test_a_declined_write_with_another_request_follows_the_other(make_agent: AgentFactory) -> None:
    h = make_agent(verified_customer_id="yusuf_hernandez_6467")
    h.agent.send("c", "cancel the sunglasses order, I ordered it by mistake")
    r = h.agent.send("c", "no, don't cancel it. I'd like to return the coffee maker instead")
    assert _status(h, "#W2033238") == "pending"
    assert "Coffee Maker" in r.reply and "yes/no" in r.reply
    pending = h.agent.state("c").pending
    assert pending is not None and pending["tool"] == "return_delivered_order_items"


def test_cancelling_part_of_an_order_is_explained_before_the_whole_is_offered(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "pending", min_items=2)
    h = make_agent(verified_customer_id=customer.id)
    r = h.agent.send("c", f"can I cancel just some of the items in {order.id}?")
    assert "as a whole" in r.reply
    assert all(i.name in r.reply for i in order.items)
    assert order_status(h.store, order.id) == "pending"
    r = h.agent.send("c", "ok, cancel the whole order then, I don't need it anymore")
    assert "as a whole" not in r.reply and "yes/no" in r.reply


def test_the_same_message_after_the_same_answer_twice_is_handed_off(
    make_agent: AgentFactory,
) -> None:
    # tau2 task 12: "That's already taken care of" answered the same message four times.
    h = make_agent(verified_customer_id="mia_garcia_4516")
    h.agent.send("c", "please return the gaming mouse from #W7387996, refund to paypal")
    h.agent.send("c", "yes")
    again = "I want to return the gaming mouse"
    first, second, third = (h.agent.send("c", again) for _ in range(3))
    assert "already" in first.reply and not first.handed_off
    assert not second.handed_off
    assert third.handed_off
