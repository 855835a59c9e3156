"""Escalation: hand the conversation to a human with a ticket, and look tickets up."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tools.context import ToolContext
from tools.errors import InvalidArgumentError, NotFoundError
from tools.guard import owned_order
from tools.models import AuditEntry, Ticket, TicketKind
from tools.registry import register


def _ticket_view(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "severity": ticket.severity,
        "summary": ticket.summary,
        "order_id": ticket.order_id,
        "created_at": ticket.created_at.isoformat(timespec="seconds"),
    }


def _open_ticket(
    ctx: ToolContext,
    action: str,
    summary: str,
    order_id: str | None,
    severity: int,
    kind: TicketKind,
) -> Ticket:
    summary = summary.strip()
    if not summary:
        raise InvalidArgumentError("A ticket needs a summary of the customer's issue.")
    if not 1 <= severity <= 5:
        raise InvalidArgumentError("Severity is from 1 (low) to 5 (critical).")
    with ctx.store.write() as s:
        oid = None
        if order_id:
            # Only the verified customer's own order may be attached to their ticket.
            oid = owned_order(s, ctx, order_id).id
        ticket = Ticket(
            customer_id=ctx.customer_id,
            order_id=oid,
            conversation_id=ctx.conversation_id,
            summary=summary,
            severity=severity,
            kind=kind.value,
        )
        s.add(ticket)
        s.flush()
        s.add(
            AuditEntry(
                actor=ctx.actor,
                action=action,
                target=f"ticket:{ticket.id}",
                details={"customer_id": ctx.customer_id, "order_id": oid, "severity": severity},
            )
        )
        return ticket


@register("generic", "escalation")
def transfer_to_human_agents(ctx: ToolContext, summary: str) -> dict[str, Any]:
    """Transfer the customer to a human agent, with a summary of their issue. Only transfer if the
    customer explicitly asks for a human, or their issue cannot be solved with the available tools.

    Args:
        summary: A summary of the user's issue.
    """
    ticket = _open_ticket(ctx, "transfer_to_human_agents", summary, None, 3, TicketKind.HANDOFF)
    return {"result": "Transfer successful", "ticket_id": ticket.id}


@register("generic", "escalation")
def create_ticket(
    ctx: ToolContext, summary: str, order_id: str | None = None, severity: int = 3
) -> dict[str, Any]:
    """Open a support ticket for follow-up by the shop's staff.

    Args:
        summary: What the customer needs, in one or two sentences.
        order_id: The customer's order the ticket is about, if any, such as '#W0000000'.
        severity: 1 (low) to 5 (critical).
    """
    return _ticket_view(
        _open_ticket(ctx, "create_ticket", summary, order_id, severity, TicketKind.FOLLOW_UP)
    )


@register("read", "escalation")
def get_ticket(ctx: ToolContext, ticket_id: int) -> dict[str, Any]:
    """Look up one of this customer's (or this conversation's) tickets.

    Args:
        ticket_id: The ticket number, such as 12.
    """
    with ctx.store.read() as s:
        ticket = _visible_ticket(s, ctx, int(ticket_id))
        return _ticket_view(ticket)


def _visible_ticket(s: Session, ctx: ToolContext, ticket_id: int) -> Ticket:
    ticket = s.get(Ticket, ticket_id)
    mine = ticket is not None and (
        (ctx.customer_id is not None and ticket.customer_id == ctx.customer_id)
        or (ctx.conversation_id is not None and ticket.conversation_id == ctx.conversation_id)
    )
    if ticket is None or not mine:
        raise NotFoundError(f"Ticket {ticket_id} was not found.")
    return ticket


ALL_TOOLS = [transfer_to_human_agents, create_ticket, get_ticket]
