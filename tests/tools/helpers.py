"""Finders for real records of the tau2 shop, and read-outs of the store, shared by the tools tests.

The finders query the store a test runs on, so fixtures follow the data instead of guessing ids.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select

from tools.context import ToolContext
from tools.errors import (
    InsufficientBalanceError,
    InvalidArgumentError,
    ItemMismatchError,
    ItemUnavailableError,
    OrderStatusError,
    PaymentMethodNotFoundError,
    ToolError,
)
from tools.models import (
    AuditEntry,
    Base,
    Customer,
    Order,
    OrderItem,
    PaymentMethod,
    PaymentTransaction,
    Refund,
    Variant,
)
from tools.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class OrderRef:
    """An order as a test needs it: who owns it, what it holds, how it was paid."""

    order_id: str
    customer_id: str
    status: str
    item_ids: tuple[str, ...]
    total_cents: int
    payment_method_id: str
    """The method of the order's first payment."""
    paid_with: str
    """That method's source: ``gift_card``, ``paypal`` or ``credit_card``."""
    payments: int
    """How many transactions the order's payment history holds."""


@dataclass(frozen=True)
class Swap:
    """One item of an order and another variant of the same product it could become."""

    order: OrderRef
    product_id: str
    item_id: str
    new_item_id: str
    new_available: bool
    difference_cents: int
    """New price less old price: what the customer would pay (positive) or get back (negative)."""


def as_customer(store: Store, customer_id: str, **kwargs: Any) -> ToolContext:
    """A context whose conversation verified ``customer_id``."""
    return ToolContext(store, **kwargs).authenticated(customer_id)


def orders(store: Store, status: str | None = None) -> list[OrderRef]:
    """Every order (of ``status``), sorted by id."""
    with store.read() as s:
        stmt = select(Order.id, Order.customer_id, Order.status).order_by(Order.id)
        if status is not None:
            stmt = stmt.where(Order.status == status)
        heads = s.execute(stmt).all()
        items: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for oid, item_id, price in s.execute(
            select(OrderItem.order_id, OrderItem.item_id, OrderItem.price_cents).order_by(
                OrderItem.order_id, OrderItem.position
            )
        ):
            items[oid].append((item_id, price))
        txs: dict[str, list[str]] = defaultdict(list)
        for oid, pm_id in s.execute(
            select(PaymentTransaction.order_id, PaymentTransaction.payment_method_id).order_by(
                PaymentTransaction.order_id, PaymentTransaction.position
            )
        ):
            txs[oid].append(pm_id)
        sources = dict(s.execute(select(PaymentMethod.id, PaymentMethod.source)).all())
    return [
        OrderRef(
            order_id=oid,
            customer_id=cid,
            status=st,
            item_ids=tuple(i for i, _ in items[oid]),
            total_cents=sum(p for _, p in items[oid]),
            payment_method_id=txs[oid][0],
            paid_with=sources[txs[oid][0]],
            payments=len(txs[oid]),
        )
        for oid, cid, st in heads
    ]


def find_order(store: Store, status: str, **where: Any) -> OrderRef:
    """The first order of ``status`` whose fields equal ``where`` (e.g. ``paid_with="gift_card"``)."""
    for ref in orders(store, status):
        if all(getattr(ref, k) == v for k, v in where.items()):
            return ref
    raise LookupError(f"no {status} order with {where} in the shop")


def swaps(store: Store, status: str) -> Iterator[Swap]:
    """Every (order item, other variant of its product) pair over the orders of ``status``."""
    with store.read() as s:
        by_product: dict[str, list[tuple[str, int, bool]]] = defaultdict(list)
        for vid, pid, price, available in s.execute(
            select(Variant.id, Variant.product_id, Variant.price_cents, Variant.available).order_by(
                Variant.id
            )
        ):
            by_product[pid].append((vid, price, available))
        rows = s.execute(
            select(
                OrderItem.order_id, OrderItem.item_id, OrderItem.product_id, OrderItem.price_cents
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.status == status)
            .order_by(OrderItem.order_id, OrderItem.position)
        ).all()
    refs = {ref.order_id: ref for ref in orders(store, status)}
    for oid, item_id, pid, price in rows:
        for vid, new_price, available in by_product[pid]:
            if vid != item_id:
                yield Swap(refs[oid], pid, item_id, vid, available, new_price - price)


