"""Orders: details, tracking and refunds, and the changes the shop allows while an order is pending."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.tools.helpers import (
    SWAP_REFUSALS,
    OrderRef,
    as_customer,
    audit,
    balance,
    call_confirmed,
    find_order,
    gift_cards_by_customer,
    orders,
    payment_methods,
    refunds,
    run_concurrently,
    snapshot,
    swap_refusal,
    swaps,
    transactions,
)
from tools.context import ToolContext
from tools.errors import (
    ConfirmationRequiredError,
    InsufficientBalanceError,
    InvalidArgumentError,
    InvalidReasonError,
    NotAuthenticatedError,
    NotOwnerError,
    OrderNotFoundError,
    OrderStatusError,
    PaymentMethodError,
    PaymentMethodNotFoundError,
)
from tools.orders import (
    cancel_pending_order,
    get_order_details,
    get_refund_status,
    modify_pending_order_address,
    modify_pending_order_items,
    modify_pending_order_payment,
    track_order,
)
from tools.store import Store

NEW_ADDRESS = {
    "address1": "12 Canal Street",
    "address2": "",
    "city": "Boston",
    "state": "MA",
    "country": "USA",
    "zip": "02110",
}


def _owner_ctx(store: Store, ref: OrderRef) -> ToolContext:
    return as_customer(store, ref.customer_id)


def _cancel(
    store: Store, ref: OrderRef, reason: str = "no longer needed", confirmation: str | None = None
) -> dict[str, Any]:
    return call_confirmed(
        _owner_ctx(store, ref),
        cancel_pending_order,
        confirmation=confirmation,
        order_id=ref.order_id,
        reason=reason,
    )


def _stranger_order(store: Store, customer_id: str) -> OrderRef:
    return next(o for o in orders(store, "pending") if o.customer_id != customer_id)


def _business_days(start: date, end: date) -> int:
    return sum((start + timedelta(days=n)).weekday() < 5 for n in range(1, (end - start).days + 1))


# --- reads -------------------------------------------------------------------------------------


def test_get_order_details(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")

    order = get_order_details(_owner_ctx(tau2_store, ref), ref.order_id)

    assert order["order_id"] == ref.order_id
    assert order["user_id"] == ref.customer_id
    assert order["status"] == "delivered"
    assert tuple(i["item_id"] for i in order["items"]) == ref.item_ids
    assert order["payment_history"][0]["payment_method_id"] == ref.payment_method_id


def test_order_id_may_lack_the_hash_and_be_lowercase(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    order = get_order_details(_owner_ctx(tau2_store, ref), f" {ref.order_id[1:].lower()} ")

    assert order["order_id"] == ref.order_id


def test_another_customers_order_reads_as_not_found(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "pending")
    theirs = _stranger_order(tau2_store, mine.customer_id)
    ctx = _owner_ctx(tau2_store, mine)

    with pytest.raises(NotOwnerError) as not_mine:
        get_order_details(ctx, theirs.order_id)
    with pytest.raises(OrderNotFoundError) as missing:
        get_order_details(ctx, "#W0000001")

    message = not_mine.value.message
    assert theirs.customer_id not in message
    assert theirs.customer_id.split("_")[0] not in message.lower()
    # Word for word the answer for an order that does not exist: nothing to probe.
    assert message.replace(theirs.order_id, "#W?") == missing.value.message.replace(
        "#W0000001", "#W?"
    )


def test_unknown_order_is_not_found(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    with pytest.raises(OrderNotFoundError):
        get_order_details(_owner_ctx(tau2_store, ref), "#W0000001")


@pytest.mark.parametrize("tool", [get_order_details, track_order, get_refund_status])
def test_order_reads_need_authentication(tau2_store: Store, tool: Any) -> None:
    ref = find_order(tau2_store, "pending")

    with pytest.raises(NotAuthenticatedError):
        tool(ToolContext(tau2_store), ref.order_id)


@pytest.mark.parametrize("tool", [track_order, get_refund_status])
def test_order_reads_of_another_customers_order_are_refused(tau2_store: Store, tool: Any) -> None:
    mine = find_order(tau2_store, "pending")
    theirs = find_order(tau2_store, "delivered")
    assert theirs.customer_id != mine.customer_id

    with pytest.raises(NotOwnerError) as caught:
        tool(_owner_ctx(tau2_store, mine), theirs.order_id)

    assert theirs.customer_id not in caught.value.message


def test_track_delivered_order(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    ctx = _owner_ctx(tau2_store, ref)
    order = get_order_details(ctx, ref.order_id)

    tracking = track_order(ctx, ref.order_id)

    assert set(tracking) == {"order_id", "status", "placed_on", "shipments", "not_yet_shipped"}
    assert (tracking["order_id"], tracking["status"]) == (ref.order_id, "delivered")
    assert [s["tracking_ids"] for s in tracking["shipments"]] == [
        f["tracking_id"] for f in order["fulfillments"]
    ]
    for shipment in tracking["shipments"]:
        assert set(shipment) == {
            "carrier",
            "tracking_ids",
            "item_ids",
            "shipped_on",
            "estimated_delivery",
            "delivered_on",
        }
    shipped = {i for s in tracking["shipments"] for i in s["item_ids"]}
    assert tracking["not_yet_shipped"] == [i for i in ref.item_ids if i not in shipped]


def test_track_pending_order_lists_every_item_as_not_shipped(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    tracking = track_order(_owner_ctx(tau2_store, ref), ref.order_id)

    assert tracking["shipments"] == []
    assert tracking["not_yet_shipped"] == list(ref.item_ids)


def test_refund_status_of_an_order_without_refunds(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    status = get_refund_status(_owner_ctx(tau2_store, ref), ref.order_id)

    assert status == {"order_id": ref.order_id, "status": "pending", "refunds": []}


def test_refund_status_of_an_imported_cancelled_order(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "cancelled")

    status = get_refund_status(_owner_ctx(tau2_store, ref), ref.order_id)

    assert [r["amount"] for r in status["refunds"]] == [ref.total_cents / 100]


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_refunds_a_gift_card_at_once(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending", paid_with="gift_card")
    before = balance(tau2_store, ref.payment_method_id)
    assert before is not None

    order = _cancel(tau2_store, ref, "ordered by mistake")

    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "ordered by mistake"
    assert balance(tau2_store, ref.payment_method_id) == before + ref.total_cents
    assert transactions(tau2_store, ref.order_id)[-1] == (
        "refund",
        ref.total_cents,
        ref.payment_method_id,
    )
    status = get_refund_status(_owner_ctx(tau2_store, ref), ref.order_id)
    [refund] = status["refunds"]
    assert refund["amount"] == ref.total_cents / 100
    assert refund["status"] == "completed"
    assert refund["expected_by"] == refund["requested_on"]
    [entry] = audit(tau2_store)
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "agent",
        "cancel_pending_order",
        ref.order_id,
    )


@pytest.mark.parametrize("paid_with", ["credit_card", "paypal"])
def test_cancel_refunds_other_methods_in_business_days(tau2_store: Store, paid_with: str) -> None:
    ref = find_order(tau2_store, "pending", paid_with=paid_with)

    _cancel(tau2_store, ref)

    [refund] = get_refund_status(_owner_ctx(tau2_store, ref), ref.order_id)["refunds"]
    assert refund["status"] == "pending"
    assert refund["payment_method_id"] == ref.payment_method_id
    assert refund["amount"] == ref.total_cents / 100
    requested = date.fromisoformat(refund["requested_on"])
    expected_by = date.fromisoformat(refund["expected_by"])
    assert requested == datetime.now(UTC).date()
    assert expected_by.weekday() < 5
    assert 5 <= _business_days(requested, expected_by) <= 7
    assert balance(tau2_store, ref.payment_method_id) is None


@pytest.mark.parametrize("status", ["processed", "delivered", "cancelled"])
def test_only_pending_orders_can_be_cancelled(tau2_store: Store, status: str) -> None:
    ref = find_order(tau2_store, status)
    before = snapshot(tau2_store)

    with pytest.raises(OrderStatusError) as refused:
        _cancel(tau2_store, ref)

    assert snapshot(tau2_store) == before
    # What it is and what it must be travel with the error, for a reply in the customer's words.
    error = refused.value
    assert (error.order_id, error.status, error.allowed, error.action) == (
        ref.order_id, status, "pending", "cancelled",
    )  # fmt: skip


@pytest.mark.parametrize("reason", ["changed my mind", "No longer needed", ""])
def test_cancel_reason_outside_the_policy_is_refused_before_confirmation(
    tau2_store: Store, reason: str
) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    with pytest.raises(InvalidReasonError):
        cancel_pending_order(_owner_ctx(tau2_store, ref), ref.order_id, reason)

    assert snapshot(tau2_store) == before


def test_unconfirmed_cancel_changes_nothing(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending", paid_with="gift_card")
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        cancel_pending_order(_owner_ctx(tau2_store, ref), ref.order_id, "no longer needed")

    assert snapshot(tau2_store) == before


def test_confirming_one_order_does_not_cancel_another(tau2_store: Store) -> None:
    pending = orders(tau2_store, "pending")
    first, second = next(
        (a, b)
        for a in pending
        for b in pending
        if a.customer_id == b.customer_id and a.order_id != b.order_id
    )
    ctx = _owner_ctx(tau2_store, first).confirm(
        "cancel_pending_order", {"order_id": first.order_id, "reason": "no longer needed"}
    )
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        cancel_pending_order(ctx, second.order_id, "no longer needed")
    with pytest.raises(ConfirmationRequiredError):
        cancel_pending_order(ctx, first.order_id, "ordered by mistake")

    assert snapshot(tau2_store) == before


def test_another_customers_order_cannot_be_cancelled(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "pending")
    theirs = _stranger_order(tau2_store, mine.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError) as caught:
        call_confirmed(
            _owner_ctx(tau2_store, mine),
            cancel_pending_order,
            order_id=theirs.order_id,
            reason="no longer needed",
        )

    assert theirs.customer_id not in caught.value.message
    assert snapshot(tau2_store) == before


def test_cancel_needs_authentication(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    args = {"order_id": ref.order_id, "reason": "no longer needed"}

    with pytest.raises(NotAuthenticatedError):
        cancel_pending_order(ToolContext(tau2_store).confirm("cancel_pending_order", args), **args)


def test_confirmed_cancel_retried_refunds_once(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending", paid_with="gift_card")
    before = balance(tau2_store, ref.payment_method_id)
    assert before is not None

    first = _cancel(tau2_store, ref, confirmation="yes-1")
    second = _cancel(tau2_store, ref, confirmation="yes-1")

    assert first == second
    assert balance(tau2_store, ref.payment_method_id) == before + ref.total_cents
    assert [t[0] for t in transactions(tau2_store, ref.order_id)] == ["payment", "refund"]
    assert len(refunds(tau2_store, ref.order_id)) == 1
    assert len(audit(tau2_store)) == 1


def test_a_new_confirmation_of_a_done_cancel_is_checked_again(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending", paid_with="gift_card")
    _cancel(tau2_store, ref, confirmation="yes-1")

    # A second "yes" is a new request, not a retry: the rules see an order already cancelled.
    with pytest.raises(OrderStatusError):
        _cancel(tau2_store, ref, confirmation="yes-2")
    assert len(refunds(tau2_store, ref.order_id)) == 1


def test_concurrent_retries_of_a_cancel_refund_once(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending", paid_with="gift_card")
    before = balance(tau2_store, ref.payment_method_id)
    assert before is not None

    results = run_concurrently(lambda: _cancel(tau2_store, ref, confirmation="yes-1"))

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(r == results[0] for r in results)
    assert results[0]["status"] == "cancelled"  # type: ignore[index]
    assert balance(tau2_store, ref.payment_method_id) == before + ref.total_cents
    assert [t[0] for t in transactions(tau2_store, ref.order_id)] == ["payment", "refund"]
    assert len(refunds(tau2_store, ref.order_id)) == 1
    assert [e["action"] for e in audit(tau2_store)] == ["cancel_pending_order"]


# --- modify address ----------------------------------------------------------------------------


def test_modify_pending_order_address(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    order = call_confirmed(
        _owner_ctx(tau2_store, ref),
        modify_pending_order_address,
        order_id=ref.order_id,
        **NEW_ADDRESS,
    )

    assert order["address"] == NEW_ADDRESS
    assert order["status"] == "pending"
    assert get_order_details(_owner_ctx(tau2_store, ref), ref.order_id)["address"] == NEW_ADDRESS
    [entry] = audit(tau2_store)
    assert (entry["action"], entry["target"]) == ("modify_pending_order_address", ref.order_id)


def test_address_of_a_delivered_order_cannot_change(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    before = snapshot(tau2_store)

    with pytest.raises(OrderStatusError):
        call_confirmed(
            _owner_ctx(tau2_store, ref),
            modify_pending_order_address,
            order_id=ref.order_id,
            **NEW_ADDRESS,
        )

    assert snapshot(tau2_store) == before


@pytest.mark.parametrize("missing", ["address1", "city", "zip"])
def test_order_address_with_a_missing_line_is_refused(tau2_store: Store, missing: str) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    with pytest.raises(InvalidArgumentError, match=missing):
        modify_pending_order_address(
            _owner_ctx(tau2_store, ref), ref.order_id, **(NEW_ADDRESS | {missing: ""})
        )

    assert snapshot(tau2_store) == before


def test_unconfirmed_order_address_change_changes_nothing(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        modify_pending_order_address(_owner_ctx(tau2_store, ref), ref.order_id, **NEW_ADDRESS)

    assert snapshot(tau2_store) == before


def test_another_customers_order_address_cannot_change(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "pending")
    theirs = _stranger_order(tau2_store, mine.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError):
        call_confirmed(
            _owner_ctx(tau2_store, mine),
            modify_pending_order_address,
            order_id=theirs.order_id,
            **NEW_ADDRESS,
        )

    assert snapshot(tau2_store) == before


# --- modify items ------------------------------------------------------------------------------


def _modify_items(
    store: Store, ref: OrderRef, items: list[str], new: list[str], pm: str
) -> dict[str, Any]:
    return call_confirmed(
        _owner_ctx(store, ref),
        modify_pending_order_items,
        order_id=ref.order_id,
        item_ids=items,
        new_item_ids=new,
        payment_method_id=pm,
    )


def test_modify_items_to_a_cheaper_variant_refunds_the_difference(tau2_store: Store) -> None:
    sw = next(
        s
        for s in swaps(tau2_store, "pending")
        if s.new_available and s.difference_cents < 0 and s.order.paid_with == "credit_card"
    )
    ref = sw.order

    order = _modify_items(tau2_store, ref, [sw.item_id], [sw.new_item_id], ref.payment_method_id)

    assert order["status"] == "pending (item modified)"
    new_items = [i["item_id"] for i in order["items"]]
    assert sw.new_item_id in new_items
    assert new_items.count(sw.item_id) == ref.item_ids.count(sw.item_id) - 1
    assert transactions(tau2_store, ref.order_id)[-1] == (
        "refund",
        -sw.difference_cents,
        ref.payment_method_id,
    )
    [refund] = refunds(tau2_store, ref.order_id)
    assert (refund["amount_cents"], refund["status"]) == (-sw.difference_cents, "pending")


def test_items_are_modified_once_and_then_the_order_is_locked(tau2_store: Store) -> None:
    sw = next(
        s for s in swaps(tau2_store, "pending") if s.new_available and s.difference_cents <= 0
    )
    ref = sw.order
    _modify_items(tau2_store, ref, [sw.item_id], [sw.new_item_id], ref.payment_method_id)
    before = snapshot(tau2_store)

    with pytest.raises(OrderStatusError):
        _modify_items(tau2_store, ref, [sw.new_item_id], [sw.item_id], ref.payment_method_id)
    with pytest.raises(OrderStatusError):
        _cancel(tau2_store, ref)

    assert snapshot(tau2_store) == before


def test_modify_items_to_a_dearer_variant_charges_the_gift_card(tau2_store: Store) -> None:
    cards = gift_cards_by_customer(tau2_store)
    sw, card = next(
        (s, pm)
        for s in swaps(tau2_store, "pending")
        if s.new_available and s.difference_cents > 0
        for pm, cents in cards[s.order.customer_id].items()
        if cents >= s.difference_cents
    )
    before = balance(tau2_store, card)
    assert before is not None

    _modify_items(tau2_store, sw.order, [sw.item_id], [sw.new_item_id], card)

    assert balance(tau2_store, card) == before - sw.difference_cents
    assert transactions(tau2_store, sw.order.order_id)[-1] == ("payment", sw.difference_cents, card)


def test_modify_items_refund_to_a_gift_card_arrives_at_once(tau2_store: Store) -> None:
    cards = gift_cards_by_customer(tau2_store)
    sw, card = next(
        (s, next(iter(cards[s.order.customer_id])))
        for s in swaps(tau2_store, "pending")
        if s.new_available and s.difference_cents < 0 and cards[s.order.customer_id]
    )
    before = balance(tau2_store, card)
    assert before is not None

    _modify_items(tau2_store, sw.order, [sw.item_id], [sw.new_item_id], card)

    assert balance(tau2_store, card) == before - sw.difference_cents
    [refund] = refunds(tau2_store, sw.order.order_id)
    assert (refund["payment_method_id"], refund["status"]) == (card, "completed")


def test_modify_both_copies_of_an_item_ordered_twice(tau2_store: Store) -> None:
    sw = next(
        s
        for s in swaps(tau2_store, "pending")
        if s.new_available and s.order.item_ids.count(s.item_id) == 2
    )

    order = _modify_items(
        tau2_store,
        sw.order,
        [sw.item_id, sw.item_id],
        [sw.new_item_id, sw.new_item_id],
        sw.order.payment_method_id,
    )

    ids = [i["item_id"] for i in order["items"]]
    assert sw.item_id not in ids
    assert ids.count(sw.new_item_id) == 2 + sw.order.item_ids.count(sw.new_item_id)


@pytest.mark.parametrize("case", sorted(SWAP_REFUSALS))
def test_modify_items_refusals_change_nothing(tau2_store: Store, case: str) -> None:
    customer_id, args = swap_refusal(tau2_store, "pending", case)
    error, match = SWAP_REFUSALS[case]
    ctx = as_customer(tau2_store, customer_id)
    before = snapshot(tau2_store)

    # Refused before the customer is asked to confirm, and just the same once confirmed.
    with pytest.raises(error, match=match):
        modify_pending_order_items(ctx, **args)
    with pytest.raises(error, match=match):
        call_confirmed(ctx, modify_pending_order_items, **args)

    assert snapshot(tau2_store) == before


def test_unconfirmed_modify_items_changes_nothing(tau2_store: Store) -> None:
    sw = next(
        s for s in swaps(tau2_store, "pending") if s.new_available and s.difference_cents <= 0
    )
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        modify_pending_order_items(
            _owner_ctx(tau2_store, sw.order),
            sw.order.order_id,
            [sw.item_id],
            [sw.new_item_id],
            sw.order.payment_method_id,
        )

    assert snapshot(tau2_store) == before


# --- modify payment ----------------------------------------------------------------------------


def _modify_payment(store: Store, ref: OrderRef, pm: str) -> dict[str, Any]:
    return call_confirmed(
        _owner_ctx(store, ref),
        modify_pending_order_payment,
        order_id=ref.order_id,
        payment_method_id=pm,
    )


def test_modify_payment_to_a_gift_card_that_covers_the_order(tau2_store: Store) -> None:
    cards = gift_cards_by_customer(tau2_store)
    ref, card = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        if o.paid_with != "gift_card"
        for pm, cents in cards[o.customer_id].items()
        if cents >= o.total_cents
    )
    before = balance(tau2_store, card)
    assert before is not None

    order = _modify_payment(tau2_store, ref, card)

    assert order["status"] == "pending"
    assert balance(tau2_store, card) == before - ref.total_cents
    assert transactions(tau2_store, ref.order_id) == [
        ("payment", ref.total_cents, ref.payment_method_id),
        ("payment", ref.total_cents, card),
        ("refund", ref.total_cents, ref.payment_method_id),
    ]
    [refund] = refunds(tau2_store, ref.order_id)
    assert (refund["payment_method_id"], refund["status"]) == (ref.payment_method_id, "pending")
    assert refund["expected_by"] is not None


def test_modify_payment_away_from_a_gift_card_refunds_it_at_once(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        if o.paid_with == "gift_card"
        for pm, source in payment_methods(tau2_store, o.customer_id).items()
        if source != "gift_card"
    )
    before = balance(tau2_store, ref.payment_method_id)
    assert before is not None

    _modify_payment(tau2_store, ref, other)

    assert balance(tau2_store, ref.payment_method_id) == before + ref.total_cents
    [refund] = refunds(tau2_store, ref.order_id)
    assert (refund["payment_method_id"], refund["status"]) == (ref.payment_method_id, "completed")
    [entry] = audit(tau2_store)
    assert (entry["action"], entry["target"]) == ("modify_pending_order_payment", ref.order_id)


def test_cancel_after_a_payment_change_refunds_only_what_is_still_held(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        if o.paid_with == "gift_card"
        for pm, source in payment_methods(tau2_store, o.customer_id).items()
        if source != "gift_card"
    )
    card_before = balance(tau2_store, ref.payment_method_id)
    assert card_before is not None
    _modify_payment(tau2_store, ref, other)

    _cancel(tau2_store, ref)

    # The gift card got its money back once (at the payment change); the new method once (now).
    assert balance(tau2_store, ref.payment_method_id) == card_before + ref.total_cents
    assert transactions(tau2_store, ref.order_id) == [
        ("payment", ref.total_cents, ref.payment_method_id),
        ("payment", ref.total_cents, other),
        ("refund", ref.total_cents, ref.payment_method_id),
        ("refund", ref.total_cents, other),
    ]
    assert [(r["payment_method_id"], r["reason"]) for r in refunds(tau2_store, ref.order_id)] == [
        (ref.payment_method_id, "payment change"),
        (other, "cancellation"),
    ]


def test_payment_changes_once_then_the_order_has_more_than_one_payment(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        if o.paid_with != "gift_card"
        for pm, source in payment_methods(tau2_store, o.customer_id).items()
        if source != "gift_card" and pm != o.payment_method_id
    )
    _modify_payment(tau2_store, ref, other)
    before = snapshot(tau2_store)

    with pytest.raises(PaymentMethodError, match="more than one payment"):
        _modify_payment(tau2_store, ref, ref.payment_method_id)

    assert snapshot(tau2_store) == before


def test_payment_cannot_change_to_the_same_method(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    with pytest.raises(PaymentMethodError, match="already paid"):
        modify_pending_order_payment(
            _owner_ctx(tau2_store, ref), ref.order_id, ref.payment_method_id
        )

    assert snapshot(tau2_store) == before


def test_payment_cannot_move_to_a_gift_card_too_small(tau2_store: Store) -> None:
    cards = gift_cards_by_customer(tau2_store)
    ref, card = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        if o.paid_with != "gift_card"
        for pm, cents in cards[o.customer_id].items()
        if cents < o.total_cents
    )
    before = snapshot(tau2_store)

    with pytest.raises(InsufficientBalanceError) as refused:
        modify_pending_order_payment(_owner_ctx(tau2_store, ref), ref.order_id, card)

    assert snapshot(tau2_store) == before
    # The amounts travel with the error, so the agent can say them in the customer's words.
    assert refused.value.balance == cards[ref.customer_id][card] / 100
    assert refused.value.amount == ref.total_cents / 100


def test_payment_cannot_move_to_another_customers_method(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    stranger = _stranger_order(tau2_store, ref.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(PaymentMethodNotFoundError):
        _modify_payment(tau2_store, ref, stranger.payment_method_id)

    assert snapshot(tau2_store) == before


def test_payment_of_a_processed_order_cannot_change(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "processed")
        for pm in payment_methods(tau2_store, o.customer_id)
        if pm != o.payment_method_id
    )
    before = snapshot(tau2_store)

    with pytest.raises(OrderStatusError):
        _modify_payment(tau2_store, ref, other)

    assert snapshot(tau2_store) == before


def test_unconfirmed_payment_change_changes_nothing(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "pending")
        for pm, source in payment_methods(tau2_store, o.customer_id).items()
        if source != "gift_card" and pm != o.payment_method_id
    )
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        modify_pending_order_payment(_owner_ctx(tau2_store, ref), ref.order_id, other)

    assert snapshot(tau2_store) == before
