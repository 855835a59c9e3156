"""The flows: one module per thing a customer can get done, each declaring its goal, the slots it
asks for, the writes it proposes (with the template that says each is done), the order statuses it
acts on, and its steps. ``REGISTRY`` is the one list the graph reads; adding a flow is a module here,
its goal in ``agent.goals.Goal`` and a line below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from agent.flows import account, address, availability, cancel, exchange, payment, returns, track
from agent.flows.base import Flow, Turn, Update
from agent.goals import Goal

REGISTRY: Final[Mapping[Goal, Flow]] = {
    flow.goal: flow
    for flow in (
        track.TRACK,
        track.REFUND_STATUS,
        cancel.FLOW,
        returns.FLOW,
        exchange.FLOW,
        address.FLOW,
        payment.FLOW,
        account.FLOW,
        availability.FLOW,
    )
}

DONE_TEMPLATES: Final[Mapping[str, str]] = {
    tool: template for flow in REGISTRY.values() for tool, template in flow.writes.items()
}
"""Each write tool with the template that tells the customer it is done."""

__all__ = ["DONE_TEMPLATES", "REGISTRY", "Flow", "Turn", "Update"]