def payment_methods(store: Store, customer_id: str) -> dict[str, str]:
    """The customer's payment method ids and their sources."""
    with store.read() as s:
        rows = s.execute(
            select(PaymentMethod.id, PaymentMethod.source)
            .where(PaymentMethod.customer_id == customer_id)
            .order_by(PaymentMethod.position)
        )
        return dict(rows.all())


def gift_cards(store: Store, customer_id: str) -> dict[str, int]:
    """The customer's gift cards and their balances in cents."""
    with store.read() as s:
        rows = s.execute(
            select(PaymentMethod.id, PaymentMethod.balance_cents).where(
                PaymentMethod.customer_id == customer_id, PaymentMethod.source == "gift_card"
            )
        )
        return {pm_id: balance or 0 for pm_id, balance in rows}


def gift_cards_by_customer(store: Store) -> dict[str, dict[str, int]]:
    """Every customer's gift cards and their balances in cents."""
    cards: dict[str, dict[str, int]] = defaultdict(dict)
    with store.read() as s:
        for cid, pm_id, cents in s.execute(
            select(PaymentMethod.customer_id, PaymentMethod.id, PaymentMethod.balance_cents).where(
                PaymentMethod.source == "gift_card"
            )
        ):
            cards[cid][pm_id] = cents or 0
    return cards


def balance(store: Store, payment_method_id: str) -> int | None:
    with store.read() as s:
        return s.get_one(PaymentMethod, payment_method_id).balance_cents


def customer_with_orders(store: Store, *statuses: str, gift_card: bool = False) -> str:
    """The first customer (by id) holding an order of every one of ``statuses``."""
    with store.read() as s:
        held: dict[str, set[str]] = defaultdict(set)
        for cid, st in s.execute(select(Order.customer_id, Order.status)):
            held[cid].add(st)
        with_cards = set(
            s.scalars(select(PaymentMethod.customer_id).where(PaymentMethod.source == "gift_card"))
        )
    for cid in sorted(held):
        if set(statuses) <= held[cid] and (not gift_card or cid in with_cards):
            return cid
    raise LookupError(f"no customer with orders {statuses}")


def customer_name(store: Store, customer_id: str) -> tuple[str, str]:
    with store.read() as s:
        c = s.get_one(Customer, customer_id)
        return c.first_name, c.last_name


def transactions(store: Store, order_id: str) -> list[tuple[str, int, str]]:
    """The order's payment history as (type, cents, payment method id)."""
    with store.read() as s:
        rows = s.execute(
            select(
                PaymentTransaction.transaction_type,
                PaymentTransaction.amount_cents,
                PaymentTransaction.payment_method_id,
            )
            .where(PaymentTransaction.order_id == order_id)
            .order_by(PaymentTransaction.position)
        )
        return [(kind, amount, pm_id) for kind, amount, pm_id in rows]


def refunds(store: Store, order_id: str) -> list[dict[str, Any]]:
    """The order's Refund rows as plain dicts."""
    with store.read() as s:
        rows = s.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
        return [
            {
                "payment_method_id": r.payment_method_id,
                "amount_cents": r.amount_cents,
                "reason": r.reason,
                "status": r.status,
                "expected_by": r.expected_by,
            }
            for r in rows
        ]


