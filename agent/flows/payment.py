"""Paying a pending order with another of the customer's saved payment methods."""

from __future__ import annotations

import re
from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    ask_confirmation,
    last_user_text,
    original_pm,
    picked,
    request_text,
)
from agent.resolvers import named_payment_methods
from agent.state import State
from agent.templates import render


def _change_payment(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    """Pay a pending order with another of the customer's payment methods."""
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    methods = turn.payment_methods()
    current = original_pm(order)
    text = last_user_text(state) if state.awaiting == "payment" else request_text(state)
    # "my gift card instead of the mastercard": the method after "instead of" is the one left.
    wanted = re.split(r"\b(?:instead of|rather than|not (?:on )?(?:the|my)|don'?t want it on)\b",
                      text, maxsplit=1, flags=re.IGNORECASE)[0]  # fmt: skip
    named = [p for p in named_payment_methods(wanted, methods) if p != current]
    if (
        not named
        and (chosen := picked(state, "payment_method_id")) in methods
        and chosen != current
    ):
        named = [str(chosen)]
    if len(named) != 1:
        others = [turn.pm_words(pid) for pid in methods if pid != current]
        ask = render("ask_payment_method", lang, order_id=order_id, methods=", ".join(others))
        return turn.update(draft=ask, slots=slots, awaiting="payment")
    summary = render("confirm_payment_change", lang, order_id=order_id, pm=turn.pm_words(named[0]))
    args = {"order_id": order_id, "payment_method_id": named[0]}
    return ask_confirmation(state, turn, "modify_pending_order_payment", args, summary, slots)


STATUSES: Final = frozenset({"pending"})
"""The orders this flow can act on."""

FLOW: Final = Flow(
    goal="change_payment",
    run=about_an_order(_change_payment, STATUSES),
    slots=("order_id", "payment", "confirmation"),
    writes={"modify_pending_order_payment": "done_payment"},
    description="Pay a pending order with another of the customer's payment methods.",
    arguments=("order_id", "payment_method_id"),
    statuses=STATUSES,
)
