"""The staff's side of tickets: list them, claim one, resolve it, and open one for a risky write
that waits for a human's approval. Not tools for the model: the API's agent endpoints call these.

Who holds a ticket is a rule kept here: an open ticket goes to whoever acts on it first; a claimed one
belongs to its holder until they release or resolve it (an administrator may act on any); a resolved
one is closed to everything. Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tools.errors import InvalidArgumentError, TicketNotFoundError, TicketStateError
from tools.models import (
    AuditEntry,
    Customer,
    Order,
    PaymentTransaction,
    Ticket,
    TicketKind,
    TicketStatus,
    TransactionType,
    utcnow,
)
from tools.store import Store
from tools.views import dollars

_SIGN_IN = "staff_sign_in"


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def staff_view(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the shop's staff see it."""
    return {
        "ticket_id": ticket.id,
        "kind": ticket.kind,
        "status": ticket.status,
        "severity": ticket.severity,
        "summary": ticket.summary,
        "customer_id": ticket.customer_id,
        "order_id": ticket.order_id,
        "conversation_id": ticket.conversation_id,
        "created_at": _iso(ticket.created_at),
        "claimed_by": ticket.claimed_by,
        "claimed_at": _iso(ticket.claimed_at),
        "resolved_at": _iso(ticket.resolved_at),
    }


