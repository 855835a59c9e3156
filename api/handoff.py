"""The human agents' endpoints: the ticket queue, claims, replies into the customer's conversation
(with a suggested reply to start from), handing the conversation back to the bot, and decisions on a
paused risky write.

A staff API key opens them (``agent`` or ``admin``); a conversation token never does. Acting on an
open ticket claims it; a ticket someone else holds is theirs (409) unless the caller is an admin.
Staff sign in with the name their colleagues know them by, which tickets show beside the id.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agent import (
    HandoffError,
    State,
    current_state,
    deliver_human_reply,
    hand_back,
    pending_approval,
)
from api import replies
from api.conversations import clean_message
from api.deps import CurrentAdmin, CurrentStaff, Runtime, RuntimeDep
from api.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from api.security import Staff
from api.slack import suggest
from api.turns import history
from classifiers import TaxonomyError, extract_entities, load_taxonomy
from tools import tickets
from tools.errors import InvalidArgumentError, TicketNotFoundError, TicketStateError
from tools.models import TicketKind, TicketStatus
from tools.settings import Settings
from tools.store import Store


def _setting(name: str) -> str:
    """The environment variable that sets the settings field ``name``."""
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def staff_keys_configured(runtime: RuntimeDep) -> None:
    """Without any staff key no request can open these endpoints: say how to configure one,
    rather than that the key sent is wrong."""
    if not runtime.settings.api_agent_keys and not runtime.settings.api_admin_keys:
        raise Unauthorized(
            "This service has no staff API keys configured, so no one can sign in. Set "
            f"{_setting('api_agent_keys')} (human agents) or {_setting('api_admin_keys')} "
            "(administrators) to comma-separated keys, one per person, and restart the service.",
            code="no_staff_keys",
        )


router = APIRouter(
    prefix="/v1/agent",
    tags=["human agents"],
    dependencies=[Depends(staff_keys_configured)],
)

TicketId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The ticket's number.")]

LAST_MESSAGE_CHARS: Final = 300
"""How much of the customer's last message the queue shows."""

_WANTS: Final[dict[str, str]] = {
    "track_order": "Find out where an order is",
    "refund_status": "Find out where a refund is",
    "cancel_order": "Cancel an order",
    "return_item": "Return an item",
    "exchange_item": "Exchange an item",
    "change_address": "Change a delivery address",
    "change_payment": "Change how an order is paid",
    "account_info": "Check or change account details",
    "availability": "Find out whether an item is in stock",
    "policy": "A question about the shop's policies",
    "complaint": "Make a complaint",
    "human": "Talk to a person",
}
"""What a customer pursuing each of the agent's goals wants, as the queue says it."""

StaffName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[\w .'-]+$",
        description="A person's name as customers and colleagues see it.",
    ),
]


class Me(BaseModel):
    staff_id: str = Field(description="Derived from the API key; what claims record.")
    role: str
    name: str | None = Field(
        default=None, description="The name this key last signed in with (null if never)."
    )


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StaffName


class TicketView(BaseModel):
    """A ticket as the queue shows it: what it is, who the customer is and what they want."""

    ticket_id: int
    kind: TicketKind
    status: TicketStatus
    severity: int = Field(ge=1, le=5, description="1 (very low) to 5 (critical).")
    summary: str = Field(description="What the bot or the tool that opened it wrote.")
    customer_id: str | None = Field(description="The verified customer; null when not verified.")
    customer_name: str | None = Field(description="The verified customer's name.")
    vip: bool = Field(description="Whether the customer's lifetime spend makes them a VIP.")
    wants: str = Field(description="What the customer wants, in plain words.")
    last_message: str | None = Field(
        description=f"The customer's last message (its first {LAST_MESSAGE_CHARS} characters)."
    )
    order_id: str | None
    conversation_id: str | None
    created_at: str | None = Field(description="When it was opened: how long it has waited.")
    claimed_by: str | None = Field(description="The holder's staff id (what claims record).")
    claimed_by_name: str | None = Field(
        description="The name the holder signed in with (null if they never did)."
    )
    claimed_at: str | None
    resolved_at: str | None


