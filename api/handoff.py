"""The human agents' endpoints: the ticket queue, claims, replies into the customer's conversation,
handing the conversation back to the bot, and decisions on a paused risky write.

A staff API key opens them (``agent`` or ``admin``); a conversation token never does. Acting on an
open ticket claims it; a ticket someone else holds is theirs (409) unless the caller is an admin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent import HandoffError, current_state, deliver_human_reply, hand_back, pending_approval
from api.conversations import clean_message
from api.deps import CurrentAdmin, CurrentStaff, Runtime, RuntimeDep
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.security import Staff
from api.turns import history
from tools import tickets
from tools.errors import InvalidArgumentError, TicketNotFoundError, TicketStateError
from tools.models import TicketKind, TicketStatus
from tools.store import Store

router = APIRouter(prefix="/v1/agent", tags=["human agents"])

TicketId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The ticket's number.")]


class Me(BaseModel):
    staff_id: str = Field(description="Derived from the API key; what claims record.")
    role: str


class TicketList(BaseModel):
    tickets: list[dict[str, Any]]


class TicketDetail(BaseModel):
    ticket: dict[str, Any]
    handoff: dict[str, Any] | None = Field(
        description="What the bot handed over: summary, transcript, verified identity, orders, "
        "classification, reasons (null when the conversation was not handed off on this ticket)."
    )
    conversation: dict[str, Any] | None = Field(
        description="The conversation as the customer sees it now (null without one)."
    )
    approval: dict[str, Any] | None = Field(
        description="The risky write the conversation is paused on, if any."
    )


class HumanReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="What the customer will read.")
    name: str = Field(
        default="support",
        min_length=1,
        max_length=40,
        pattern=r"^[\w .'-]+$",
        description="The name the customer sees the reply signed with.",
    )


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000, description="Kept in the audit log.")


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: str = Field(min_length=1, max_length=80, description="As GET /v1/agent/me shows it.")


class Decision(BaseModel):
    """A human's decision on a paused risky write."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject", "edit"]
    reason: str | None = Field(
        default=None, max_length=500, description="Told to the customer on reject."
    )
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="edit only: arguments of the write to change (the customer confirms again).",
    )


class ActionResult(BaseModel):
    ticket: dict[str, Any]
    handed_off: bool = Field(description="Whether a human still has the conversation.")
    reply: str | None = Field(
        default=None, description="What the customer was told (approval decisions)."
    )


def _store(runtime: Runtime) -> Store:
    store = runtime.agent.context.store
    if store is None:
        raise Conflict("This service has no ticket store.", code="no_store")
    return store


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """The ticket rules' refusals as HTTP errors."""
    try:
        yield
    except TicketNotFoundError as exc:
        raise NotFound(exc.message, code="unknown_ticket") from exc
    except TicketStateError as exc:
        raise Conflict(exc.message, code="ticket_unavailable") from exc
    except InvalidArgumentError as exc:
        raise Unprocessable(exc.message) from exc


@contextlib.contextmanager
def _conversation(runtime: Runtime, ticket_id: int) -> Iterator[tuple[dict[str, Any], str]]:
    """The ticket and its conversation, held against the customer's turns while a human changes
    it."""
    with _store_errors():
        ticket = tickets.get_ticket(_store(runtime), ticket_id)
    conversation_id = ticket["conversation_id"]
    if conversation_id is None:
        raise Conflict(f"Ticket {ticket_id} has no conversation.", code="no_conversation")
    if not runtime.busy.acquire(conversation_id):
        raise Conflict(
            "The customer's message is being answered; try again in a moment.",
            code="turn_in_progress",
        )
    try:
        yield ticket, conversation_id
    except HandoffError as exc:
        raise Conflict(f"Cannot do that now: {exc}.", code="not_handed_off") from exc
    finally:
        runtime.busy.release(conversation_id)


