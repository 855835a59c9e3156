"""Returns and exchanges of delivered orders."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tools.helpers import (
    SWAP_REFUSALS,
    OrderRef,
    Swap,
    as_customer,
    audit,
    balance,
    call_confirmed,
    count,
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
    ApprovalRequiredError,
    ConfirmationRequiredError,
    InvalidArgumentError,
    ItemMismatchError,
    NotAuthenticatedError,
    NotOwnerError,
    OrderStatusError,
    PaymentMethodError,
    PaymentMethodNotFoundError,
)
from tools.models import Exchange, Return
from tools.orders import get_order_details
from tools.returns import exchange_delivered_order_items, return_delivered_order_items
from tools.store import Store

_APPROVER = "staff-0123456789ab"


def _return(
    store: Store, ref: OrderRef, items: list[str], pm: str, confirmation: str | None = None
) -> dict[str, Any]:
    # Approved as well: these tests are about the return rules, whatever the order's value (the
    # approval rule has its own tests below).
    return call_confirmed(
        as_customer(store, ref.customer_id),
        return_delivered_order_items,
        confirmation=confirmation,
        approved_by=_APPROVER,
        order_id=ref.order_id,
        item_ids=items,
        payment_method_id=pm,
    )


def _exchange(
    store: Store,
    ref: OrderRef,
    items: list[str],
    new: list[str],
    pm: str,
    confirmation: str | None = None,
) -> dict[str, Any]:
    return call_confirmed(
        as_customer(store, ref.customer_id),
        exchange_delivered_order_items,
        confirmation=confirmation,
        approved_by=_APPROVER,
        order_id=ref.order_id,
        item_ids=items,
        new_item_ids=new,
        payment_method_id=pm,
    )


def _multi_item_order(store: Store, **where: Any) -> OrderRef:
    return next(
        o
        for o in orders(store, "delivered")
        if len(set(o.item_ids)) >= 2 and all(getattr(o, k) == v for k, v in where.items())
    )


def _prices(store: Store, ref: OrderRef) -> dict[str, int]:
    order = get_order_details(as_customer(store, ref.customer_id), ref.order_id)
    return {i["item_id"]: round(i["price"] * 100) for i in order["items"]}


def _exchangeable(store: Store) -> Swap:
    """An exchange the shop allows, paid on the order's own payment method."""
    return next(s for s in swaps(store, "delivered") if s.new_available and s.difference_cents <= 0)


# --- returns -----------------------------------------------------------------------------------


def test_return_to_the_original_payment_method(tau2_store: Store) -> None:
    ref = _multi_item_order(tau2_store, paid_with="credit_card")
    items = sorted(ref.item_ids[:2], reverse=True)
    prices = _prices(tau2_store, ref)

    order = _return(tau2_store, ref, items, ref.payment_method_id)

    assert order["status"] == "return requested"
    assert order["return_items"] == sorted(items)
    assert order["return_payment_method_id"] == ref.payment_method_id
    [refund] = refunds(tau2_store, ref.order_id)
    assert refund["status"] == "awaiting return"
    assert refund["amount_cents"] == sum(prices[i] for i in items)
    # Nothing is paid back until the items arrive.
    assert transactions(tau2_store, ref.order_id) == [
        ("payment", ref.total_cents, ref.payment_method_id)
    ]
    [entry] = audit(tau2_store)
    assert (entry["action"], entry["target"]) == ("return_delivered_order_items", ref.order_id)


def test_return_to_a_gift_card_of_the_customer(tau2_store: Store) -> None:
    cards = gift_cards_by_customer(tau2_store)
    ref = next(
        o
        for o in orders(tau2_store, "delivered")
        if o.paid_with != "gift_card" and cards[o.customer_id]
    )
    card = next(iter(cards[ref.customer_id]))
    before = balance(tau2_store, card)

    order = _return(tau2_store, ref, [ref.item_ids[0]], card)

    assert order["return_payment_method_id"] == card
    [refund] = refunds(tau2_store, ref.order_id)
    assert (refund["payment_method_id"], refund["status"]) == (card, "awaiting return")
    assert balance(tau2_store, card) == before


