"""Returns and exchanges of delivered orders.

Rules (tau2 retail policy, enforced here): only ``delivered`` orders are returned or exchanged, once, and
within the shop's return window where delivery dates are recorded; a
refund goes to the original payment method or one of the customer's gift cards; an exchange is to an
available variant of the same product, and a gift card paying the difference must cover it.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from tools.context import ToolContext
from tools.errors import (
    InvalidArgumentError,
    ItemMismatchError,
    PaymentMethodError,
    ReturnWindowError,
)
from tools.guard import normalize_order_id, owned_order, owned_payment_method, run_write
from tools.models import (
    Exchange,
    Order,
    OrderStatus,
    PaymentMethod,
    PaymentSource,
    Refund,
    RefundStatus,
    Return,
    TransactionType,
    utcnow,
)
from tools.orders import ItemSwap, plan_item_swap, require_gift_card_covers, require_status
from tools.registry import register
from tools.settings import get_settings
from tools.views import order_view


def require_within_window(order: Order, action: str) -> None:
    """Refuse once the return window has passed since the order's last delivery."""
    delivered = [f.delivered_at for f in order.fulfillments if f.delivered_at is not None]
    if not delivered:
        return
    last = max(delivered)
    days = get_settings().return_window_days
    if utcnow() - last > timedelta(days=days):
        raise ReturnWindowError(
            f"Order {order.id} was delivered on {last.date().isoformat()}, more than {days} days ago;"
            f" it can no longer be {action}."
        )


def original_payment_method_id(order: Order) -> str | None:
    first = next(
        (t for t in order.transactions if t.transaction_type == TransactionType.PAYMENT), None
    )
    return first.payment_method_id if first else None


@register("write", "returns")
def return_delivered_order_items(
    ctx: ToolContext, order_id: str, item_ids: list[str], payment_method_id: str
) -> dict[str, Any]:
    """Return some items of a delivered order; the order becomes 'return requested' and the customer
    gets an email on how to send the items back. Needs the customer's explicit confirmation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        item_ids: The item ids to be returned, each such as '1008292230'. There could be duplicate
            items in the list.
        payment_method_id: The payment method id to receive the refund: the original payment method
            or a gift card, such as 'gift_card_0000000'.
    """
    args = {
        "order_id": order_id,
        "item_ids": list(item_ids),
        "payment_method_id": payment_method_id,
    }

    def validate(s: Session, order: Order) -> tuple[PaymentMethod, int]:
        require_status(order, OrderStatus.DELIVERED, "returned")
        require_within_window(order, "returned")
        pm = owned_payment_method(s, ctx, payment_method_id)
        if pm.source != PaymentSource.GIFT_CARD and pm.id != original_payment_method_id(order):
            raise PaymentMethodError(
                "A refund can only go to the original payment method or an existing gift card."
            )
        if not item_ids:
            raise InvalidArgumentError("Name at least one item to return.")
        in_order = Counter(i.item_id for i in order.items)
        for item_id, wanted in Counter(item_ids).items():
            if wanted > in_order[item_id]:
                raise ItemMismatchError(
                    f"Item {item_id} is not in order {order.id} {wanted} time(s)."
                )
        remaining = list(order.items)
        amount = 0
        for item_id in item_ids:
            item = next(i for i in remaining if i.item_id == item_id)
            remaining.remove(item)
            amount += item.price_cents
        return pm, amount

    def apply(s: Session, order: Order, plan: tuple[PaymentMethod, int]) -> dict[str, Any]:
        pm, amount = plan
        s.add(
            Return(
                order_id=order.id,
                item_ids=list(item_ids),
                payment_method_id=pm.id,
                amount_cents=amount,
            )
        )
        s.add(
            Refund(
                order_id=order.id,
                payment_method_id=pm.id,
                amount_cents=amount,
                reason="return",
                status=RefundStatus.AWAITING_RETURN.value,
            )
        )
        order.status = OrderStatus.RETURN_REQUESTED.value
        order.return_items = sorted(item_ids)
        order.return_payment_method_id = pm.id
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "return_delivered_order_items",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
        moves=lambda plan: plan[1],
    )


@register("write", "returns")
def exchange_delivered_order_items(
    ctx: ToolContext,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> dict[str, Any]:
    """Exchange items of a delivered order for other options of the same products; the order becomes
    'exchange requested'. Allowed once per order. Needs the customer's explicit confirmation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the
            beginning of the order id.
        item_ids: The item ids to be exchanged, each such as '1008292230'. There could be duplicate
            items in the list.
        new_item_ids: The item ids to be exchanged for, each such as '1008292230'. Each new item id
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
        require_status(order, OrderStatus.DELIVERED, "exchanged")
        require_within_window(order, "exchanged")
        swap = plan_item_swap(s, order, list(item_ids), list(new_item_ids))
        pm = owned_payment_method(s, ctx, payment_method_id)
        require_gift_card_covers(pm, swap.price_difference_cents)
        return swap, pm

    def apply(s: Session, order: Order, plan: tuple[ItemSwap, PaymentMethod]) -> dict[str, Any]:
        swap, pm = plan
        for _, variant in swap.pairs:
            if variant.stock is not None:
                variant.stock -= 1
        s.add(
            Exchange(
                order_id=order.id,
                item_ids=list(item_ids),
                new_item_ids=list(new_item_ids),
                payment_method_id=pm.id,
                price_difference_cents=swap.price_difference_cents,
            )
        )
        order.status = OrderStatus.EXCHANGE_REQUESTED.value
        order.exchange_items = sorted(item_ids)
        order.exchange_new_items = sorted(new_item_ids)
        order.exchange_payment_method_id = pm.id
        order.exchange_price_difference_cents = swap.price_difference_cents
        order.updated_at = utcnow()
        return order_view(order)

    return run_write(
        ctx,
        "exchange_delivered_order_items",
        args,
        lock=lambda s: owned_order(s, ctx, order_id, lock=True),
        validate=validate,
        apply=apply,
        target=normalize_order_id(order_id),
        moves=lambda plan: _goods_moved(plan[0]),
    )


def _goods_moved(swap: ItemSwap) -> int:
    """What an exchange puts at stake: the larger of the goods sent back and the goods sent out."""
    old = sum(item.price_cents for item, _ in swap.pairs)
    new = sum(variant.price_cents for _, variant in swap.pairs)
    return max(old, new)


ALL_TOOLS = [return_delivered_order_items, exchange_delivered_order_items]