def _handed_off_on(runtime: Runtime, conversation_id: str, ticket_id: int) -> bool:
    """Whether a human has the conversation because of this ticket (not an older or newer one)."""
    try:
        state = current_state(runtime.agent.graph, conversation_id)
    except HandoffError:
        return False
    escalation = state.escalation
    return (
        state.mode == "handed_off"
        and escalation is not None
        and escalation["ticket_id"] == ticket_id
    )


def _take(runtime: Runtime, ticket_id: int, staff: Staff) -> dict[str, Any]:
    with _store_errors():
        return tickets.take(_store(runtime), ticket_id, staff.id, admin=staff.is_admin)


@router.get("/me", response_model=Me)
def me(staff: CurrentStaff) -> Me:
    """Who the API key says the caller is."""
    return Me(staff_id=staff.id, role=staff.role.value)


@router.get("/tickets", response_model=TicketList)
def list_tickets(
    runtime: RuntimeDep,
    staff: CurrentStaff,
    status: TicketStatus | None = None,
    kind: TicketKind | None = None,
    claimed_by: Annotated[
        str | None, Query(max_length=80, description="A staff id, or 'me'.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TicketList:
    """The queue, most severe first. An agent sees the open tickets and their own; an admin sees
    everyone's."""
    if claimed_by == "me":
        claimed_by = staff.id
    if claimed_by is not None and claimed_by != staff.id and not staff.is_admin:
        raise Forbidden("Only an administrator may list other agents' tickets.", code="admin_only")
    found = tickets.list_tickets(
        _store(runtime),
        status=status,
        kind=kind,
        claimed_by=claimed_by,
        visible_to=None if staff.is_admin else staff.id,
        limit=limit,
    )
    return TicketList(tickets=found)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def show_ticket(runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId) -> TicketDetail:
    """A ticket with what a human needs to take over: the handoff package, the conversation so far
    and the write it is paused on, if any."""
    with _store_errors():
        ticket = tickets.get_ticket(_store(runtime), ticket_id)
    conversation_id = ticket["conversation_id"]
    if conversation_id is None:
        return TicketDetail(ticket=ticket, handoff=None, conversation=None, approval=None)
    graph = runtime.agent.graph
    package = None
    escalation: dict[str, Any] = {}
    # The conversation may not have been checkpointed yet (a ticket opened outside a chat turn).
    with contextlib.suppress(HandoffError):
        escalation = dict(current_state(graph, conversation_id).escalation or {})
    if escalation and escalation.get("ticket_id") == ticket_id:
        package = dict(escalation["handoff"])
    return TicketDetail(
        ticket=ticket,
        handoff=package,
        conversation=history(runtime.agent, conversation_id),
        approval=pending_approval(graph, conversation_id),
    )


@router.post("/tickets/{ticket_id}/claim", response_model=ActionResult)
def claim_ticket(runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId) -> ActionResult:
    """Take the ticket; 409 if someone else has it."""
    with _store_errors():
        ticket = tickets.claim(_store(runtime), ticket_id, staff.id)
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/release", response_model=ActionResult)
def release_ticket(runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId) -> ActionResult:
    """Put a claimed ticket back in the queue (its holder, or an admin)."""
    with _store_errors():
        ticket = tickets.release(_store(runtime), ticket_id, staff.id, admin=staff.is_admin)
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/assign", response_model=ActionResult)
def assign_ticket(
    runtime: RuntimeDep, admin: CurrentAdmin, ticket_id: TicketId, body: Assignment
) -> ActionResult:
    """Admin only: give the ticket to a staff member, whoever holds it now."""
    with _store_errors():
        ticket = tickets.assign(_store(runtime), ticket_id, body.staff_id, by=admin.id)
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/reply", response_model=ActionResult)
def reply(
    runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId, body: HumanReply
) -> ActionResult:
    """Write to the customer; the reply shows in their conversation's history. The conversation
    must be handed off on this ticket (409 otherwise)."""
    text = clean_message(runtime, body.text)
    with _conversation(runtime, ticket_id) as (_, conversation_id):
        if not _handed_off_on(runtime, conversation_id, ticket_id):
            raise HandoffError("the conversation is not handed off on this ticket")
        ticket = _take(runtime, ticket_id, staff)
        deliver_human_reply(runtime.agent.graph, conversation_id, text, agent=body.name.strip())
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/hand-back", response_model=ActionResult)
def give_back(runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId) -> ActionResult:
    """Give the conversation back to the bot, which tells the customer. The ticket stays with its
    holder until resolved."""
    with _conversation(runtime, ticket_id) as (_, conversation_id):
        if not _handed_off_on(runtime, conversation_id, ticket_id):
            raise HandoffError("the conversation is not handed off on this ticket")
        ticket = _take(runtime, ticket_id, staff)
        hand_back(runtime.agent.graph, conversation_id)
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/resolve", response_model=ActionResult)
def resolve_ticket(
    runtime: RuntimeDep,
    staff: CurrentStaff,
    ticket_id: TicketId,
    body: Annotated[Resolution | None, Body()] = None,
) -> ActionResult:
    """Close the ticket. A conversation still handed off on it goes back to the bot, so no
    customer is left waiting on a human."""
    ticket = _take(runtime, ticket_id, staff)
    if ticket["conversation_id"] is not None:
        with _conversation(runtime, ticket_id) as (_, conversation_id):
            if _handed_off_on(runtime, conversation_id, ticket_id):
                hand_back(runtime.agent.graph, conversation_id)
    with _store_errors():
        note = body.note if body is not None else ""
        ticket = tickets.resolve(
            _store(runtime), ticket_id, staff.id, admin=staff.is_admin, note=note
        )
    return _result(runtime, ticket)


@router.post("/tickets/{ticket_id}/approval", response_model=ActionResult)
def decide(
    runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId, body: Decision
) -> ActionResult:
    """Approve, reject or edit the risky write the ticket's conversation is paused on; the agent
    carries on and the customer reads the outcome. 409 when nothing is pending."""
    with _conversation(runtime, ticket_id) as (_, conversation_id):
        paused = pending_approval(runtime.agent.graph, conversation_id)
        if paused is None:
            raise Conflict(
                f"The conversation of ticket {ticket_id} is not waiting for an approval.",
                code="nothing_pending",
            )
        # Who decided travels with the decision: the write's audit entry records the approver.
        decision: dict[str, Any] = {"action": body.action, "by": staff.id}
        if body.action == "reject" and body.reason:
            decision["reason"] = body.reason.strip()
        if body.action == "edit":
            decision["arguments"] = _edits(body, paused)
        ticket = _take(runtime, ticket_id, staff)
        result = runtime.agent.resume(conversation_id, decision)
    if ticket["kind"] == TicketKind.APPROVAL:
        with _store_errors():
            ticket = tickets.resolve(
                _store(runtime),
                ticket_id,
                staff.id,
                admin=staff.is_admin,
                note=f"{body.action}: {body.reason or ''}".strip(": "),
            )
    return _result(runtime, ticket, reply=result.reply)


def _edits(body: Decision, paused: dict[str, Any]) -> dict[str, Any]:
    """The edited arguments, which must be arguments the paused write has."""
    if not body.arguments:
        raise Unprocessable("An edit needs the arguments to change.", code="edit_without_arguments")
    unknown = sorted(set(body.arguments) - set(paused.get("arguments", {})))
    if unknown:
        raise Unprocessable(
            f"The paused write has no argument {', '.join(unknown)}.", code="unknown_argument"
        )
    return dict(body.arguments)


def _result(runtime: Runtime, ticket: dict[str, Any], reply: str | None = None) -> ActionResult:
    conversation_id = ticket["conversation_id"]
    handed_off = False
    if conversation_id is not None:
        try:
            handed_off = current_state(runtime.agent.graph, conversation_id).mode == "handed_off"
        except HandoffError:
            handed_off = False
    return ActionResult(ticket=ticket, handed_off=handed_off, reply=reply)
