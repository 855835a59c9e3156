"""What a customer is shown of the agent's work: the reply, the steps it took in plain words, the
passages it cites, and the conversation so far.

These models are an allow-list. The agent's own record of a turn (:class:`agent.TurnResult`: the
classification, the route, tool calls with their arguments and results, escalation reasons, the verified
customer's id) and the handoff package stay with the staff (``/v1/agent``, the console, Slack) and the
process's metrics; a field reaches a customer only by being declared here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from pydantic import BaseModel, Field

from agent import TurnResult
from classifiers import mask_cards
from knowledge import SUPPORTED_SUFFIXES

HandoffState = Literal["handed_off", "awaiting_approval", "escalated"]


class Step(BaseModel):
    """One thing the agent did for the customer, in words (never the tool, its arguments or result)."""

    label: str = Field(description="What the agent is doing, e.g. 'Looking up your order'.")


class Citation(BaseModel):
    """A knowledge-base section the reply draws on, as a link the customer can open."""

    title: str = Field(description="The document's title.")
    section: str = Field(
        description="The section's heading in words; empty for the whole document."
    )
    source: str = Field(
        description="The document's id: the widget's data-help-url puts it in place of {source}."
    )
    anchor: str = Field(description="The section's anchor on that page (after '#'); may be empty.")


class Handoff(BaseModel):
    """That people are involved: a person has the conversation, must approve a request, or was told."""

    state: HandoffState
    ticket_id: int | None = Field(description="The request's reference number, if one was opened.")


class Reply(BaseModel):
    """The agent's answer to one message, as the customer may see it."""

    conversation_id: str
    reply: str = Field(description="Empty while a person has the conversation.")
    language: str = Field(description="The language the customer wrote in (en, es or fr).")
    steps: list[Step] = Field(description="What the agent did this turn, in words.")
    citations: list[Citation]
    authenticated: bool = Field(description="Whether the customer's identity is verified.")
    escalated: bool = Field(description="The support team was told and may follow up.")
    handed_off: bool = Field(description="A person has the conversation and will answer here.")
    awaiting_approval: bool = Field(description="A person must approve the request first.")
    ticket_id: int | None = Field(description="The request's reference number, if one was opened.")


class HistoryMessage(BaseModel):
    id: str | None
    role: Literal["customer", "concierge", "agent"] = Field(
        description="The customer, concierge (the bot) or agent (a person)."
    )
    text: str
    agent: str | None = Field(default=None, description="The person's name, on their messages.")


class History(BaseModel):
    conversation_id: str
    handed_off: bool
    messages: list[HistoryMessage] = Field(description="Oldest first.")


# --------------------------------------------------------------------------------------------------
# Steps: each tool the agent may call, as the customer reads it in each of the agent's languages

_LABELS: Final[dict[str, dict[str, str]]] = {
    "identity": {
        "en": "Verifying your identity",
        "es": "Verificando su identidad",
        "fr": "Vérification de votre identité",
    },
    "account": {
        "en": "Looking at your account",
        "es": "Consultando su cuenta",
        "fr": "Consultation de votre compte",
    },
    "address": {
        "en": "Updating your address",
        "es": "Actualizando su dirección",
        "fr": "Mise à jour de votre adresse",
    },
    "order": {
        "en": "Looking up your order",
        "es": "Buscando su pedido",
        "fr": "Recherche de votre commande",
    },
    "refund": {
        "en": "Checking your refund",
        "es": "Consultando su reembolso",
        "fr": "Vérification de votre remboursement",
    },
    "cancel": {
        "en": "Cancelling your order",
        "es": "Cancelando su pedido",
        "fr": "Annulation de votre commande",
    },
    "modify": {
        "en": "Updating your order",
        "es": "Actualizando su pedido",
        "fr": "Mise à jour de votre commande",
    },
    "return": {
        "en": "Preparing your return",
        "es": "Preparando su devolución",
        "fr": "Préparation de votre retour",
    },
    "exchange": {
        "en": "Preparing your exchange",
        "es": "Preparando su cambio",
        "fr": "Préparation de votre échange",
    },
    "catalog": {
        "en": "Checking our products",
        "es": "Consultando nuestros productos",
        "fr": "Consultation de nos produits",
    },
    "transfer": {
        "en": "Passing your conversation to our team",
        "es": "Pasando su conversación a nuestro equipo",
        "fr": "Transmission de votre conversation à notre équipe",
    },
    "ticket": {
        "en": "Letting our support team know",
        "es": "Informando a nuestro equipo de soporte",
        "fr": "Information de notre équipe d'assistance",
    },
    "request": {
        "en": "Checking your request",
        "es": "Consultando su solicitud",
        "fr": "Consultation de votre demande",
    },
    "calculate": {
        "en": "Working out the amounts",
        "es": "Calculando los importes",
        "fr": "Calcul des montants",
    },
    "other": {
        "en": "Working on your request",
        "es": "Trabajando en su solicitud",
        "fr": "Traitement de votre demande",
    },
}
_TOOL_LABELS: Final[dict[str, str]] = {
    "find_user_id_by_email": "identity",
    "find_user_id_by_name_zip": "identity",
    "find_user_id_by_user_id_zip": "identity",
    "get_user_details": "account",
    "modify_user_address": "address",
    "get_order_details": "order",
    "track_order": "order",
    "get_refund_status": "refund",
    "cancel_pending_order": "cancel",
    "modify_pending_order_address": "modify",
    "modify_pending_order_items": "modify",
    "modify_pending_order_payment": "modify",
    "return_delivered_order_items": "return",
    "exchange_delivered_order_items": "exchange",
    "get_product_details": "catalog",
    "get_item_details": "catalog",
    "list_all_product_types": "catalog",
    "search_products": "catalog",
    "check_availability": "catalog",
    "transfer_to_human_agents": "transfer",
    "create_ticket": "ticket",
    "get_ticket": "request",
    "calculate": "calculate",
}