def list_tickets(
    store: Store,
    *,
    status: TicketStatus | None = None,
    kind: TicketKind | None = None,
    claimed_by: str | None = None,
    visible_to: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Tickets, most severe first, then oldest first (the order a queue is worked in); with
    ``visible_to``, only the open ones and those that staff member holds or resolved."""
    query = select(Ticket)
    if visible_to is not None:
        query = query.where(
            or_(Ticket.status == TicketStatus.OPEN.value, Ticket.claimed_by == visible_to)
        )
    if status is not None:
        query = query.where(Ticket.status == status.value)
    if kind is not None:
        query = query.where(Ticket.kind == kind.value)
    if claimed_by is not None:
        query = query.where(Ticket.claimed_by == claimed_by)
    query = query.order_by(Ticket.severity.desc(), Ticket.id).limit(limit)
    with store.read() as s:
        return [staff_view(t) for t in s.scalars(query)]


def _ticket(s: Session, ticket_id: int) -> Ticket:
    ticket = s.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFoundError(f"Ticket {ticket_id} was not found.")
    return ticket


def get_ticket(store: Store, ticket_id: int) -> dict[str, Any]:
    with store.read() as s:
        return staff_view(_ticket(s, ticket_id))


def set_severity(store: Store, ticket_id: int, severity: int) -> None:
    """How urgent the ticket is, 1 (low) to 5 (critical): the staff queue is ordered by it. The
    agent sets it from its reading of the customer's message after the handoff (tau2's transfer
    tool takes a summary only)."""
    if not 1 <= severity <= 5:
        raise ValueError("Severity is from 1 (low) to 5 (critical).")
    with store.write() as s:
        _ticket(s, ticket_id).severity = severity


def _audit(s: Session, staff: str, action: str, ticket: Ticket, **details: Any) -> None:
    s.add(AuditEntry(actor=staff, action=action, target=f"ticket:{ticket.id}", details=details))


def _take(s: Session, ticket: Ticket, staff: str, *, admin: bool) -> None:
    """Make ``staff`` the holder of an open ticket; refuse one held by someone else or closed."""
    if ticket.status == TicketStatus.RESOLVED:
        raise TicketStateError(f"Ticket {ticket.id} is already resolved.")
    if ticket.status == TicketStatus.CLAIMED:
        if ticket.claimed_by != staff and not admin:
            raise TicketStateError(f"Ticket {ticket.id} is claimed by {ticket.claimed_by}.")
        return
    ticket.status = TicketStatus.CLAIMED.value
    ticket.claimed_by = staff
    ticket.claimed_at = utcnow()
    _audit(s, staff, "claim_ticket", ticket)


def claim(store: Store, ticket_id: int, staff: str) -> dict[str, Any]:
    """Claim an open ticket for ``staff`` (claiming one's own again changes nothing). Another's
    claim must be released first, by its holder or an administrator."""
    with store.write() as s:
        ticket = _ticket(s, ticket_id)
        _take(s, ticket, staff, admin=False)
        return staff_view(ticket)


def take(store: Store, ticket_id: int, staff: str, *, admin: bool = False) -> dict[str, Any]:
    """Before acting on a ticket's conversation: the ticket, claimed for ``staff`` if it was open.
    An administrator may act on a ticket someone else holds (the claim stays theirs)."""
    with store.write() as s:
        ticket = _ticket(s, ticket_id)
        _take(s, ticket, staff, admin=admin)
        return staff_view(ticket)


def assign(store: Store, ticket_id: int, to: str, *, by: str) -> dict[str, Any]:
    """Hand an unresolved ticket to staff member ``to`` (an administrator's decision)."""
    to = to.strip()
    if not to:
        raise InvalidArgumentError("Name the staff member to assign the ticket to.")
    with store.write() as s:
        ticket = _ticket(s, ticket_id)
        if ticket.status == TicketStatus.RESOLVED:
            raise TicketStateError(f"Ticket {ticket.id} is already resolved.")
        _audit(s, by, "assign_ticket", ticket, claimed_by=ticket.claimed_by, to=to)
        ticket.status = TicketStatus.CLAIMED.value
        ticket.claimed_by = to
        ticket.claimed_at = utcnow()
        return staff_view(ticket)


def release(store: Store, ticket_id: int, staff: str, *, admin: bool = False) -> dict[str, Any]:
    """Give a claimed ticket back to the queue: its holder, or an administrator, may."""
    with store.write() as s:
        ticket = _ticket(s, ticket_id)
        if ticket.status != TicketStatus.CLAIMED:
            raise TicketStateError(f"Ticket {ticket.id} is {ticket.status}, not claimed.")
        if ticket.claimed_by != staff and not admin:
            raise TicketStateError(f"Ticket {ticket.id} is claimed by {ticket.claimed_by}.")
        _audit(s, staff, "release_ticket", ticket, claimed_by=ticket.claimed_by)
        ticket.status = TicketStatus.OPEN.value
        ticket.claimed_by = None
        ticket.claimed_at = None
        return staff_view(ticket)


def resolve(
    store: Store, ticket_id: int, staff: str, *, admin: bool = False, note: str = ""
) -> dict[str, Any]:
    """Close a ticket (claiming it first if it was open)."""
    with store.write() as s:
        ticket = _ticket(s, ticket_id)
        _take(s, ticket, staff, admin=admin)
        ticket.status = TicketStatus.RESOLVED.value
        ticket.resolved_at = utcnow()
        _audit(s, staff, "resolve_ticket", ticket, note=note)
        return staff_view(ticket)


def request_approval(
    store: Store,
    conversation_id: str,
    *,
    customer_id: str | None,
    summary: str,
    order_id: str | None = None,
    severity: int = 3,
) -> int:
    """The ticket asking a human to approve a conversation's paused write: the conversation's
    unresolved approval ticket if it has one (a pause is reported once however often it is
    seen), else a new one."""
    summary = summary.strip()
    if not summary:
        raise InvalidArgumentError("An approval ticket needs a summary of the write.")
    with store.write() as s:
        existing = s.scalars(
            select(Ticket).where(
                Ticket.conversation_id == conversation_id,
                Ticket.kind == TicketKind.APPROVAL.value,
                Ticket.status != TicketStatus.RESOLVED.value,
            )
        ).first()
        if existing is not None:
            return existing.id
        order = s.get(Order, order_id) if order_id else None
        ticket = Ticket(
            customer_id=customer_id,
            # Only an order of this customer is attached; the text of the summary names it anyway.
            order_id=order.id if order is not None and order.customer_id == customer_id else None,
            conversation_id=conversation_id,
            summary=summary,
            severity=severity,
            kind=TicketKind.APPROVAL.value,
        )
        s.add(ticket)
        s.flush()
        s.add(
            AuditEntry(
                actor="concierge",
                action="request_approval",
                target=f"ticket:{ticket.id}",
                details={"customer_id": customer_id, "order_id": ticket.order_id},
            )
        )
        return ticket.id


def sign_in(store: Store, staff: str, name: str) -> str:
    """Record the name ``staff`` signed in with, which colleagues see on their claims instead of
    the id; recorded (in the audit log) only when it changed. Returns the name as kept."""
    name = " ".join(name.split())
    if not name:
        raise InvalidArgumentError("Give the name your colleagues know you by.")
    if staff_names(store, [staff]).get(staff) == name:
        return name
    with store.write() as s:
        s.add(
            AuditEntry(
                actor=staff, action=_SIGN_IN, target=f"staff:{staff}", details={"name": name}
            )
        )
    return name


def staff_names(store: Store, staff_ids: Collection[str]) -> dict[str, str]:
    """The name each of ``staff_ids`` last signed in with; those who never did are left out."""
    if not staff_ids:
        return {}
    query = (
        select(AuditEntry)
        .where(AuditEntry.action == _SIGN_IN, AuditEntry.actor.in_(set(staff_ids)))
        .order_by(AuditEntry.id)
    )
    with store.read() as s:
        return {e.actor: str(e.details.get("name", "")) for e in s.scalars(query)}


def customers(store: Store, customer_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """What the staff see of each customer behind a ticket: ``name`` and ``lifetime_spend``
    (payments less refunds over all their orders, in dollars)."""
    if not customer_ids:
        return {}
    ids = set(customer_ids)
    spend = (
        select(
            Order.customer_id,
            PaymentTransaction.transaction_type,
            func.sum(PaymentTransaction.amount_cents),
        )
        .join(Order, PaymentTransaction.order_id == Order.id)
        .where(Order.customer_id.in_(ids))
        .group_by(Order.customer_id, PaymentTransaction.transaction_type)
    )
    spent: dict[str, int] = {}
    with store.read() as s:
        for customer_id, kind, total in s.execute(spend):
            sign = -1 if kind == TransactionType.REFUND else 1
            spent[customer_id] = spent.get(customer_id, 0) + sign * int(total or 0)
        return {
            c.id: {
                "name": f"{c.first_name} {c.last_name}".strip(),
                "lifetime_spend": dollars(spent.get(c.id, 0)),
            }
            for c in s.scalars(select(Customer).where(Customer.id.in_(ids)))
        }


def customer_orders(
    store: Store, customer_id: str, order_ids: Collection[str]
) -> list[dict[str, Any]]:
    """Those of ``order_ids`` that belong to ``customer_id`` (the others are left out, never
    shown): ``order_id``, ``status``, ``placed_at``, ``items`` (names) and ``total`` in dollars, in
    the order of ``order_ids``."""
    wanted = list(dict.fromkeys(order_ids))
    if not wanted:
        return []
    query = select(Order).where(Order.id.in_(wanted), Order.customer_id == customer_id)
    with store.read() as s:
        found = {
            o.id: {
                "order_id": o.id,
                "status": o.status,
                "placed_at": _iso(o.placed_at),
                "items": [item.name for item in o.items],
                "total": dollars(sum(item.price_cents for item in o.items)),
            }
            for o in s.scalars(query)
        }
    return [found[i] for i in wanted if i in found]


__all__ = [
    "assign",
    "claim",
    "customer_orders",
    "customers",
    "get_ticket",
    "list_tickets",
    "release",
    "request_approval",
    "resolve",
    "sign_in",
    "staff_names",
    "staff_view",
    "take",
]
