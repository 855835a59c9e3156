"""The checks every tool shares: who is asking, do they own it, did they confirm it, did a staff member
approve it, has it run already.

Writes go through ``run_write``: it requires a verified customer and their confirmation of the exact
action (and, for a write moving more money than the shop's threshold, a staff member's approval of it),
locks the target row, replays the stored result if this confirmed action already ran (so a retry, even a
concurrent one, never refunds or exchanges twice), applies the effect, and appends the audit entry, all
in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tools.context import ToolContext, action_fingerprint
from tools.errors import (
    ApprovalRequiredError,
    ConfirmationRequiredError,
    CustomerNotFoundError,
    InvalidArgumentError,
    NotAuthenticatedError,
    NotOwnerError,
    OrderNotFoundError,
    PaymentMethodNotFoundError,
)
from tools.models import AuditEntry, Customer, IdempotencyRecord, Order, PaymentMethod

_Plan = TypeVar("_Plan")
_Row = TypeVar("_Row")


def require_customer(ctx: ToolContext) -> str:
    """The verified customer id, or ``NotAuthenticatedError``."""
    if ctx.customer_id is None:
        raise NotAuthenticatedError()
    return ctx.customer_id


def require_self(ctx: ToolContext, user_id: str) -> str:
    """``user_id`` if it is the verified customer; asking about anyone else is refused."""
    customer_id = require_customer(ctx)
    if user_id != customer_id:
        raise NotOwnerError(
            "You can only access the profile of the customer verified in this conversation."
        )
    return customer_id


def normalize_order_id(order_id: str) -> str:
    """``W123``, ``#w123`` and `` #W123 `` all name order ``#W123``."""
    cleaned = order_id.strip().upper() if isinstance(order_id, str) else ""
    if not cleaned:
        raise InvalidArgumentError("An order id is required, such as '#W0000000'.")
    return cleaned if cleaned.startswith("#") else f"#{cleaned}"


def owned_order(session: Session, ctx: ToolContext, order_id: str, *, lock: bool = False) -> Order:
    """The verified customer's order ``order_id``; another customer's order reads as not found."""
    customer_id = require_customer(ctx)
    oid = normalize_order_id(order_id)
    stmt = select(Order).where(Order.id == oid)
    if lock:
        # Re-read under the lock: a copy loaded earlier in this session may be stale.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = session.scalars(stmt).one_or_none()
    if order is None:
        raise OrderNotFoundError(f"Order {oid} was not found.")
    if order.customer_id != customer_id:
        raise NotOwnerError(f"Order {oid} was not found.")
    return order


def owned_customer(session: Session, ctx: ToolContext, *, lock: bool = False) -> Customer:
    customer_id = require_customer(ctx)
    stmt = select(Customer).where(Customer.id == customer_id)
    if lock:
        # Re-read under the lock: a copy loaded earlier in this session may be stale.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    customer = session.scalars(stmt).one_or_none()
    if customer is None:
        raise CustomerNotFoundError(f"Customer {customer_id} was not found.")
    return customer


def owned_payment_method(
    session: Session, ctx: ToolContext, payment_method_id: str, *, lock: bool = False
) -> PaymentMethod:
    """One of the verified customer's payment methods, locked when its balance will change."""
    customer_id = require_customer(ctx)
    stmt = select(PaymentMethod).where(
        PaymentMethod.id == payment_method_id, PaymentMethod.customer_id == customer_id
    )
    if lock:
        # Re-read under the lock: a copy loaded earlier in this session may be stale.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    pm = session.scalars(stmt).one_or_none()
    if pm is None:
        raise PaymentMethodNotFoundError(
            f"Payment method {payment_method_id} was not found among the customer's payment methods."
        )
    return pm


def run_write(
    ctx: ToolContext,
    action: str,
    args: Mapping[str, Any],
    *,
    lock: Callable[[Session], _Row],
    validate: Callable[[Session, _Row], _Plan],
    apply: Callable[[Session, _Row, _Plan], dict[str, Any]],
    target: str,
    moves: Callable[[_Plan], int] | None = None,
) -> dict[str, Any]:
    """Apply one confirmed write exactly once and return its result (the stored one on a retry).

    In one transaction: ``lock`` loads and locks the row the write changes (checking ownership) and
    returns it; a confirmed action that already ran returns its stored result; ``validate`` enforces the
    shop's rules on the row and returns a plan; only then is the customer's confirmation required, so an
    impossible action is refused before anyone is asked to confirm it; ``apply`` carries the plan out on
    the row and returns the result.

    ``moves``, for writes that may need a staff member's approval, gives the cents the validated plan
    moves (from the store's prices, never from the caller): over ``ctx.approval_over_cents`` a
    confirmed call is refused with ``ApprovalRequiredError`` until ``ctx`` carries an approval of it.
    """
    customer_id = require_customer(ctx)
    fingerprint = action_fingerprint(action, args)
    confirmation = ctx.confirmed.get(fingerprint)
    confirmed = confirmation is not None
    # Keyed by the confirmation, not just the call: a retry replays, while the same change asked for
    # and confirmed again later (an address changed back, say) acts again.
    key = hashlib.sha256(f"{customer_id}:{fingerprint}:{confirmation}".encode()).hexdigest()
    try:
        with ctx.store.write() as session:
            # Lock before looking for an earlier run: a concurrent retry waits here until the first
            # commits, then finds its record instead of re-checking a changed order.
            row = lock(session)
            if confirmed:
                done = session.get(IdempotencyRecord, key)
                if done is not None:
                    return dict(done.result)
            plan = validate(session, row)
            amount = moves(plan) if moves is not None else 0
            needs_approval = moves is not None and amount > ctx.approval_over_cents
            if not confirmed:
                raise ConfirmationRequiredError(
                    action, amount_cents=amount, needs_approval=needs_approval
                )
            approver = ctx.approved.get(fingerprint)
            if needs_approval and approver is None:
                raise ApprovalRequiredError(action, amount)
            result = apply(session, row, plan)
            session.add(
                IdempotencyRecord(key=key, action=action, customer_id=customer_id, result=result)
            )
            session.add(
                AuditEntry(
                    actor=ctx.actor,
                    action=action,
                    target=target,
                    details={
                        "customer_id": customer_id,
                        "args": dict(args),
                        "conversation_id": ctx.conversation_id,
                        **({"approved_by": approver} if approver else {}),
                    },
                )
            )
            session.flush()
    except IntegrityError:
        # Two first runs raced past the lock (possible only where no row could be locked): the
        # loser's transaction is rolled back whole, and it answers with the winner's result.
        with ctx.store.read() as session:
            done = session.get(IdempotencyRecord, key)
            if done is None:
                raise
            return dict(done.result)
    return result