def step(call: Mapping[str, Any], language: str = "en") -> Step:
    """The customer's line for one of the agent's tool calls (a tool not listed reads as 'Working on
    your request')."""
    labels = _LABELS[_TOOL_LABELS.get(str(call.get("name")), "other")]
    return Step(label=labels.get(language, labels["en"]))


# --------------------------------------------------------------------------------------------------
# Citations

# A bracketed word with no spaces in it, and the spaces before it on the line.
_BRACKETED = re.compile(r"[ \t]*\[(\w[\w./#-]*)\]")
# A catalog passage's source: its scope and the product's id ("catalog/8310926033").
_SCOPED_ID = re.compile(r"[a-z]+/[\w-]*\d[\w-]*")


def strip_citation_markers(text: str) -> str:
    """``text`` without the agent's citation markers: a bracketed ``source#section``, document
    (``[demo/returns-and-refunds.md]``) or catalog entry (``[catalog/8310926033]``). The customer
    gets the citations as links instead; other brackets (``[yes/no]``) stay."""

    def drop(match: re.Match[str]) -> str:
        source, _, anchor = match.group(1).partition("#")
        is_marker = (
            bool(anchor)
            or source.lower().endswith(tuple(SUPPORTED_SUFFIXES))
            or _SCOPED_ID.fullmatch(source) is not None
        )
        return "" if is_marker else match.group(0)

    return _BRACKETED.sub(drop, text)


def citations(refs: Iterable[str], passages: Iterable[Mapping[str, Any]]) -> list[Citation]:
    """The cited ``source#anchor`` refs as links, each once, titled from this turn's passages."""
    titles = {str(p["ref"]): str(p.get("title") or "") for p in passages}
    shown: list[Citation] = []
    seen: set[str] = set()
    for ref in refs:
        if ref in seen:
            continue
        seen.add(ref)
        source, _, anchor = ref.partition("#")
        title = titles.get(ref) or source.rsplit("/", 1)[-1]
        section = anchor.replace("-", " ").strip().capitalize()
        if section.lower() == title.lower():
            section = ""  # the document's own first heading: the title says it already
        shown.append(Citation(title=title, section=section, source=source, anchor=anchor))
    return shown


# --------------------------------------------------------------------------------------------------
# Replies and history


def handoff_state(result: TurnResult) -> HandoffState | None:
    if result.awaiting_approval is not None:
        return "awaiting_approval"
    if result.handed_off:
        return "handed_off"
    if result.escalated:
        return "escalated"
    return None


def reply(conversation_id: str, result: TurnResult) -> Reply:
    """The customer's view of the agent's answer to one message."""
    return Reply(
        conversation_id=conversation_id,
        reply=strip_citation_markers(result.reply),
        language=result.language,
        steps=[step(c, result.language) for c in result.tool_calls],
        citations=citations(result.citations, result.passages),
        authenticated=result.customer_id is not None,
        escalated=result.escalated,
        handed_off=result.handed_off,
        awaiting_approval=result.awaiting_approval is not None,
        ticket_id=result.ticket_id,
    )


def _text(message: AnyMessage) -> str:
    """The message's words only: a structured content's tool-use and other parts are left out."""
    if isinstance(message.content, str):
        return message.content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in message.content
        if isinstance(part, str) or part.get("type") == "text"
    )


def history(conversation_id: str, messages: Iterable[AnyMessage], *, handed_off: bool) -> History:
    """The conversation as the customer sees it: their messages, the bot's and the people's. Staff
    read it too, so a card number (in a conversation kept from before cards were masked on the way
    in) shows only its last four digits."""
    items: list[HistoryMessage] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            items.append(HistoryMessage(id=m.id, role="customer", text=mask_cards(_text(m))))
        elif isinstance(m, AIMessage):
            name = m.name or "concierge"
            text = strip_citation_markers(_text(m))
            if name.startswith("human:"):
                person = name.removeprefix("human:")
                items.append(HistoryMessage(id=m.id, role="agent", text=text, agent=person))
            else:
                items.append(HistoryMessage(id=m.id, role="concierge", text=text))
    return History(conversation_id=conversation_id, handed_off=handed_off, messages=items)
