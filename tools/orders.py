"""Orders: details, tracking, refunds, and the changes allowed while an order is pending.

Rules (tau2 retail policy, enforced here): only ``pending`` orders are cancelled or modified; items are
modified once, after which the order can no longer be changed; a new item must be an available variant of
the same product; a gift card must cover what it pays; cancellation reasons are limited to two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tools.account import clean_address
from tools.context import ToolContext
from tools.errors import (
    InsufficientBalanceError,
    InvalidArgumentError,
    InvalidReasonError,
    ItemMismatchError,
    ItemUnavailableError,
    OrderStatusError,
    PaymentMethodError,
)
from tools.guard import normalize_order_id, owned_order, owned_payment_method, run_write
from tools.models import (
    Order,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentSource,
    PaymentTransaction,
    Refund,
    RefundStatus,
    TransactionType,
    Variant,
    utcnow,
)
from tools.registry import register
from tools.views import dollars, order_view

CANCEL_REASONS = ("no longer needed", "ordered by mistake")


def business_days_after(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Saturdays and Sundays skipped)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def require_status(order: Order, allowed: OrderStatus, action: str) -> None:
    if order.status != allowed.value:
        raise OrderStatusError(
            f"Order {order.id} is '{order.status}'; only {allowed.value} orders can be {action}.",
            order_id=order.id, status=order.status, allowed=allowed.value, action=action,
        )  # fmt: skip


def lock_payment_method(session: Session, payment_method_id: str) -> PaymentMethod:
    """The payment method, row-locked and re-read (a copy loaded earlier in the session may be stale)."""
    return session.scalars(
        select(PaymentMethod)
        .where(PaymentMethod.id == payment_method_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def record_refund(
    session: Session, order: Order, pm: PaymentMethod, amount_cents: int, reason: str
) -> Refund:
    """Owe ``amount_cents`` back on ``pm``: at once on a gift card, in 5-7 business days otherwise."""
    now = utcnow()
    if pm.source == PaymentSource.GIFT_CARD:
        pm.balance_cents = (pm.balance_cents or 0) + amount_cents
        refund = Refund(
            order_id=order.id,
            payment_method_id=pm.id,
            amount_cents=amount_cents,
            reason=reason,
            status=RefundStatus.COMPLETED.value,
            created_at=now,
            expected_by=now,
        )
    else:
        refund = Refund(
            order_id=order.id,
            payment_method_id=pm.id,
            amount_cents=amount_cents,
            reason=reason,
            status=RefundStatus.PENDING.value,
            created_at=now,
            expected_by=business_days_after(now, 7),
        )
    session.add(refund)
    return refund


def add_transaction(order: Order, kind: TransactionType, amount_cents: int, pm_id: str) -> None:
    order.transactions.append(
        PaymentTransaction(
            position=len(order.transactions),
            transaction_type=kind.value,
            amount_cents=amount_cents,
            payment_method_id=pm_id,
        )
    )


@dataclass(frozen=True)
class ItemSwap:
    """Validated replacement of order items by other variants of the same products."""

    pairs: list[tuple[OrderItem, Variant]]
    price_difference_cents: int
    """What the customer pays (positive) or gets back (negative)."""


def plan_item_swap(
    session: Session, order: Order, item_ids: list[str], new_item_ids: list[str]
) -> ItemSwap:
    """Check that each ``item_ids[i]`` is in the order and ``new_item_ids[i]`` is an available, different
    variant of the same product; duplicates count (two identical items need two entries)."""
    if not item_ids:
        raise InvalidArgumentError("Name at least one item to change.")
    if len(item_ids) != len(new_item_ids):
        raise ItemMismatchError("The number of items to change must match the number of new items.")
    in_order = Counter(item.item_id for item in order.items)
    for item_id, wanted in Counter(item_ids).items():
        if wanted > in_order[item_id]:
            raise ItemMismatchError(f"Item {item_id} is not in order {order.id} {wanted} time(s).")
    pairs: list[tuple[OrderItem, Variant]] = []
    used: set[int] = set()
    diff = 0
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order.items if i.item_id == item_id and i.id not in used)
        used.add(item.id)
        if new_item_id == item_id:
            raise ItemMismatchError(f"New item {new_item_id} is the same as the item it replaces.")
        variant = session.get(Variant, new_item_id)
        if variant is None or variant.product_id != item.product_id:
            raise ItemMismatchError(
                f"Item {new_item_id} is not a variant of {item.name} (product {item.product_id})."
            )
        if not variant.available or variant.stock == 0:
            raise ItemUnavailableError(f"Item {new_item_id} of {item.name} is not available.")
        pairs.append((item, variant))
        diff += variant.price_cents - item.price_cents
    return ItemSwap(pairs, diff)


def require_gift_card_covers(pm: PaymentMethod, amount_cents: int) -> None:
    if pm.source == PaymentSource.GIFT_CARD and (pm.balance_cents or 0) < amount_cents:
        raise InsufficientBalanceError(
            f"Gift card {pm.id} has {dollars(pm.balance_cents or 0):.2f}, "
            f"not enough to cover {dollars(amount_cents):.2f}.",
            balance=dollars(pm.balance_cents or 0), amount=dollars(amount_cents),
        )  # fmt: skip


@register("read", "orders")
def get_order_details(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    """Get the status and details of one of the verified customer's orders.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
    """
    with ctx.store.read() as s:
        return order_view(owned_order(s, ctx, order_id))


@register("read", "orders")
def track_order(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    """Shipping progress of an order: each shipment's carrier, tracking ids and dates.

    Args:
        order_id: The order id, such as '#W0000000'.
    """

    def iso(value: datetime | None) -> str | None:
        return value.date().isoformat() if value else None

    with ctx.store.read() as s:
        order = owned_order(s, ctx, order_id)
        shipments = [
            {
                "carrier": f.carrier,
                "tracking_ids": list(f.tracking_ids),
                "item_ids": list(f.item_ids),
                "shipped_on": iso(f.shipped_at),
                "estimated_delivery": iso(f.estimated_delivery),
                "delivered_on": iso(f.delivered_at),
            }
            for f in order.fulfillments
        ]
        return {
            "order_id": order.id,
            "status": order.status,
            "placed_on": iso(order.placed_at),
            "shipments": shipments,
            "not_yet_shipped": [
                i.item_id
                for i in order.items
                if not any(i.item_id in f.item_ids for f in order.fulfillments)
            ],
        }


@register("read", "orders")
def get_refund_status(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    """Refunds owed on an order: amount, where it goes, and whether it has arrived or when it should.

    Args:
        order_id: The order id, such as '#W0000000'.
    """
    with ctx.store.read() as s:
        order = owned_order(s, ctx, order_id)
        refunds = s.scalars(
            select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)
        ).all()
        return {
            "order_id": order.id,
            "status": order.status,
            "refunds": [
                {
                    "amount": dollars(r.amount_cents),
                    "payment_method_id": r.payment_method_id,
                    "reason": r.reason,
                    "status": r.status,
                    "requested_on": r.created_at.date().isoformat(),
                    "expected_by": r.expected_by.date().isoformat() if r.expected_by else None,
                }
                for r in refunds
            ],
        }


@register("write", "orders")
def cancel_pending_order(ctx: ToolContext, order_id: str, reason: str) -> dict[str, Any]:
    """Cancel a pending order; what was paid is refunded (gift cards at once, else in 5-7 business days).
    Needs the customer's explicit confirmation of the order id and reason.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        reason: The reason for cancellation, which should be either 'no longer needed' or 'ordered
            by mistake'.
    """
    args = {"order_id": order_id, "reason": reason}

    def validate(_: Session, order: Order) -> dict[str, int]:
        require_status(order, OrderStatus.PENDING, "cancelled")
        if reason not in CANCEL_REASONS:
            raise InvalidReasonError(
                "The cancellation reason must be 'no longer needed' or 'ordered by mistake'."
            )
        # Refund what is still held per payment method (payments less earlier refunds), so no
        # cancellation ever pays back more than was paid.
        held: dict[str, int] = {}
        for t in order.transactions:
            sign = 1 if t.transaction_type == TransactionType.PAYMENT else -1
            held[t.payment_method_id] = held.get(t.payment_method_id, 0) + sign * t.amount_cents
        return {pm_id: amount for pm_id, amount in held.items() if amount > 0}

    def apply(s: Session, order: Order, held: dict[str, int]) -> dict[str, Any]:
        for pm_id, amount in held.items():
            add_transaction(order, TransactionType.REFUND, amount, pm_id)
            record_refund(s, order, lock_payment_method(s, pm_id), amount, "cancellation")
        for item in order.items:
            variant = s.get(Variant, item.item_id)
            if variant is not None and variant.stock is not None:
                variant.stock += 1
        order.status = OrderStatus.CANCELLED.value
        order.cancel_reason = reason
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "cancel_pending_order",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
    )


@register("write", "orders")
def modify_pending_order_address(
    ctx: ToolContext,
    order_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Modify the shipping address of a pending order. Needs the customer's explicit confirmation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        address1: The first line of the address, such as '123 Main St'.
        address2: The second line of the address, such as 'Apt 1' or ''.
        city: The city, such as 'San Francisco'.
        state: The state, such as 'CA'.
        country: The country, such as 'USA'.
        zip: The zip code, such as '12345'.
    """
    args = {
        "order_id": order_id,
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }

    def validate(_: Session, order: Order) -> dict[str, str]:
        require_status(order, OrderStatus.PENDING, "modified")
        return clean_address(address1, address2, city, state, country, zip)

    def apply(_: Session, order: Order, address: dict[str, str]) -> dict[str, Any]:
        for key, value in address.items():
            setattr(order, key, value)
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "modify_pending_order_address",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
    )


