"""Rows rendered as the plain dicts tools return, in the tau2 retail shapes (dollars as floats)."""

from __future__ import annotations

from typing import Any

from tools.models import Customer, Order, PaymentMethod, Product, Variant


def cents(amount: float) -> int:
    """Dollars (as customers and the tau2 data write them) to integer cents."""
    return round(amount * 100)


def dollars(amount_cents: int) -> float:
    return round(amount_cents / 100, 2)


def payment_method_view(pm: PaymentMethod) -> dict[str, Any]:
    view: dict[str, Any] = {"source": pm.source, "id": pm.id}
    if pm.brand is not None:
        view["brand"] = pm.brand
    if pm.last_four is not None:
        view["last_four"] = pm.last_four
    if pm.balance_cents is not None:
        view["balance"] = dollars(pm.balance_cents)
    return view


def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "user_id": customer.id,
        "name": {"first_name": customer.first_name, "last_name": customer.last_name},
        "address": customer.address_dict(),
        "email": customer.email,
        "payment_methods": {pm.id: payment_method_view(pm) for pm in customer.payment_methods},
        "orders": [order.id for order in customer.orders],
    }


def variant_view(variant: Variant) -> dict[str, Any]:
    view: dict[str, Any] = {
        "item_id": variant.id,
        "options": dict(variant.options),
        "available": variant.available,
        "price": dollars(variant.price_cents),
    }
    if variant.stock is not None:
        view["stock"] = variant.stock
    return view


def product_view(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "product_id": product.id,
        "variants": {v.id: variant_view(v) for v in product.variants},
    }


def order_view(order: Order) -> dict[str, Any]:
    view: dict[str, Any] = {
        "order_id": order.id,
        "user_id": order.customer_id,
        "address": order.address_dict(),
        "items": [
            {
                "name": item.name,
                "product_id": item.product_id,
                "item_id": item.item_id,
                "price": dollars(item.price_cents),
                "options": dict(item.options),
            }
            for item in order.items
        ],
        "status": order.status,
        "fulfillments": [
            {"tracking_id": list(f.tracking_ids), "item_ids": list(f.item_ids)}
            for f in order.fulfillments
        ],
        "payment_history": [
            {
                "transaction_type": t.transaction_type,
                "amount": dollars(t.amount_cents),
                "payment_method_id": t.payment_method_id,
            }
            for t in order.transactions
        ],
    }
    optional: dict[str, Any] = {
        "cancel_reason": order.cancel_reason,
        "return_items": order.return_items,
        "return_payment_method_id": order.return_payment_method_id,
        "exchange_items": order.exchange_items,
        "exchange_new_items": order.exchange_new_items,
        "exchange_payment_method_id": order.exchange_payment_method_id,
        "exchange_price_difference": (
            None
            if order.exchange_price_difference_cents is None
            else dollars(order.exchange_price_difference_cents)
        ),
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view
