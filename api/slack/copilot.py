"""What the copilot tells a human agent about a ticket or conversation: a summary, a suggested reply
grounded in the knowledge base (its citations kept), the passages behind it and the customer's orders.

Without an LLM the summary and the reply are built from the ticket, the conversation and the best
passage; with one, the LLM summarises the conversation and its writer rewrites the drafted reply
(kept only if it still cites every passage the draft cited).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from sqlalchemy import select

from agent import Agent, HandoffError, current_state
from knowledge.retrieval import passage_excerpt
from tools import tickets
from tools.errors import TicketNotFoundError
from tools.models import Order

PASSAGES = 3
"""Knowledge passages shown with a briefing."""

_TICKET = re.compile(r"^#?(\d{1,9})$")
_CONVERSATION = re.compile(r"\bc_[0-9a-f]{32}\b")
_TICKET_IN_TEXT = re.compile(r"(?i)\bticket\s+#?(\d{1,9})\b")


class BriefingError(LookupError):
    """No ticket or conversation answers to what the agent asked about."""


@dataclass(frozen=True)
class Target:
    """What a briefing is about: a ticket, or a conversation without one."""

    ticket_id: int | None = None
    conversation_id: str | None = None


def parse_target(text: str) -> Target | None:
    """``12``, ``#12``, ``ticket 12`` or a conversation id (``c_...``) anywhere in ``text``."""
    text = text.strip()
    if match := _TICKET.match(text):
        return Target(ticket_id=int(match.group(1)))
    if match := _CONVERSATION.search(text):
        return Target(conversation_id=match.group(0))
    if match := _TICKET_IN_TEXT.search(text):
        return Target(ticket_id=int(match.group(1)))
    return None


@dataclass
class Briefing:
    """Everything the copilot shows for one ticket or conversation."""

    title: str
    summary: str
    suggested_reply: str
    citations: list[str] = field(default_factory=list)
    """The refs (``source#anchor``) the suggested reply cites."""
    passages: list[dict[str, Any]] = field(default_factory=list)
    """``ref``, ``title``, ``excerpt`` of each relevant passage, best first."""
    orders: list[dict[str, Any]] = field(default_factory=list)
    """``order_id``, ``status``, ``items``, ``total`` of the customer's orders."""
    ticket: dict[str, Any] | None = None
    conversation_id: str | None = None
    customer_id: str | None = None


def _text(message: AnyMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.content)


def _orders(agent: Agent, customer_id: str | None) -> list[dict[str, Any]]:
    store = agent.context.store
    if store is None or customer_id is None:
        return []
    query = select(Order).where(Order.customer_id == customer_id).order_by(Order.position)
    with store.read() as s:
        return [
            {
                "order_id": o.id,
                "status": o.status,
                "items": len(o.items),
                "total": sum(item.price_cents for item in o.items) / 100,
            }
            for o in s.scalars(query)
        ]


def _draft(passages: list[dict[str, Any]], covered: bool) -> tuple[str, list[str]]:
    """The templated reply: the best passage quoted and cited, or a holding reply without one."""
    if covered and passages:
        best = passages[0]
        return (
            f'Thanks for your patience. Here is what our policy says: "{best["excerpt"]}" '
            f"[{best['ref']}]",
            [best["ref"]],
        )
    return "Thanks for your patience. I'm looking into this for you now.", []


@dataclass
class Suggestion:
    """A reply the copilot suggests, grounded in the knowledge base."""

    reply: str
    citations: list[str] = field(default_factory=list)
    """The refs (``source#anchor``) the reply cites."""
    passages: list[dict[str, Any]] = field(default_factory=list)
    """``ref``, ``title``, ``excerpt`` of each relevant passage, best first."""


def suggest(
    agent: Agent, asked: Sequence[str], *, otherwise: str = "", language: str = "en"
) -> Suggestion:
    """The reply to suggest to a customer who wrote ``asked`` (oldest first), searched for in the
    knowledge base (``otherwise`` when they wrote nothing) and, with an LLM, rewritten in
    ``language``."""
    passages: list[dict[str, Any]] = []
    covered = False
    # The last two messages: a request for a human usually follows the question that matters.
    query = " ".join(asked[-2:]) if asked else otherwise
    kb = agent.context.kb
    if kb is not None and query.strip():
        result = kb.search(query, k=PASSAGES)
        covered = result.covered
        passages = [
            {
                "ref": p.citation.ref,
                "title": p.citation.title,
                "excerpt": passage_excerpt(p.text, 300),
            }
            for p in result.passages
        ]
    reply, citations = _draft(passages, covered)
    llm = agent.context.llm
    if llm is not None:
        written = llm.write(reply, language)
        # A rewrite that dropped a citation is no longer grounded in what it quotes.
        if written and all(f"[{ref}]" in written for ref in citations):
            reply = written
    return Suggestion(reply, citations, passages)


def brief(agent: Agent, target: Target) -> Briefing:
    """The briefing for ``target``; :class:`BriefingError` when there is no such ticket or
    conversation."""
    ticket: dict[str, Any] | None = None
    conversation_id = target.conversation_id
    store = agent.context.store
    if target.ticket_id is not None:
        if store is None:
            raise BriefingError("This service has no ticket store.")
        try:
            ticket = tickets.get_ticket(store, target.ticket_id)
        except TicketNotFoundError as exc:
            raise BriefingError(exc.message) from exc
        conversation_id = ticket["conversation_id"]
    state = None
    if conversation_id is not None:
        try:
            state = current_state(agent.graph, conversation_id)
        except HandoffError:
            if ticket is None:
                raise BriefingError(f"There is no conversation {conversation_id}.") from None
    escalation: dict[str, Any] = dict(state.escalation or {}) if state is not None else {}
    if ticket is None and escalation.get("ticket_id") is not None and store is not None:
        with contextlib.suppress(TicketNotFoundError):
            ticket = tickets.get_ticket(store, int(escalation["ticket_id"]))
    messages = list(state.messages) if state is not None else []
    asked = [_text(m) for m in messages if isinstance(m, HumanMessage)]
    customer_id = (state.customer_id if state is not None else None) or (
        ticket["customer_id"] if ticket else None
    )

    package = (
        escalation.get("handoff")
        if ticket and escalation.get("ticket_id") == ticket["ticket_id"]
        else None
    )
    summary = (package or {}).get("summary") or (ticket or {}).get("summary") or ""
    llm = agent.context.llm
    if llm is not None and messages:
        summary = llm.summarise(messages) or summary
    if not summary:
        summary = f"{len(asked)} message(s) from the customer, no escalation."
    if asked:
        summary += f'\nLast from the customer: "{asked[-1][:300]}"'

    suggestion = suggest(
        agent,
        asked,
        otherwise=(ticket or {}).get("summary", ""),
        language=state.language if state is not None else "en",
    )

    title = (
        f"Ticket #{ticket['ticket_id']} ({ticket['kind']}, {ticket['status']})"
        if ticket
        else f"Conversation {conversation_id}"
    )
    return Briefing(
        title=title,
        summary=summary,
        suggested_reply=suggestion.reply,
        citations=suggestion.citations,
        passages=suggestion.passages,
        orders=_orders(agent, customer_id),
        ticket=ticket,
        conversation_id=conversation_id,
        customer_id=customer_id,
    )
