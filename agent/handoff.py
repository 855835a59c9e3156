"""What a human does with a conversation: read the handoff, reply into the thread, hand it back, and
approve, reject or edit a paused risky write. The API calls these."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from agent.graph import Graph
from agent.state import State
from agent.templates import render


class HandoffError(RuntimeError):
    """The conversation is not in the state the human action needs."""


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def current_state(graph: Graph, thread_id: str) -> State:
    """The conversation's state as last checkpointed."""
    values = graph.get_state(_config(thread_id)).values
    if not values:
        raise HandoffError(f"no conversation {thread_id!r}")
    return State(**values)


def handoff_package(graph: Graph, thread_id: str) -> dict[str, Any] | None:
    """The ticket's content for a human (summary, transcript, identity, orders, classification)."""
    escalation = current_state(graph, thread_id).escalation
    return dict(escalation["handoff"]) if escalation else None


def deliver_human_reply(graph: Graph, thread_id: str, text: str, agent: str = "human") -> None:
    """Put a human agent's reply into the thread; the bot stays silent while handed off."""
    if current_state(graph, thread_id).mode != "handed_off":
        raise HandoffError("the conversation is not handed off to a human")
    # As if written by the last node: the thread does not run on, it only records the reply.
    graph.update_state(
        _config(thread_id), {"messages": [AIMessage(text, name=f"human:{agent}")]}, as_node="guard"
    )


def hand_back(graph: Graph, thread_id: str) -> None:
    """Give the conversation back to the bot, which greets the customer and starts afresh."""
    state = current_state(graph, thread_id)
    if state.mode != "handed_off":
        raise HandoffError("the conversation is not handed off to a human")
    graph.update_state(
        _config(thread_id),
        {
            "mode": "bot",
            "goal": None,
            "slots": {},
            "awaiting": None,
            "pending": None,
            "failures": {},
            "clarified": False,
            "messages": [AIMessage(render("handed_back", state.language), name="concierge")],
        },
        as_node="guard",
    )


def pending_approval(graph: Graph, thread_id: str) -> dict[str, Any] | None:
    """The risky write waiting for a human's decision, if the run is paused on one."""
    return approval_in(graph.get_state(_config(thread_id)))


def approval_in(snapshot: StateSnapshot) -> dict[str, Any] | None:
    """The approval a checkpoint's run is paused on, if any."""
    for item in snapshot.interrupts:
        if isinstance(item.value, dict) and item.value.get("kind") == "approval":
            return dict(item.value)
    return None