@register("write", "orders")
def modify_pending_order_items(
    ctx: ToolContext,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> dict[str, Any]:
    """Modify items of a pending order to other options of the same products. Allowed once per order;
    afterwards the order can no longer be modified or cancelled. Needs explicit confirmation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        item_ids: The item ids to be modified, each such as '1008292230'. There could be duplicate
            items in the list.
        new_item_ids: The item ids to be modified for, each such as '1008292230'. Each new item id
            should match the item id in the same position and be of the same product.
        payment_method_id: The payment method id to pay or receive refund for the item price
            difference, such as 'gift_card_0000000' or 'credit_card_0000000'.
    """
    args = {
        "order_id": order_id,
        "item_ids": list(item_ids),
        "new_item_ids": list(new_item_ids),
        "payment_method_id": payment_method_id,
    }

    def validate(s: Session, order: Order) -> tuple[ItemSwap, PaymentMethod]:
        require_status(order, OrderStatus.PENDING, "modified")
        swap = plan_item_swap(s, order, list(item_ids), list(new_item_ids))
        pm = owned_payment_method(s, ctx, payment_method_id, lock=True)
        require_gift_card_covers(pm, swap.price_difference_cents)
        return swap, pm

    def apply(s: Session, order: Order, plan: tuple[ItemSwap, PaymentMethod]) -> dict[str, Any]:
        swap, pm = plan
        diff = swap.price_difference_cents
        kind = TransactionType.PAYMENT if diff > 0 else TransactionType.REFUND
        add_transaction(order, kind, abs(diff), pm.id)
        if diff > 0 and pm.source == PaymentSource.GIFT_CARD:
            pm.balance_cents = (pm.balance_cents or 0) - diff
        elif diff < 0:
            record_refund(s, order, pm, -diff, "item modification")
        for item, variant in swap.pairs:
            old = s.get(Variant, item.item_id)
            if old is not None and old.stock is not None:
                old.stock += 1
            if variant.stock is not None:
                variant.stock -= 1
            item.item_id, item.price_cents, item.options = (
                variant.id,
                variant.price_cents,
                dict(variant.options),
            )
        order.status = OrderStatus.PENDING_ITEMS_MODIFIED.value
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "modify_pending_order_items",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
    )


