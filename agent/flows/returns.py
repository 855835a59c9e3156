"""Returning delivered items: which items, where the refund goes, the confirmation."""

from __future__ import annotations

from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    ask_confirmation,
    chosen_items,
    fail,
    items_text,
    last_user_text,
    one_write_per_order,
    original_pm,
    picked,
    refund_target,
    refuse,
    request_text,
)
from agent.resolvers import named_payment_methods
from agent.state import State
from agent.templates import render


def _return(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    text = last_user_text(state)
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    if str(order["status"]).startswith("pending"):
        # Not shipped: what can be done instead is said along with the rule.
        draft = render("return_not_yet_shipped", lang, order_id=order_id)
        return fail(state, turn, draft, slots={})
    if order["status"] != "delivered":
        # Let the tool state the rule (only delivered orders are returned).
        probe = turn.call(
            "return_delivered_order_items",
            {"order_id": order_id, "item_ids": [order["items"][0]["item_id"]],
             "payment_method_id": original_pm(order) or ""},
        )  # fmt: skip
        return refuse(state, turn, probe, slots={})
    if (which := one_write_per_order(state, turn, order)) is not None:
        return which
    asked_items = state.awaiting == "items"
    chosen = chosen_items(text if asked_items else request_text(state), order["items"])
    if not asked_items and (ids := picked(state, "item_ids")):
        chosen = [i for i in order["items"] if i["item_id"] in ids] or chosen
    if chosen and (asked_items or not slots.get("item_ids")):
        slots["item_ids"] = [i["item_id"] for i in chosen]
        slots["item_names"] = [i["name"] for i in chosen]
        slots["amount"] = round(sum(float(i["price"]) for i in chosen), 2)
    if not slots.get("item_ids"):
        if len(order["items"]) == 1:
            only = order["items"][0]
            slots.update(
                item_ids=[only["item_id"]], item_names=[only["name"]], amount=float(only["price"])
            )
        else:
            ask = render("ask_items", lang, order_id=order_id, action=render("verb_return", lang),
                         items=items_text(order["items"], lang))  # fmt: skip
            return turn.update(draft=ask, slots=slots, awaiting="items")
    turn.notes.append(f"refund total {slots['amount']:.2f}")
    said = text if state.awaiting == "refund" else request_text(state)
    target = refund_target(state, turn, order, said) or slots.get("refund")
    if target is None:
        cards = [pid for pid, pm in turn.payment_methods().items() if pm["source"] == "gift_card"]
        gift = render("or_gift_card", lang, gift=turn.pm_words(cards[0])) if cards else ""
        # A method the refund cannot go to ("to my PayPal" for a card payment) is answered with
        # the rule, not silently replaced.
        named = named_payment_methods(said, turn.payment_methods(), original_pm(order))
        key = "refund_not_allowed" if named else "ask_refund_method"
        ask = render(key, lang, original=turn.pm_words(original_pm(order)), gift=gift,
                     items=", ".join(slots["item_names"]), order_id=order_id,
                     amount=f"{slots['amount']:.2f}")  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="refund")
    slots["refund"] = target
    summary = render(
        "confirm_return", lang, items=", ".join(slots["item_names"]), order_id=order_id,
        amount=f"{slots['amount']:.2f}", pm=turn.pm_words(target),
    )  # fmt: skip
    args = {"order_id": order_id, "item_ids": slots["item_ids"], "payment_method_id": target}
    return ask_confirmation(state, turn, "return_delivered_order_items", args, summary, slots)


STATUSES: Final = frozenset({"delivered"})
"""The orders this flow can act on."""

FLOW: Final = Flow(
    goal="return_item",
    run=about_an_order(_return, STATUSES),
    slots=("order_id", "items", "refund", "confirmation"),
    writes={"return_delivered_order_items": "done_return"},
    statuses=STATUSES,
    description="Return items of a delivered order for a refund.",
    arguments=("order_id", "item_ids", "payment_method_id"),
)
