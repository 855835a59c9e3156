"""Cancelling a pending order: the order, the reason tau2's policy asks for, the confirmation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    ask_confirmation,
    picked,
    refuse,
    request_text,
)
from agent.resolvers import named_items
from agent.state import State
from agent.templates import render
from agent.understanding import cancel_reason
from knowledge.glossary import fold
from tools.errors import ConfirmationRequiredError


def _cancel(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    said = request_text(state)
    reason = cancel_reason(said) or slots.get("reason") or picked(state, "reason")
    items = ", ".join(i["name"] for i in order["items"])
    whole = ""
    part = _part_of(said, order["items"])
    if part and not slots.get("whole_only_said"):
        # "cancel just the kettle", "can I cancel some of the items?": the tools cancel whole
        # orders only, so the customer hears that before being asked to confirm all of it.
        whole = render("cancel_whole_only", lang, order_id=order_id, items=items)
        slots["whole_only_said"] = True
    elif part and reason is not None:
        # Told once, and still naming only part of it: the confirmation says so again.
        named = ", ".join(i["name"] for i in named_items(said, order["items"]))
        whole = render("cancel_all_of_it", lang, named=named) if named else ""
    if reason is None:
        # Ask the tools whether this order can be cancelled at all before asking why.
        probe = turn.call(
            "cancel_pending_order", {"order_id": order_id, "reason": "no longer needed"}
        )
        if not isinstance(probe.error, ConfirmationRequiredError):
            return refuse(state, turn, probe)
        ask = "ask_cancel_whole_reason" if whole else "ask_cancel_reason"
        return turn.update(
            draft=whole + render(ask, lang, order_id=order_id),
            slots=slots,
            awaiting="reason",
        )
    slots["reason"] = reason
    summary = whole + render("confirm_cancel", lang, order_id=order_id, items=items, reason=reason)
    args = {"order_id": order_id, "reason": reason}
    return ask_confirmation(state, turn, "cancel_pending_order", args, summary, slots)


_SOME_OF: Final = re.compile(
    r"\b(some|part|a few|one|certain) of (the |my |this )?(items|things|products|it|them|order)\b|"
    r"\b(some|individual|specific|single|certain) (items|products)\b|\bpartial(ly)?\b|"
    r"\bnot the (whole|entire)\b|\b(algunos|parte del?|quelques|une partie)\b"
)


def _part_of(said: str, items: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the customer wants only part of the order cancelled: a few of its items named,
    or in so many words ("just some of the items")."""
    folded = fold(said)
    if _SOME_OF.search(folded):
        return True
    # "the order with the kettle" names the order, not the part of it to cancel.
    return not _ORDER_WITH.search(folded) and 0 < len(named_items(said, items)) < len(items)


_ORDER_WITH: Final = re.compile(r"\border (with|of|for|containing|that (has|had|contains))\b")


STATUSES: Final = frozenset({"pending"})
"""The orders this flow can act on."""

FLOW: Final = Flow(
    goal="cancel_order",
    run=about_an_order(_cancel, STATUSES),
    slots=("order_id", "reason", "confirmation"),
    writes={"cancel_pending_order": "done_cancel"},
    description="Cancel a pending order (not yet shipped); the shop cancels whole orders only.",
    arguments=("order_id", "reason"),
    statuses=STATUSES,
)