@register("write", "orders")
def modify_pending_order_payment(
    ctx: ToolContext, order_id: str, payment_method_id: str
) -> dict[str, Any]:
    """Pay a pending order with another of the customer's payment methods; the original one is refunded.
    Needs the customer's explicit confirmation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        payment_method_id: The payment method id to pay with, such as 'gift_card_0000000' or
            'credit_card_0000000'.
    """
    args = {"order_id": order_id, "payment_method_id": payment_method_id}

    def validate(s: Session, order: Order) -> tuple[PaymentMethod, PaymentMethod, int]:
        require_status(order, OrderStatus.PENDING, "modified")
        payments = order.transactions
        if len(payments) != 1 or payments[0].transaction_type != TransactionType.PAYMENT:
            raise PaymentMethodError(
                f"Order {order.id} has more than one payment; its payment method cannot be changed."
            )
        current = payments[0]
        if current.payment_method_id == payment_method_id:
            raise PaymentMethodError(f"Order {order.id} is already paid with {payment_method_id}.")
        owned_payment_method(s, ctx, payment_method_id)
        # Lock both methods in id order, so two opposite changes between the same two gift cards
        # wait for each other instead of deadlocking.
        locked = {
            pm_id: lock_payment_method(s, pm_id)
            for pm_id in sorted({payment_method_id, current.payment_method_id})
        }
        new_pm = locked[payment_method_id]
        require_gift_card_covers(new_pm, current.amount_cents)
        return new_pm, locked[current.payment_method_id], current.amount_cents

    def apply(
        s: Session, order: Order, plan: tuple[PaymentMethod, PaymentMethod, int]
    ) -> dict[str, Any]:
        new_pm, old_pm, amount = plan
        add_transaction(order, TransactionType.PAYMENT, amount, new_pm.id)
        add_transaction(order, TransactionType.REFUND, amount, old_pm.id)
        if new_pm.source == PaymentSource.GIFT_CARD:
            new_pm.balance_cents = (new_pm.balance_cents or 0) - amount
        record_refund(s, order, old_pm, amount, "payment change")
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "modify_pending_order_payment",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
    )


ALL_TOOLS = [
    get_order_details,
    track_order,
    get_refund_status,
    cancel_pending_order,
    modify_pending_order_address,
    modify_pending_order_items,
    modify_pending_order_payment,
]
