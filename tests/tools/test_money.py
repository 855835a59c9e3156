"""Money is never created: whatever confirmed writes a conversation makes, in whatever order and with
whatever arguments, no order pays back more than was paid and no gift card goes below zero."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import StoreFactory
from tests.tools.helpers import OrderRef, as_customer, gift_cards_by_customer, orders
from tools.models import (
    AuditEntry,
    IdempotencyRecord,
    PaymentMethod,
    PaymentTransaction,
    Product,
    Refund,
)
from tools.registry import invoke
from tools.store import Store

REASONS = ["no longer needed", "ordered by mistake", "no longer needed", "too expensive"]


@dataclass(frozen=True)
class Shop:
    """The part of the tau2 shop the random conversations act on."""

    customers: list[str]
    orders: dict[str, list[OrderRef]]
    """Each customer's pending and delivered orders."""
    methods: dict[str, list[str]]
    variants: dict[str, list[str]]
    """Variant ids of each product, available or not."""
    product_of: dict[str, str]
    stranger_order: str
    stranger_method: str


@pytest.fixture(scope="module")
def shop(store_factory: StoreFactory) -> Shop:
    store = store_factory("tau2")
    try:
        everything = orders(store)
        cards = gift_cards_by_customer(store)
        by_customer: dict[str, list[OrderRef]] = defaultdict(list)
        for ref in everything:
            by_customer[ref.customer_id].append(ref)
        with store.read() as s:
            products = s.scalars(select(Product)).all()
            variants = {p.id: [v.id for v in p.variants] for p in products}
            methods: dict[str, list[str]] = defaultdict(list)
            for cid, pm_id in s.execute(
                select(PaymentMethod.customer_id, PaymentMethod.id).order_by(PaymentMethod.id)
            ):
                methods[cid].append(pm_id)
        # A few customers with something to cancel or modify, something to return or exchange, a
        # pending order paid by gift card and another method it can move to: money can flow both
        # ways between their gift card and their other methods.
        customers = [
            cid
            for cid in sorted(by_customer)
            if any(o.status == "pending" and o.paid_with == "gift_card" for o in by_customer[cid])
            and any(o.status == "delivered" for o in by_customer[cid])
            and len(methods[cid]) > len(cards[cid])
        ][:4]
    finally:
        store.dispose()
    stranger = next(o for o in everything if o.customer_id not in customers)
    return Shop(
        customers=customers,
        orders={
            cid: [o for o in by_customer[cid] if o.status in ("pending", "delivered")]
            for cid in customers
        },
        methods={cid: methods[cid] for cid in customers},
        variants=variants,
        product_of={v: p for p, vs in variants.items() for v in vs},
        stranger_order=stranger.order_id,
        stranger_method=stranger.payment_method_id,
    )


PENDING_TOOLS = [
    "cancel_pending_order",
    "modify_pending_order_items",
    "modify_pending_order_payment",
]
DELIVERED_TOOLS = ["return_delivered_order_items", "exchange_delivered_order_items"]


def _rarely(draw: st.DrawFn) -> bool:
    return draw(st.integers(0, 7)) == 0


@st.composite
def tool_calls(draw: st.DrawFn, shop: Shop, customer: str) -> tuple[str, dict[str, Any]]:
    """One write ``customer`` might confirm: (tool name, arguments), mostly sensible, now and then
    wrong in one of the ways a model gets it wrong."""
    ref = draw(st.sampled_from(shop.orders[customer]))
    fitting = PENDING_TOOLS if ref.status == "pending" else DELIVERED_TOOLS
    name = draw(st.sampled_from(PENDING_TOOLS + DELIVERED_TOOLS if _rarely(draw) else fitting))
    order_id = shop.stranger_order if _rarely(draw) else ref.order_id
    method = draw(st.sampled_from(shop.methods[customer]))
    if _rarely(draw):
        method = shop.stranger_method
    items = draw(
        st.lists(
            st.sampled_from(ref.item_ids),
            min_size=0 if _rarely(draw) else 1,
            max_size=2,
            unique=not _rarely(draw),
        )
    )
    new_items = [
        draw(st.sampled_from([v for v in shop.variants[shop.product_of[i]] if v != i or same]))
        for i in items
        for same in [_rarely(draw)]
    ]
    if new_items and _rarely(draw):
        new_items[-1] = draw(st.sampled_from(sorted(shop.product_of)))
    if _rarely(draw):
        new_items.append(draw(st.sampled_from(sorted(shop.product_of))))
    args: dict[str, Any] = {"order_id": order_id}
    if name == "cancel_pending_order":
        args["reason"] = draw(st.sampled_from(REASONS))
    elif name == "modify_pending_order_payment":
        args["payment_method_id"] = method
    elif name == "return_delivered_order_items":
        args |= {"item_ids": items, "payment_method_id": method}
    else:
        args |= {"item_ids": items, "new_item_ids": new_items, "payment_method_id": method}
    return name, args