def audit(store: Store) -> list[dict[str, Any]]:
    """The audit log, oldest first, as plain dicts."""
    with store.read() as s:
        return [
            {"actor": e.actor, "action": e.action, "target": e.target, "details": e.details}
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def count(store: Store, model: type[Base]) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for asserting that a refused write changed nothing."""
    with store.engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
        }


def call_confirmed(
    ctx: ToolContext,
    tool: Callable[..., T],
    *,
    confirmation: str | None = None,
    approved_by: str | None = None,
    **args: Any,
) -> T:
    """Call ``tool`` as it runs after the customer said yes to exactly these arguments (and, with
    ``approved_by``, a staff member approved them). Calls that share a ``confirmation`` id are
    retries of one "yes"; without one, each call is a new "yes"."""
    ctx = ctx.confirm(tool.__name__, args, confirmation)
    if approved_by is not None:
        ctx = ctx.approve(tool.__name__, args, approved_by)
    return tool(ctx, **args)


SWAP_REFUSALS: dict[str, tuple[type[ToolError], str]] = {
    "item not in the order": (ItemMismatchError, "not in order"),
    "item listed more often than ordered": (ItemMismatchError, "2 time"),
    "counts differ": (ItemMismatchError, "must match"),
    "same item": (ItemMismatchError, "same as"),
    "another product": (ItemMismatchError, "not a variant"),
    "unavailable variant": (ItemUnavailableError, "not available"),
    "gift card too small": (InsufficientBalanceError, "not enough"),
    "another customer's payment method": (PaymentMethodNotFoundError, "not found"),
    "no items": (InvalidArgumentError, "at least one"),
    "wrong status": (OrderStatusError, "only"),
}


def swap_refusal(store: Store, status: str, case: str) -> tuple[str, dict[str, Any]]:
    """A customer and the arguments of an item swap (modify items of a pending order, exchange items
    of a delivered one) on their ``status`` order that the shop must refuse as ``case`` says."""
    cards = gift_cards_by_customer(store)
    other_status = "delivered" if status == "pending" else "pending"
    pool = list(swaps(store, other_status if case == "wrong status" else status))

    def pick(test: Callable[[Swap], bool]) -> Swap:
        return next(s for s in pool if test(s))

    def args(sw: Swap, items: list[str], new: list[str], pm: str | None = None) -> dict[str, Any]:
        return {
            "order_id": sw.order.order_id,
            "item_ids": items,
            "new_item_ids": new,
            "payment_method_id": pm or sw.order.payment_method_id,
        }

    def plain(sw: Swap) -> bool:
        """Allowed as far as the variant and the price go."""
        return sw.new_available and sw.difference_cents <= 0

    if case == "item not in the order":
        sw = pick(lambda sw: plain(sw) and sw.new_item_id not in sw.order.item_ids)
        call = args(sw, [sw.new_item_id], [sw.item_id])
    elif case == "item listed more often than ordered":
        sw = pick(lambda sw: plain(sw) and sw.order.item_ids.count(sw.item_id) == 1)
        call = args(sw, [sw.item_id, sw.item_id], [sw.new_item_id, sw.new_item_id])
    elif case == "counts differ":
        sw = pick(plain)
        call = args(sw, [sw.item_id], [sw.new_item_id, sw.new_item_id])
    elif case == "same item":
        sw = pick(plain)
        call = args(sw, [sw.item_id], [sw.item_id])
    elif case == "another product":
        sw = pick(plain)
        other = pick(lambda o: o.new_available and o.product_id != sw.product_id)
        call = args(sw, [sw.item_id], [other.new_item_id])
    elif case == "unavailable variant":
        sw = pick(lambda sw: not sw.new_available)
        call = args(sw, [sw.item_id], [sw.new_item_id])
    elif case == "gift card too small":
        sw = pick(
            lambda sw: (
                sw.new_available
                and any(0 < b < sw.difference_cents for b in cards[sw.order.customer_id].values())
            )
        )
        card = next(
            pm for pm, b in cards[sw.order.customer_id].items() if 0 < b < sw.difference_cents
        )
        call = args(sw, [sw.item_id], [sw.new_item_id], card)
    elif case == "another customer's payment method":
        sw = pick(plain)
        stranger = next(o for o in orders(store) if o.customer_id != sw.order.customer_id)
        call = args(sw, [sw.item_id], [sw.new_item_id], stranger.payment_method_id)
    elif case == "no items":
        sw = pick(plain)
        call = args(sw, [], [])
    elif case == "wrong status":
        sw = pick(plain)
        call = args(sw, [sw.item_id], [sw.new_item_id])
    else:
        raise ValueError(case)
    return sw.order.customer_id, call


def run_concurrently(call: Callable[[], T], threads: int = 8) -> list[T | BaseException]:
    """Run ``call`` on ``threads`` threads released at the same instant; results or raised errors."""
    start = threading.Barrier(threads)

    def worker() -> T | BaseException:
        start.wait()
        try:
            return call()
        except BaseException as exc:  # the test inspects it
            return exc

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker) for _ in range(threads)]
        return [f.result() for f in futures]
