"""The tau2-bench retail ``db.json`` format: import it into the store, and export the store back to it.

The export lets an evaluation replay a task's expected actions on a fresh store and compare the final
database with the agent's, field for field, as tau2 scores retail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tools import account, calculator, catalog, escalation, identity, orders, returns
from tools.context import ToolContext
from tools.models import (
    Customer,
    Fulfillment,
    Order,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentTransaction,
    Product,
    Refund,
    RefundStatus,
    TransactionType,
    Variant,
)
from tools.registry import ToolOutcome, all_specs, invoke
from tools.store import Store
from tools.views import cents, customer_view, order_view, product_view

# Importing the tool modules registers them, so replay can call any tool by name.
_TOOL_MODULES = (account, calculator, catalog, escalation, identity, orders, returns)
_WRITE_TOOLS = frozenset(s.name for s in all_specs() if s.kind == "write")


class Tau2FormatError(ValueError):
    """The file is not a tau2 retail database; the message names the file and the offending record."""


def load_tau2_db(path: Path) -> dict[str, dict[str, Any]]:
    """Read and shape-check a tau2 retail ``db.json`` (products, users, orders keyed by id)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Tau2FormatError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise Tau2FormatError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise Tau2FormatError(f"{path}: expected an object with products, users and orders")
    for section in ("products", "users", "orders"):
        if not isinstance(data.get(section), dict):
            raise Tau2FormatError(f"{path}: missing the '{section}' object")
    return data


@contextmanager
def _record(path: Path, kind: str, key: str) -> Iterator[None]:
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise Tau2FormatError(f"{path}: {kind} {key!r} is malformed ({exc!r})") from exc


def import_tau2(store: Store, path: Path) -> dict[str, int]:
    """Load a tau2 retail database into an empty store; returns the counts imported."""
    data = load_tau2_db(path)
    with store.write() as s:
        if s.scalar(select(func.count()).select_from(Customer)):
            raise ValueError("The store already has customers; import into an empty store.")
        for pid, p in data["products"].items():
            with _record(path, "product", pid):
                s.add(
                    Product(
                        id=p["product_id"],
                        name=p["name"],
                        variants=[
                            Variant(
                                id=v["item_id"],
                                position=pos,
                                options=dict(v["options"]),
                                price_cents=cents(float(v["price"])),
                                available=bool(v["available"]),
                                stock=None,
                            )
                            for pos, v in enumerate(p["variants"].values())
                        ],
                    )
                )
        s.flush()
        positions: dict[str, int] = {}
        for uid, u in data["users"].items():
            with _record(path, "user", uid):
                addr = u["address"]
                s.add(
                    Customer(
                        id=u["user_id"],
                        first_name=u["name"]["first_name"],
                        last_name=u["name"]["last_name"],
                        email=u["email"],
                        **_address(addr),
                        payment_methods=[
                            PaymentMethod(
                                id=pm["id"],
                                position=pos,
                                source=pm["source"],
                                brand=pm.get("brand"),
                                last_four=pm.get("last_four"),
                                balance_cents=(
                                    cents(float(pm["balance"])) if "balance" in pm else None
                                ),
                            )
                            for pos, pm in enumerate(u["payment_methods"].values())
                        ],
                    )
                )
                positions.update({oid: pos for pos, oid in enumerate(u["orders"])})
        s.flush()
        variants = {item for p in data["products"].values() for item in p["variants"]}
        for oid, o in data["orders"].items():
            with _record(path, "order", oid):
                _check_references(o, data["users"], variants)
                order = _order(o, positions.get(oid, 0))
                s.add(order)
                s.add_all(_refunds(order))
        try:
            s.flush()
        except IntegrityError as exc:
            raise Tau2FormatError(f"{path}: inconsistent records ({exc.orig})") from exc
        return _counts(s)


def _check_references(o: dict[str, Any], users: dict[str, Any], variants: set[str]) -> None:
    """An order must name an existing user, existing items and that user's payment methods."""
    user = users.get(o["user_id"])
    if user is None:
        raise ValueError(f"unknown user {o['user_id']!r}")
    for item in o["items"]:
        if item["item_id"] not in variants:
            raise ValueError(f"unknown item {item['item_id']!r}")
    for payment in o["payment_history"]:
        if payment["payment_method_id"] not in user["payment_methods"]:
            raise ValueError(f"payment method {payment['payment_method_id']!r} is not the user's")


def _refunds(order: Order) -> list[Refund]:
    """Refund records for the refunds in an imported payment history, so refund status reads them;
    the history has no dates, so they count as completed."""
    reason = "cancellation" if order.status == OrderStatus.CANCELLED else "refund"
    return [
        Refund(
            order_id=order.id,
            payment_method_id=t.payment_method_id,
            amount_cents=t.amount_cents,
            reason=reason,
            status=RefundStatus.COMPLETED.value,
        )
        for t in order.transactions
        if t.transaction_type == TransactionType.REFUND
    ]