def test_return_to_another_method_than_the_original_is_refused(tau2_store: Store) -> None:
    ref, other = next(
        (o, pm)
        for o in orders(tau2_store, "delivered")
        for pm, source in payment_methods(tau2_store, o.customer_id).items()
        if source != "gift_card" and pm != o.payment_method_id
    )
    before = snapshot(tau2_store)

    with pytest.raises(PaymentMethodError):
        return_delivered_order_items(
            as_customer(tau2_store, ref.customer_id), ref.order_id, [ref.item_ids[0]], other
        )

    assert snapshot(tau2_store) == before


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("item not in the order", ItemMismatchError),
        ("item listed more often than ordered", ItemMismatchError),
        ("no items", InvalidArgumentError),
        ("pending order", OrderStatusError),
        ("another customer's payment method", PaymentMethodNotFoundError),
    ],
)
def test_return_refusals_change_nothing(
    tau2_store: Store, case: str, error: type[Exception]
) -> None:
    ref = find_order(tau2_store, "pending" if case == "pending order" else "delivered")
    items, pm = [ref.item_ids[0]], ref.payment_method_id
    if case == "item not in the order":
        sw = next(s for s in swaps(tau2_store, "delivered") if s.order == ref)
        items = [sw.new_item_id]
    elif case == "item listed more often than ordered":
        items = [ref.item_ids[0]] * (ref.item_ids.count(ref.item_ids[0]) + 1)
    elif case == "no items":
        items = []
    elif case == "another customer's payment method":
        pm = next(
            o for o in orders(tau2_store) if o.customer_id != ref.customer_id
        ).payment_method_id
    ctx = as_customer(tau2_store, ref.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(error):
        return_delivered_order_items(ctx, ref.order_id, items, pm)
    with pytest.raises(error):
        call_confirmed(
            ctx,
            return_delivered_order_items,
            order_id=ref.order_id,
            item_ids=items,
            payment_method_id=pm,
        )

    assert snapshot(tau2_store) == before


def test_an_order_is_returned_once(tau2_store: Store) -> None:
    ref = _multi_item_order(tau2_store)
    first, second = ref.item_ids[0], next(i for i in ref.item_ids if i != ref.item_ids[0])
    _return(tau2_store, ref, [first], ref.payment_method_id)

    with pytest.raises(OrderStatusError):
        _return(tau2_store, ref, [second], ref.payment_method_id)

    assert len(refunds(tau2_store, ref.order_id)) == 1


def test_unconfirmed_return_changes_nothing(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        return_delivered_order_items(
            as_customer(tau2_store, ref.customer_id),
            ref.order_id,
            [ref.item_ids[0]],
            ref.payment_method_id,
        )

    assert snapshot(tau2_store) == before


def test_confirmed_items_do_not_cover_other_items(tau2_store: Store) -> None:
    ref = _multi_item_order(tau2_store)
    first, second = ref.item_ids[0], next(i for i in ref.item_ids if i != ref.item_ids[0])
    ctx = as_customer(tau2_store, ref.customer_id).confirm(
        "return_delivered_order_items",
        {"order_id": ref.order_id, "item_ids": [first], "payment_method_id": ref.payment_method_id},
    )
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        return_delivered_order_items(ctx, ref.order_id, [first, second], ref.payment_method_id)

    assert snapshot(tau2_store) == before


def test_another_customers_order_cannot_be_returned(tau2_store: Store) -> None:
    theirs = find_order(tau2_store, "delivered")
    mine = next(o for o in orders(tau2_store, "delivered") if o.customer_id != theirs.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError) as caught:
        call_confirmed(
            as_customer(tau2_store, mine.customer_id),
            return_delivered_order_items,
            order_id=theirs.order_id,
            item_ids=[theirs.item_ids[0]],
            payment_method_id=mine.payment_method_id,
        )

    assert theirs.customer_id not in caught.value.message
    assert snapshot(tau2_store) == before


def test_return_needs_authentication(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    args = {
        "order_id": ref.order_id,
        "item_ids": [ref.item_ids[0]],
        "payment_method_id": ref.payment_method_id,
    }

    with pytest.raises(NotAuthenticatedError):
        call_confirmed(ToolContext(tau2_store), return_delivered_order_items, **args)


def test_confirmed_return_retried_applies_once(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")

    first = _return(tau2_store, ref, [ref.item_ids[0]], ref.payment_method_id, "yes-1")
    second = _return(tau2_store, ref, [ref.item_ids[0]], ref.payment_method_id, "yes-1")

    assert first == second
    assert count(tau2_store, Return) == 1
    assert len(refunds(tau2_store, ref.order_id)) == 1
    assert len(audit(tau2_store)) == 1


# --- exchanges ---------------------------------------------------------------------------------


def test_exchange(tau2_store: Store) -> None:
    allowed = [s for s in swaps(tau2_store, "delivered") if s.new_available]
    # Two items of one order, named out of sorted order, with a refund due overall.
    first, second = next(
        (a, b)
        for a in allowed
        for b in allowed
        if b.order == a.order
        and b.item_id < a.item_id
        and b.new_item_id > a.new_item_id
        and a.difference_cents + b.difference_cents < 0
    )
    ref = first.order
    before = snapshot(tau2_store)["payment_methods"]

    order = _exchange(
        tau2_store,
        ref,
        [first.item_id, second.item_id],
        [first.new_item_id, second.new_item_id],
        ref.payment_method_id,
    )

    assert order["status"] == "exchange requested"
    assert order["exchange_items"] == sorted([first.item_id, second.item_id])
    assert order["exchange_new_items"] == sorted([first.new_item_id, second.new_item_id])
    assert order["exchange_payment_method_id"] == ref.payment_method_id
    difference = first.difference_cents + second.difference_cents
    assert order["exchange_price_difference"] == pytest.approx(difference / 100, abs=0.005)
    # The items are replaced only once the old ones come back: the order keeps what it holds.
    assert tuple(i["item_id"] for i in order["items"]) == ref.item_ids
    assert count(tau2_store, Exchange) == 1
    assert snapshot(tau2_store)["payment_methods"] == before
    [entry] = audit(tau2_store)
    assert (entry["action"], entry["target"]) == ("exchange_delivered_order_items", ref.order_id)


def test_an_order_is_exchanged_once(tau2_store: Store) -> None:
    sw = _exchangeable(tau2_store)
    _exchange(tau2_store, sw.order, [sw.item_id], [sw.new_item_id], sw.order.payment_method_id)

    # A second, different exchange of the same order (the same one again would be a retry).
    with pytest.raises(OrderStatusError):
        _exchange(tau2_store, sw.order, [sw.new_item_id], [sw.item_id], sw.order.payment_method_id)
    with pytest.raises(OrderStatusError):
        _return(tau2_store, sw.order, [sw.item_id], sw.order.payment_method_id)

    assert count(tau2_store, Exchange) == 1


@pytest.mark.parametrize("case", sorted(SWAP_REFUSALS))
def test_exchange_refusals_change_nothing(tau2_store: Store, case: str) -> None:
    customer_id, args = swap_refusal(tau2_store, "delivered", case)
    error, match = SWAP_REFUSALS[case]
    ctx = as_customer(tau2_store, customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(error, match=match):
        exchange_delivered_order_items(ctx, **args)
    with pytest.raises(error, match=match):
        call_confirmed(ctx, exchange_delivered_order_items, **args)

    assert snapshot(tau2_store) == before


def test_unconfirmed_exchange_changes_nothing(tau2_store: Store) -> None:
    sw = _exchangeable(tau2_store)
    before = snapshot(tau2_store)

    with pytest.raises(ConfirmationRequiredError):
        exchange_delivered_order_items(
            as_customer(tau2_store, sw.order.customer_id),
            sw.order.order_id,
            [sw.item_id],
            [sw.new_item_id],
            sw.order.payment_method_id,
        )

    assert snapshot(tau2_store) == before


def test_another_customers_order_cannot_be_exchanged(tau2_store: Store) -> None:
    sw = _exchangeable(tau2_store)
    mine = next(o for o in orders(tau2_store, "delivered") if o.customer_id != sw.order.customer_id)
    before = snapshot(tau2_store)

    with pytest.raises(NotOwnerError):
        call_confirmed(
            as_customer(tau2_store, mine.customer_id),
            exchange_delivered_order_items,
            order_id=sw.order.order_id,
            item_ids=[sw.item_id],
            new_item_ids=[sw.new_item_id],
            payment_method_id=mine.payment_method_id,
        )

    assert snapshot(tau2_store) == before


def test_confirmed_exchange_retried_applies_once(tau2_store: Store) -> None:
    sw = _exchangeable(tau2_store)
    args = ([sw.item_id], [sw.new_item_id], sw.order.payment_method_id)

    first = _exchange(tau2_store, sw.order, *args, confirmation="yes-1")
    second = _exchange(tau2_store, sw.order, *args, confirmation="yes-1")

    assert first == second
    assert count(tau2_store, Exchange) == 1
    assert len(audit(tau2_store)) == 1


def test_concurrent_retries_of_an_exchange_apply_once(tau2_store: Store) -> None:
    sw = _exchangeable(tau2_store)
    args = ([sw.item_id], [sw.new_item_id], sw.order.payment_method_id)

    results = run_concurrently(lambda: _exchange(tau2_store, sw.order, *args, confirmation="yes-1"))

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(r == results[0] for r in results)
    assert results[0]["status"] == "exchange requested"  # type: ignore[index]
    assert count(tau2_store, Exchange) == 1
    assert refunds(tau2_store, sw.order.order_id) == []
    assert [e["action"] for e in audit(tau2_store)] == ["exchange_delivered_order_items"]


# --- approval of large returns and exchanges ----------------------------------------------------


def _costly(store: Store, over_cents: int) -> tuple[OrderRef, list[str]]:
    """A delivered order whose items, returned all together, refund more than ``over_cents``."""
    ref = next(o for o in orders(store, "delivered") if o.total_cents > over_cents)
    return ref, list(ref.item_ids)


def test_a_large_return_waits_for_a_staff_members_approval(tau2_store: Store) -> None:
    threshold = 50_000
    ref, items = _costly(tau2_store, threshold)
    ctx = as_customer(tau2_store, ref.customer_id, approval_over_cents=threshold)
    args = {"order_id": ref.order_id, "item_ids": items, "payment_method_id": ref.payment_method_id}
    before = snapshot(tau2_store)

    # Asking first: the tool says what the return refunds, from the store's own prices.
    with pytest.raises(ConfirmationRequiredError) as asked:
        return_delivered_order_items(ctx, **args)
    assert asked.value.amount_cents == ref.total_cents and asked.value.needs_approval
    # The customer's yes alone does not do it.
    with pytest.raises(ApprovalRequiredError) as waiting:
        call_confirmed(ctx, return_delivered_order_items, **args)
    assert waiting.value.amount_cents == ref.total_cents
    assert snapshot(tau2_store) == before
    # Nor does an approval of other arguments (one item fewer).
    approved_other = ctx.approve(
        "return_delivered_order_items", {**args, "item_ids": items[1:]}, "s"
    )
    with pytest.raises(ApprovalRequiredError):
        call_confirmed(approved_other, return_delivered_order_items, **args)

    order = call_confirmed(ctx, return_delivered_order_items, approved_by=_APPROVER, **args)

    assert order["status"] == "return requested"
    [entry] = audit(tau2_store)
    assert entry["details"]["approved_by"] == _APPROVER


def test_a_return_under_the_threshold_needs_only_the_customers_yes(tau2_store: Store) -> None:
    ref, items = _costly(tau2_store, 0)
    ctx = as_customer(tau2_store, ref.customer_id, approval_over_cents=ref.total_cents)
    args = {"order_id": ref.order_id, "item_ids": items, "payment_method_id": ref.payment_method_id}
    with pytest.raises(ConfirmationRequiredError) as asked:
        return_delivered_order_items(ctx, **args)
    assert not asked.value.needs_approval

    assert call_confirmed(ctx, return_delivered_order_items, **args)["status"] == (
        "return requested"
    )
    [entry] = audit(tau2_store)
    assert "approved_by" not in entry["details"]


def test_the_shops_approval_amount_applies_when_the_caller_sets_none(
    tau2_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, items = _costly(tau2_store, 0)
    monkeypatch.setenv("CONCIERGE_APPROVAL_AMOUNT", f"{(ref.total_cents - 1) / 100:.2f}")
    from tools.settings import get_settings

    get_settings.cache_clear()
    try:
        ctx = as_customer(tau2_store, ref.customer_id)
    finally:
        get_settings.cache_clear()
    args = {"order_id": ref.order_id, "item_ids": items, "payment_method_id": ref.payment_method_id}
    with pytest.raises(ApprovalRequiredError):
        call_confirmed(ctx, return_delivered_order_items, **args)


def test_a_large_exchange_waits_for_approval_on_the_larger_side(tau2_store: Store) -> None:
    swap = _exchangeable(tau2_store)
    ref = swap.order
    args = {
        "order_id": ref.order_id,
        "item_ids": [swap.item_id],
        "new_item_ids": [swap.new_item_id],
        "payment_method_id": ref.payment_method_id,
    }
    ctx = as_customer(tau2_store, ref.customer_id, approval_over_cents=0)
    with pytest.raises(ConfirmationRequiredError) as asked:
        exchange_delivered_order_items(ctx, **args)
    # The new item costs no more than the old one: the old item's price is what is at stake.
    assert asked.value.amount_cents == _prices(tau2_store, ref)[swap.item_id]
    assert asked.value.needs_approval
    with pytest.raises(ApprovalRequiredError):
        call_confirmed(ctx, exchange_delivered_order_items, **args)
    assert call_confirmed(ctx, exchange_delivered_order_items, approved_by="s", **args)
