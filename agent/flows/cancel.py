"""Cancelling a pending order: the order, the reason tau2's policy asks for, the confirmation."""

from __future__ import annotations

from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    ask_confirmation,
    refuse,
    request_text,
)
from agent.state import State
from agent.templates import render
from agent.understanding import cancel_reason
from tools.errors import ConfirmationRequiredError


def _cancel(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    reason = cancel_reason(request_text(state)) or slots.get("reason")
    if reason is None:
        # Ask the tools whether this order can be cancelled at all before asking why.
        probe = turn.call(
            "cancel_pending_order", {"order_id": order_id, "reason": "no longer needed"}
        )
        if not isinstance(probe.error, ConfirmationRequiredError):
            return refuse(state, turn, probe)
        return turn.update(
            draft=render("ask_cancel_reason", lang, order_id=order_id),
            slots=slots,
            awaiting="reason",
        )
    slots["reason"] = reason
    items = ", ".join(i["name"] for i in order["items"])
    summary = render("confirm_cancel", lang, order_id=order_id, items=items, reason=reason)
    args = {"order_id": order_id, "reason": reason}
    return ask_confirmation(state, turn, "cancel_pending_order", args, summary, slots)


STATUSES: Final = frozenset({"pending"})
"""The orders this flow can act on."""

FLOW: Final = Flow(
    goal="cancel_order",
    run=about_an_order(_cancel, STATUSES),
    slots=("order_id", "reason", "confirmation"),
    writes={"cancel_pending_order": "done_cancel"},
    statuses=STATUSES,
)