class TicketList(BaseModel):
    tickets: list[TicketView]
    now: datetime = Field(description="The server's clock, to show times relative to it.")


class OrderView(BaseModel):
    order_id: str
    status: str
    placed_at: str | None
    items: list[str] = Field(description="The items' names.")
    total: float = Field(description="In dollars.")


class TicketDetail(BaseModel):
    ticket: TicketView
    handoff: dict[str, Any] | None = Field(
        description="What the bot handed over: summary, transcript, verified identity, orders, "
        "classification, reasons (null when the conversation was not handed off on this ticket)."
    )
    conversation: replies.History | None = Field(
        description="The conversation as the customer sees it now (null without one)."
    )
    orders: list[OrderView] = Field(
        description="Every order of the ticket's verified customer named in the conversation, on "
        "the ticket or in the handoff (an order id of anyone else's is left out)."
    )
    approval: dict[str, Any] | None = Field(
        description="The risky write the conversation is paused on, if any."
    )


class Passage(BaseModel):
    ref: str = Field(description="``source#anchor``, as the reply cites it in brackets.")
    title: str
    excerpt: str


class SuggestedReply(BaseModel):
    reply: str = Field(description="A reply to edit and send; it cites its sources as [ref].")
    citations: list[str] = Field(description="The refs the reply cites.")
    passages: list[Passage] = Field(description="The knowledge behind it, best first.")


class HumanReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="What the customer will read.")
    name: StaffName = Field(
        default="support", description="The name the customer sees the reply signed with."
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
    ticket: TicketView
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


def _state(runtime: Runtime, conversation_id: str | None) -> State | None:
    """The conversation as last checkpointed; None without one (or before its first turn)."""
    if conversation_id is None:
        return None
    try:
        return current_state(runtime.agent.graph, conversation_id)
    except HandoffError:
        return None


def _asked(state: State | None) -> list[str]:
    """What the customer wrote, oldest first."""
    if state is None:
        return []
    return [
        m.text
        for m in replies.history("", state.messages, handed_off=False).messages
        if m.role == "customer"
    ]


@functools.cache
def _intent_phrases() -> dict[str, str]:
    """The shipped taxonomy's intents in plain words: their descriptions, less any remark in
    parentheses."""
    try:
        taxonomy = load_taxonomy()
    except TaxonomyError:
        return {}
    return {
        intent: re.sub(r"\s*\([^)]*\)\s*\.?$", "", text).rstrip(".")
        for intent, text in taxonomy.descriptions.items()
        if text and intent != taxonomy.out_of_scope
    }


def _wants(ticket: dict[str, Any], state: State | None) -> str:
    """What the customer wants, in plain words: the goal the bot was pursuing, else what the last
    message was classified as, else what the ticket says."""
    understanding = dict(state.understanding or {}) if state is not None else {}
    goal = (state.goal if state is not None else None) or understanding.get("goal")
    if goal in _WANTS:
        return _WANTS[goal]
    phrase = _intent_phrases().get(str(understanding.get("intent", "")))
    if phrase:
        return phrase
    # The bot's handoff summary is written for the log; the other kinds say what is needed.
    if ticket["kind"] != TicketKind.HANDOFF and ticket["summary"]:
        return str(ticket["summary"])
    return "Not said yet"


def _views(runtime: Runtime, found: Sequence[dict[str, Any]]) -> list[TicketView]:
    """The tickets with who their customers are, what they want and who holds them."""
    store = _store(runtime)
    people = tickets.customers(store, {t["customer_id"] for t in found if t["customer_id"]})
    holders = tickets.staff_names(store, {t["claimed_by"] for t in found if t["claimed_by"]})
    vip_spend = runtime.agent.context.vip_spend
    views = []
    for ticket in found:
        state = _state(runtime, ticket["conversation_id"])
        asked = _asked(state)
        customer = people.get(ticket["customer_id"] or "")
        views.append(
            TicketView(
                **ticket,
                customer_name=customer["name"] if customer else None,
                vip=customer is not None and customer["lifetime_spend"] >= vip_spend,
                wants=_wants(ticket, state),
                last_message=asked[-1][:LAST_MESSAGE_CHARS] if asked else None,
                claimed_by_name=holders.get(ticket["claimed_by"] or ""),
            )
        )
    return views


def _mentioned_orders(
    runtime: Runtime, ticket: dict[str, Any], state: State | None, package: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The orders the customer wrote of (in the order they first did), then any the ticket or the
    handoff names, of the ticket's verified customer only: whose an order is comes from the store,
    never from the text that names it."""
    customer_id = ticket["customer_id"]
    if customer_id is None:
        return []
    package = package or {}
    written = [
        *(
            str(m.get("text", ""))
            for m in package.get("transcript", [])
            if m.get("role") == "customer"
        ),
        *_asked(state),
    ]
    named = [e.value for text in written for e in extract_entities(text) if e.type == "order_id"]
    named += [ticket["order_id"], *(o.get("order_id") for o in package.get("orders", []))]
    return tickets.customer_orders(_store(runtime), customer_id, [str(i) for i in named if i])


@router.get("/me", response_model=Me)
def me(runtime: RuntimeDep, staff: CurrentStaff) -> Me:
    """Who the API key says the caller is, and the name they signed in with."""
    store = runtime.agent.context.store
    name = tickets.staff_names(store, [staff.id]).get(staff.id) if store is not None else None
    return Me(staff_id=staff.id, role=staff.role.value, name=name)


@router.post("/sign-in", response_model=Me)
def sign_in(runtime: RuntimeDep, staff: CurrentStaff, body: SignIn) -> Me:
    """Sign in with the name colleagues know you by: tickets you hold show it, never the key or
    the id derived from it."""
    with _store_errors():
        name = tickets.sign_in(_store(runtime), staff.id, body.name)
    return Me(staff_id=staff.id, role=staff.role.value, name=name)


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
    return TicketList(tickets=_views(runtime, found), now=datetime.now(UTC))


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def show_ticket(runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId) -> TicketDetail:
    """A ticket with what a human needs to take over: the handoff package, the conversation so far,
    the customer's orders it names and the write it is paused on, if any."""
    with _store_errors():
        ticket = tickets.get_ticket(_store(runtime), ticket_id)
    [view] = _views(runtime, [ticket])
    conversation_id = ticket["conversation_id"]
    state = _state(runtime, conversation_id)
    package = None
    escalation: dict[str, Any] = dict(state.escalation or {}) if state is not None else {}
    if escalation and escalation.get("ticket_id") == ticket_id:
        package = dict(escalation["handoff"])
    orders = [OrderView(**o) for o in _mentioned_orders(runtime, ticket, state, package)]
    if conversation_id is None:
        return TicketDetail(
            ticket=view, handoff=None, conversation=None, orders=orders, approval=None
        )
    graph = runtime.agent.graph
    return TicketDetail(
        ticket=view,
        handoff=package,
        conversation=replies.History.model_validate(history(runtime.agent, conversation_id)),
        orders=orders,
        approval=pending_approval(graph, conversation_id),
    )


@router.get("/tickets/{ticket_id}/suggestion", response_model=SuggestedReply)
def suggested_reply(
    runtime: RuntimeDep, staff: CurrentStaff, ticket_id: TicketId
) -> SuggestedReply:
    """A reply to start from, the copilot's (as Slack shows it): grounded in the knowledge base,
    citing its sources. Edit it and send it with ``POST .../reply``."""
    with _store_errors():
        ticket = tickets.get_ticket(_store(runtime), ticket_id)
    state = _state(runtime, ticket["conversation_id"])
    suggestion = suggest(
        runtime.agent,
        _asked(state),
        otherwise=ticket["summary"],
        language=state.language if state is not None else "en",
    )
    return SuggestedReply(
        reply=suggestion.reply,
        citations=suggestion.citations,
        passages=[Passage(**p) for p in suggestion.passages],
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
    [view] = _views(runtime, [ticket])
    return ActionResult(ticket=view, handed_off=handed_off, reply=reply)
