"""The agent: a LangGraph state machine that understands each message, retrieves the shop's documents,
acts with the tools and answers, or hands the conversation to a human.

    agent = Agent(Context.from_settings(get_settings()), open_checkpointer().saver)
    agent.send("thread-1", "where is my order #W1234567?").reply
"""

from agent.checkpoint import Checkpointer, open_checkpointer
from agent.context import Context, LLMMode
from agent.graph import Graph, build_graph
from agent.handoff import (
    HandoffError,
    current_state,
    deliver_human_reply,
    hand_back,
    handoff_package,
    pending_approval,
)
from agent.llm import LLM, Plan, PlanError, make_llm, validate_plan
from agent.runner import Agent, TurnResult
from agent.state import InputState, State

__all__ = [
    "LLM",
    "Agent",
    "Checkpointer",
    "Context",
    "Graph",
    "HandoffError",
    "InputState",
    "LLMMode",
    "Plan",
    "PlanError",
    "State",
    "TurnResult",
    "build_graph",
    "current_state",
    "deliver_human_reply",
    "hand_back",
    "handoff_package",
    "make_llm",
    "open_checkpointer",
    "pending_approval",
    "validate_plan",
]
