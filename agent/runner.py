"""One object to talk to the agent: send a customer's message on a thread, get the reply and what the
agent made of it; resume a paused approval. Used by the terminal chat, the benchmark and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from agent.context import Context
from agent.graph import Graph, build_graph
from agent.handoff import approval_in
from agent.state import State
from agent.templates import render
from agent.understanding import understood_intent


@dataclass(frozen=True)
class TurnResult:
    """The reply to one message and what the agent saw and did."""

    reply: str
    """Empty while a human owns the conversation (or while a write waits for approval)."""
    intent: str | None = None
    confidence: float | None = None
    severity: int | None = None
    sentiment: str | None = None
    goal: str | None = None
    route: str | None = None
    tools: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    passages: list[dict[str, Any]] = field(default_factory=list)
    """The passages retrieved this turn (ref, title, text...), cited or not."""
    escalated: bool = False
    escalation_reasons: list[str] = field(default_factory=list)
    ticket_id: int | None = None
    handed_off: bool = False
    awaiting_approval: dict[str, Any] | None = None
    language: str = "en"
    grounded: bool = True
    customer_id: str | None = None


class Agent:
    """The compiled graph with its checkpointer and run context."""

    def __init__(
        self, context: Context | None = None, checkpointer: BaseCheckpointSaver[str] | None = None
    ) -> None:
        self.context = context or Context()
        self.graph: Graph = build_graph(checkpointer)

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    def _context(self, thread_id: str) -> Context:
        return self.context.for_turn(thread_id)

    def send(self, thread_id: str, text: str) -> TurnResult:
        """The agent's answer to the customer's ``text`` on conversation ``thread_id``."""
        message: Any = {"messages": [HumanMessage(text)]}
        self.graph.invoke(
            message,
            self.config(thread_id),
            context=self._context(thread_id),
        )
        return self.result(thread_id)

    def resume(self, thread_id: str, decision: dict[str, Any]) -> TurnResult:
        """Continue a run paused for approval: ``{"action": "approve" | "reject" | "edit", ...}``."""
        self.graph.invoke(
            Command(resume=decision), self.config(thread_id), context=self._context(thread_id)
        )
        return self.result(thread_id)

    def state(self, thread_id: str) -> State:
        return State(**self.graph.get_state(self.config(thread_id)).values)

    def result(self, thread_id: str) -> TurnResult:
        snapshot = self.graph.get_state(self.config(thread_id))  # one checkpoint read per turn
        state = State(**snapshot.values)
        approval = approval_in(snapshot)
        u: dict[str, Any] = dict(state.understanding or {})
        escalation = state.escalation
        silent = state.route == "silent"
        reply = state.reply
        if approval is not None:
            reply = render("awaiting_approval", state.language)
        return TurnResult(
            reply="" if silent else reply,
            intent=understood_intent(
                u["intent"],
                u["confidence"],
                u["out_of_scope"],
                u.get("goal"),
                self.context.min_confidence,
                u.get("cue"),
            )
            if u
            else None,
            confidence=u.get("confidence"),
            severity=u.get("severity_level"),
            sentiment=u.get("sentiment"),
            goal=u.get("goal"),
            route=state.route,
            tools=[c["name"] for c in state.tool_calls],
            tool_calls=[dict(c) for c in state.tool_calls],
            citations=list(state.cited) if state.reply else [],
            passages=[dict(p) for p in state.passages],
            escalated=bool(state.escalation_reasons) and state.route != "silent",
            escalation_reasons=list(state.escalation_reasons),
            ticket_id=escalation["ticket_id"] if escalation else None,
            handed_off=state.mode == "handed_off",
            awaiting_approval=approval,
            language=state.language,
            grounded=state.grounded,
            customer_id=state.customer_id,
        )
