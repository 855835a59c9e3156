"""Exchanging a delivered item, or changing an item of a pending order, for another variant of the
same product: which item, which variant (named, relative or picked from a list), the price
difference, the confirmation."""

from __future__ import annotations

from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    ask_confirmation,
    chosen_items,
    difference_words,
    fail,
    items_text,
    last_user_text,
    ordinal,
    original_pm,
    refund_target,
    request_text,
)
from agent.resolvers import available_options, read_variant_wish
from agent.state import State
from agent.templates import render
from agent.wording import options_words


def _exchange(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    text = last_user_text(state)
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    items = order["items"]
    if slots.get("item_id") is None:
        chosen = chosen_items(request_text(state), items) if len(items) > 1 else items
        if len(chosen) != 1:
            ask = render("ask_items", lang, order_id=order_id, action=render("verb_exchange", lang),
                         items=items_text(items, lang))  # fmt: skip
            return turn.update(draft=ask, slots=slots, awaiting="items")
        slots["item_id"] = chosen[0]["item_id"]
    item = next((i for i in items if i["item_id"] == slots["item_id"]), None)
    if item is None:
        return fail(state, turn, render("rephrase", lang), slots={})
    product = turn.value("get_product_details", {"product_id": item["product_id"]}) or {}
    variants = list(product.get("variants", {}).values())
    option_text = text if state.awaiting == "variant" else request_text(state)
    offered = [v for v in variants if v["item_id"] in slots.get("offered", [])]
    wish = read_variant_wish(option_text, item, variants)
    if offered and state.awaiting == "variant":
        # An answer to "which of these?": read against what was offered, by its options or
        # its place in the list ("the second one").
        picked = ordinal(text, offered)
        fits = [picked] if picked else (wish.fits(offered) if wish.stated else [])
        fits = fits or (wish.fits(variants) if wish.stated else [])
    else:
        fits = wish.fits(variants) if wish.stated else []
    if not wish.stated and not fits:
        others = [v for v in variants if v["item_id"] != item["item_id"] and v.get("available")]
        example = options_words(others[0]["options"], lang) if others else ""
        ask = render("ask_variant", lang, item=item["name"],
                     options=options_words(item["options"], lang), example=example)  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="variant")
    if not fits:
        available = "; ".join(
            f"{k}: {', '.join(vs)}" for k, vs in available_options(variants).items()
        )
        draft = render("no_variant", lang, item=item["name"], available=available or "-")
        return fail(state, turn, draft, slots=slots, awaiting="variant")
    if len(fits) > 1:
        # Several fit: offered once, with their prices, for the customer to choose.
        choices = "\n".join(
            f"{n}. {options_words(v['options'], lang)} (${float(v['price']):.2f})"
            for n, v in enumerate(fits[:5], 1)
        )
        draft = render("choose_variant", lang, item=item["name"], choices=choices)
        slots["offered"] = [v["item_id"] for v in fits[:5]]
        return turn.update(draft=draft, slots=slots, awaiting="variant")
    variant = fits[0]
    target = (
        refund_target(state, turn, order, request_text(state), any_method=True)
        or original_pm(order)
        or ""
    )
    diff = round(float(variant["price"]) - float(item["price"]), 2)
    turn.notes.append(f"price difference {diff:.2f} {abs(diff):.2f}")
    difference = difference_words(turn, diff, target)
    old, new = options_words(item["options"], lang), options_words(variant["options"], lang)
    args = {
        "order_id": order_id,
        "item_ids": [item["item_id"]],
        "new_item_ids": [variant["item_id"]],
        "payment_method_id": target,
    }
    if str(order["status"]).startswith("pending"):
        # Not shipped yet: the item is changed on the order itself, not exchanged after delivery.
        changes = f"{item['name']} ({old} -> {new})"
        summary = render("confirm_modify_items", lang, order_id=order_id, changes=changes,
                         difference=difference)  # fmt: skip
        return ask_confirmation(state, turn, "modify_pending_order_items", args, summary, slots)
    summary = render("confirm_exchange", lang, item=item["name"], old=old, new=new,
                     order_id=order_id, difference=difference)  # fmt: skip
    return ask_confirmation(state, turn, "exchange_delivered_order_items", args, summary, slots)


STATUSES: Final = frozenset({"delivered"})
"""The orders this flow can act on."""

FLOW: Final = Flow(
    goal="exchange_item",
    run=about_an_order(_exchange, STATUSES),
    slots=("order_id", "items", "variant", "confirmation"),
    writes={
        "exchange_delivered_order_items": "done_exchange",
        "modify_pending_order_items": "done_modify_items",
    },
    statuses=STATUSES,
)