@dataclass(frozen=True)
class Ledger:
    gift_card_total: int
    last_transaction: int
    last_refund: int


def _ledger(store: Store) -> Ledger:
    with store.read() as s:
        total = s.scalar(
            select(func.coalesce(func.sum(PaymentMethod.balance_cents), 0)).where(
                PaymentMethod.source == "gift_card"
            )
        )
        last = s.scalar(select(func.coalesce(func.max(PaymentTransaction.id), 0)))
        last_refund = s.scalar(select(func.coalesce(func.max(Refund.id), 0)))
    return Ledger(int(total or 0), int(last or 0), int(last_refund or 0))


def _sums(store: Store, stmt: Any) -> dict[str, int]:
    with store.read() as s:
        return {oid: int(total) for oid, total in s.execute(stmt)}


def _check_no_money_created(store: Store, start: Ledger) -> None:
    tx = PaymentTransaction
    paid = _sums(
        store,
        select(tx.order_id, func.sum(tx.amount_cents))
        .where(tx.transaction_type == "payment")
        .group_by(tx.order_id),
    )
    refunded = _sums(
        store,
        select(tx.order_id, func.sum(tx.amount_cents))
        .where(tx.transaction_type == "refund")
        .group_by(tx.order_id),
    )
    awaiting = _sums(
        store,
        select(Refund.order_id, func.sum(Refund.amount_cents))
        .where(Refund.status == "awaiting return")
        .group_by(Refund.order_id),
    )
    for order_id in refunded.keys() | awaiting.keys():
        owed = refunded.get(order_id, 0) + awaiting.get(order_id, 0)
        assert owed <= paid.get(order_id, 0), f"{order_id} pays back {owed} of {paid.get(order_id)}"

    with store.read() as s:
        lowest = s.scalar(
            select(func.min(PaymentMethod.balance_cents)).where(PaymentMethod.source == "gift_card")
        )
        cards = select(PaymentMethod.id).where(PaymentMethod.source == "gift_card")
        credited = s.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                Refund.id > start.last_refund,
                Refund.status == "completed",
                Refund.payment_method_id.in_(cards),
            )
        )
        charged = s.scalar(
            select(func.coalesce(func.sum(tx.amount_cents), 0)).where(
                tx.id > start.last_transaction,
                tx.transaction_type == "payment",
                tx.payment_method_id.in_(cards),
            )
        )
        audited = s.scalar(select(func.count()).select_from(AuditEntry))
        applied = s.scalar(select(func.count()).select_from(IdempotencyRecord))
    assert lowest is not None and lowest >= 0
    # Gift cards gain exactly the refunds recorded to them and lose exactly what they paid.
    assert _ledger(store).gift_card_total - start.gift_card_total == int(credited or 0) - int(
        charged or 0
    )
    assert audited == applied


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_confirmed_writes_never_create_money(
    store_factory: StoreFactory, shop: Shop, data: st.DataObject
) -> None:
    store = store_factory("tau2")
    try:
        start = _ledger(store)
        # One customer per conversation, so that its writes pile up on the same few orders.
        customer = data.draw(st.sampled_from(shop.customers), label="customer")
        for _ in range(data.draw(st.integers(1, 6), label="steps")):
            name, args = data.draw(tool_calls(shop, customer), label="call")
            ctx = as_customer(store, customer).confirm(name, args)
            outcome = invoke(ctx, name, args)
            event(f"{name}: {'applied' if outcome.ok else type(outcome.error).__name__}")
            if outcome.ok and data.draw(st.booleans(), label="retry"):
                assert invoke(ctx, name, args).value == outcome.value
            _check_no_money_created(store, start)
    finally:
        store.dispose()
