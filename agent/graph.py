"""The agent graph: ingest -> understand -> route -> {authenticate | clarify | retrieve | act |
escalate} -> respond -> guard. One thread per conversation; ``graph`` compiles at import for LangGraph
tooling (``langgraph.json``), ``build_graph(checkpointer)`` for an application."""

from __future__ import annotations

from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import nodes
from agent.context import Context
from agent.state import InputState, State

Graph = CompiledStateGraph[State, Context, InputState, State]


def _after_route(
    state: State,
) -> Literal["authenticate", "clarify", "retrieve", "act", "escalate", "__end__"]:
    return nodes.after_route(state)  # type: ignore[return-value]


def _after_authenticate(state: State) -> Literal["act", "escalate", "respond"]:
    return nodes.after_authenticate(state)  # type: ignore[return-value]


def _after_act(state: State) -> Literal["escalate", "respond"]:
    return nodes.after_act(state)  # type: ignore[return-value]


def build_graph(checkpointer: BaseCheckpointSaver[str] | None = None) -> Graph:
    """The compiled agent graph, checkpointing into ``checkpointer`` when given."""
    builder = StateGraph(State, context_schema=Context, input_schema=InputState)
    builder.add_node("ingest", nodes.ingest)
    builder.add_node("understand", nodes.understand)
    builder.add_node("route", nodes.route)
    builder.add_node("authenticate", nodes.authenticate)
    builder.add_node("clarify", nodes.clarify)
    builder.add_node("retrieve", nodes.retrieve)
    builder.add_node("act", nodes.act)
    builder.add_node("escalate", nodes.escalate)
    builder.add_node("respond", nodes.respond)
    builder.add_node("guard", nodes.guard)
    builder.add_edge(START, "ingest")
    builder.add_edge("ingest", "understand")
    builder.add_edge("understand", "route")
    builder.add_conditional_edges("route", _after_route)
    builder.add_conditional_edges("authenticate", _after_authenticate)
    builder.add_conditional_edges("act", _after_act)
    builder.add_edge("clarify", "respond")
    builder.add_edge("retrieve", "respond")
    builder.add_edge("escalate", "respond")
    builder.add_edge("respond", "guard")
    builder.add_edge("guard", END)
    return builder.compile(checkpointer=checkpointer, name="concierge")


graph = build_graph()
