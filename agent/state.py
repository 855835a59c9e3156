"""The graph's state: a narrow input (the conversation's messages) and the full state the nodes share.

Every field holds plain JSON-like values (dicts, lists, strings, numbers), so a checkpoint written by one
process reads back in another, on SQLite or PostgreSQL, without custom serialisers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages

from agent.goals import Goal, Slot

Mode = Literal["bot", "handed_off"]
Route = Literal["authenticate", "clarify", "retrieve", "act", "escalate", "silent"]


class Understanding(TypedDict):
    """What the classifier and the entity rules made of the latest message."""

    intent: str
    """The classifier's intent (the taxonomy's out-of-scope intent when it is not confident)."""
    confidence: float
    out_of_scope: bool
    severity: float
    severity_level: int
    sentiment: str
    sentiment_score: float
    entities: list[dict[str, Any]]
    escalate: NotRequired[bool | None]
    """The classifier's escalation head: should a person take over? ``None`` (or absent, in turns
    recorded before it) where it did not read the message; the thresholds decide then."""
    cue: Goal | None
    """A goal named outright by the customer's words ("cancel", "return", "a human"), if any."""
    goal: Goal | None
    """The goal this message is taken to pursue (cue first, then a confident classifier intent)."""


class ToolCall(TypedDict):
    """One tool call made this turn, as recorded for the reply, the grounding check and the ticket."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: str
    """The tool's answer as the model would read it: JSON, or a short error message."""


class PassageRef(TypedDict):
    ref: str
    title: str
    text: str
    score: float


class Pending(TypedDict):
    """A write the customer is asked to confirm (and, when risky, a human to approve)."""

    tool: str
    arguments: dict[str, Any]
    confirmation_id: str
    """Kept in state so a retry after a restart replays the write instead of doing it twice."""
    summary: str
    amount: float
    """Money the write moves, in dollars, as the tool computed it from the store's prices."""
    needs_approval: NotRequired[bool]
    """The tool's answer: the write is over the shop's approval amount."""
    approved: bool
    approved_by: NotRequired[str]
    """Who approved an edited write before the customer confirmed it again."""


class Escalation(TypedDict):
    reasons: list[str]
    ticket_id: int | None
    summary: str
    handoff: dict[str, Any]
    """The package a human agent receives: summary, transcript, identity, orders, classification."""


@dataclass
class InputState:
    """What a caller sends in: new messages (appended to the thread by ``add_messages``)."""

    messages: Annotated[Sequence[AnyMessage], add_messages] = field(default_factory=list)


@dataclass
class State(InputState):
    """The whole conversation as the nodes see it; checkpointed after every node."""

    mode: Mode = "bot"
    """``handed_off``: a human owns the conversation and the bot stays silent until handed back."""
    language: str = "en"
    """The customer's language (en, es, fr); replies are written in it."""
    customer_id: str | None = None
    """The verified customer: set only by a successful identity tool call or by the channel."""
    identity: dict[str, str] = field(default_factory=dict)
    """What the customer has said so far about who they are (a name, a zip), before it verifies."""
    understanding: Understanding | None = None
    route: Route | None = None
    goal: Goal | None = None
    """The flow being pursued across turns (cancel_order, return_item, ...)."""
    slots: dict[str, Any] = field(default_factory=dict)
    """What the customer has told us for the current goal (order id, reason, items...)."""
    awaiting: Slot | None = None
    """The slot the last reply asked for."""
    pending: Pending | None = None
    clarified: bool = False
    """A clarification was asked since the last understood message."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failed attempts per goal; two escalate."""
    escalation: Escalation | None = None
    escalation_reasons: list[str] = field(default_factory=list)
    """Why this turn escalates (set by the router, read by the escalate node)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """This turn's tool calls."""
    passages: list[PassageRef] = field(default_factory=list)
    """This turn's retrieved passages."""
    cited: list[str] = field(default_factory=list)
    """The refs of the passages this turn's reply quotes: shown beside the reply as citations,
    never written inside its text."""
    notes: list[str] = field(default_factory=list)
    """Facts derived this turn from tool results (totals), evidence for the grounding check."""
    draft: str = ""
    """The templated reply: always grounded, the fallback for anything an LLM writes."""
    llm_draft: str = ""
    """What an LLM wrote this turn, if anything; checked against the evidence before it is sent."""
    reply: str = ""
    """This turn's reply as sent, after the grounding check."""
    grounded: bool = True
    ungrounded_replies: int = 0
    """How often a drafted reply was replaced because it claimed something unsupported."""
    llm_used: bool = False
    llm_failures: int = 0
    summary: str = ""
    """What older, trimmed messages said (history is capped)."""
    turn: int = 0
    lifetime_spend: float | None = None
    last_reply: str = ""
    """The last reply before any rephrasing: a question asked again word for word is rephrased
    once, and a customer who still does not answer it is handed to a person."""
    done: list[str] = field(default_factory=list)
    """The writes this conversation completed (``tool:order``), so a request repeated after it
    is done is answered as done, not refused as a failure."""
    queue: list[dict[str, Any]] = field(default_factory=list)
    """Requests the customer made together with the current one ("cancel the sunglasses and return
    the coffee maker"), each ``{"goal", "said", "order_id"?}``, taken up in turn as each ends."""
    repeats: int = 0
    """How many replies in a row were the same as the one before."""