def _address(addr: dict[str, Any]) -> dict[str, str]:
    return {
        k: str(addr.get(k) or "")
        for k in ("address1", "address2", "city", "state", "country", "zip")
    }


def _order(o: dict[str, Any], position: int) -> Order:
    return Order(
        id=o["order_id"],
        customer_id=o["user_id"],
        position=position,
        status=o["status"],
        **_address(o["address"]),
        cancel_reason=o.get("cancel_reason"),
        return_items=o.get("return_items"),
        return_payment_method_id=o.get("return_payment_method_id"),
        exchange_items=o.get("exchange_items"),
        exchange_new_items=o.get("exchange_new_items"),
        exchange_payment_method_id=o.get("exchange_payment_method_id"),
        exchange_price_difference_cents=(
            cents(float(o["exchange_price_difference"]))
            if o.get("exchange_price_difference") is not None
            else None
        ),
        items=[
            OrderItem(
                position=pos,
                product_id=i["product_id"],
                item_id=i["item_id"],
                name=i["name"],
                price_cents=cents(float(i["price"])),
                options=dict(i["options"]),
            )
            for pos, i in enumerate(o["items"])
        ],
        fulfillments=[
            Fulfillment(
                position=pos, tracking_ids=list(f["tracking_id"]), item_ids=list(f["item_ids"])
            )
            for pos, f in enumerate(o["fulfillments"])
        ],
        transactions=[
            PaymentTransaction(
                position=pos,
                transaction_type=t["transaction_type"],
                amount_cents=cents(float(t["amount"])),
                payment_method_id=t["payment_method_id"],
            )
            for pos, t in enumerate(o["payment_history"])
        ],
    )


def _counts(s: Session) -> dict[str, int]:
    return {
        "products": s.scalar(select(func.count()).select_from(Product)) or 0,
        "variants": s.scalar(select(func.count()).select_from(Variant)) or 0,
        "customers": s.scalar(select(func.count()).select_from(Customer)) or 0,
        "orders": s.scalar(select(func.count()).select_from(Order)) or 0,
    }


def export_tau2(store: Store) -> dict[str, dict[str, Any]]:
    """The whole store in the tau2 ``db.json`` shape (for comparing end states)."""
    with store.read() as s:
        products = s.scalars(select(Product).options(selectinload(Product.variants))).all()
        customers = s.scalars(
            select(Customer).options(
                selectinload(Customer.payment_methods), selectinload(Customer.orders)
            )
        ).all()
        orders = s.scalars(
            select(Order).options(
                selectinload(Order.items),
                selectinload(Order.fulfillments),
                selectinload(Order.transactions),
            )
        ).all()
        return {
            "products": {p.id: product_view(p) for p in products},
            "users": {c.id: customer_view(c) for c in customers},
            "orders": {o.id: order_view(o) for o in orders},
        }


def store_counts(store: Store) -> dict[str, int]:
    """How many products, variants, customers and orders the store holds."""
    with store.read() as s:
        return _counts(s)


def replay_actions(
    store: Store, actions: list[dict[str, Any]], *, customer_id: str | None = None
) -> list[ToolOutcome]:
    """Run a tau2 task's expected actions (``{"name", "arguments"}``) against ``store`` as a perfect
    agent would: each write is confirmed (and approved, as the staff following tau2's policy would),
    and the customer is the one the actions concern.

    Many tasks list only their writes, without the lookup that authenticated the customer; then the
    customer is ``customer_id``, or else the owner of the first user or order the actions name.
    """
    ctx = ToolContext(store, actor="replay")
    owner = customer_id or _owner_named_in(store, actions)
    if owner is not None:
        ctx = ctx.authenticated(owner)
    outcomes = []
    for action in actions:
        name, arguments = action["name"], dict(action.get("arguments") or {})
        if name in _WRITE_TOOLS:
            ctx = ctx.confirm(name, arguments).approve(name, arguments, "replay")
        outcome = invoke(ctx, name, arguments)
        if name.startswith("find_user_id_by_") and outcome.ok:
            ctx = ctx.authenticated(str(outcome.value))
        outcomes.append(outcome)
    return outcomes


def _owner_named_in(store: Store, actions: list[dict[str, Any]]) -> str | None:
    with store.read() as s:
        for action in actions:
            arguments = action.get("arguments") or {}
            if "user_id" in arguments:
                return str(arguments["user_id"])
            if "order_id" in arguments:
                owner = s.scalar(select(Order.customer_id).where(Order.id == arguments["order_id"]))
                if owner is not None:
                    return owner
    return None
