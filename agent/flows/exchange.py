"""Exchanging a delivered item, or changing an item of a pending order, for another variant of the
same product: which item, which variant (named, relative or picked from a list), the price
difference, the confirmation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
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
    finish,
    items_text,
    last_user_text,
    one_write_per_order,
    ordinal,
    original_pm,
    picked,
    queued_request,
    refund_target,
    refuse,
    request_text,
)
from agent.resolvers import available_options, named_items, read_variant_wish
from agent.state import State
from agent.templates import render
from agent.wording import money, names_list, options_words
from tools.errors import ConfirmationRequiredError


def _exchange(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    text = last_user_text(state)
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    items = order["items"]
    if order["status"] != "delivered" and not str(order["status"]).startswith("pending"):
        # Shipped but not delivered, or cancelled: let the tool state the rule before any
        # question about items or options.
        first = items[0]
        probe = turn.call(
            "exchange_delivered_order_items",
            {"order_id": order_id, "item_ids": [first["item_id"]],
             "new_item_ids": [first["item_id"]], "payment_method_id": original_pm(order) or ""},
        )  # fmt: skip
        return refuse(state, turn, probe, slots={})
    if slots.get("item_id") is None and (which := one_write_per_order(state, turn, order)):
        return which
    if slots.get("item_id") is None:
        # "I don't need the hiking boots" in an exchange leaves them out (in a return it would
        # name them, so this reading stays here).
        wanted = _NOT_THIS.sub(" ", request_text(state))
        chosen = chosen_items(wanted, items) if len(items) > 1 else items
        if ids := picked(state, "item_ids"):
            chosen = [i for i in items if i["item_id"] in ids] or chosen
        if not chosen:
            ask = render("ask_items", lang, order_id=order_id, action=render("verb_exchange", lang),
                         items=items_text(items, lang))  # fmt: skip
            return turn.update(draft=ask, slots=slots, awaiting="items")
        # Several items of one order ("the desk lamp and the water bottle") are one exchange:
        # the variant of each is settled in turn, then the whole is confirmed as one call.
        slots["item_id"] = chosen[0]["item_id"]
        slots["more_items"] = [i["item_id"] for i in chosen[1:]]
        slots["swaps"] = {}
    if state.awaiting == "payment" and slots.get("swaps"):
        # An answer to "which payment method for the difference?": every variant is settled.
        return _confirm(state, turn, order, slots)
    item = next((i for i in items if i["item_id"] == slots["item_id"]), None)
    if item is None:
        return fail(state, turn, render("rephrase", lang), slots={})
    product = turn.value("get_product_details", {"product_id": item["product_id"]}) or {}
    variants = list(product.get("variants", {}).values())
    several = bool(slots.get("more_items") or slots.get("swaps"))
    said = request_text(state)
    option_text = (
        text
        if state.awaiting == "variant"
        else (_words_about(said, item, items) if several else said)
    )
    # In the order they were listed: "the first one" is the first the customer read.
    offered = [v for oid in slots.get("offered", []) for v in variants if v["item_id"] == oid]
    wish = read_variant_wish(option_text, item, variants)
    if offered and state.awaiting == "variant":
        # An answer to "which of these?": read against what was offered, by its options or
        # its place in the list ("the second one").
        pick = ordinal(text, offered)
        fits = [pick] if pick else (wish.fits(offered) if wish.stated else [])
        fits = fits or (wish.fits(variants) if wish.stated else [])
    else:
        fits = wish.fits(variants) if wish.stated else []
    chosen_variant = [v for v in variants if v["item_id"] in (picked(state, "new_item_ids") or ())]
    if chosen_variant and not (state.awaiting == "variant" and fits):
        # The variant the LLM chose for this item among the product's own (an answer to "which
        # of these?" still wins).
        fits = chosen_variant[:1]
    available = "; ".join(f"{k}: {', '.join(vs)}" for k, vs in available_options(variants).items())
    if not wish.stated and not fits:
        others = [v for v in variants if v["item_id"] != item["item_id"] and v.get("available")]
        example = options_words(others[0]["options"], lang) if others else ""
        # What the product comes in is listed, not one example (a customer, the simulated one
        # above all, takes an example for a suggestion); asked once and not answered, the second
        # question adds one, so it is a different, easier one and not the same words again.
        key = "variant_options" if state.awaiting == "variant" and available else "ask_variant"
        ask = render(key, lang, item=item["name"], options=options_words(item["options"], lang),
                     example=example, available=available)  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="variant")
    if not fits and (otherwise := slots.get("otherwise")):
        # "swap it if it's no more than $20 extra, otherwise return it": no variant fits the
        # condition, so the customer's other request is the one they want, started now.
        turn.queued.append(queued_request(otherwise["goal"], otherwise["said"], order_id))
        draft = render("no_variant_otherwise", lang, item=item["name"], available=available or "-")
        return finish(turn, draft, order_id)
    if not fits:
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
    swaps = {**dict(slots.get("swaps") or {}), str(item["item_id"]): str(variant["item_id"])}
    if slots.get("more_items"):
        # The next item's variant, asked for or read from what the customer said of it.
        following, *rest = slots["more_items"]
        nxt = {**slots, "item_id": following, "more_items": rest, "swaps": swaps, "offered": []}
        return _exchange(replace(state, slots=nxt, awaiting=None), turn, order)
    return _confirm(state, turn, order, {**slots, "swaps": swaps})


_NOT_THIS: Final = re.compile(
    r"\b(?:i )?(?:don'?t|do not) (?:need|want)(?: to (?:exchange|change|swap))? the [^.,;!?]*",
    re.IGNORECASE,
)


def _words_about(text: str, item: Mapping[str, Any], items: list[Mapping[str, Any]]) -> str:
    """The parts of ``text`` that name ``item`` ("a bigger bottle" in "a dimmer lamp and a bigger
    bottle"), read as the item names are read everywhere (``named_items``), with the parts after
    each that name no item of the order ("return my luggage set and get the same one in red":
    "in red" is about the luggage set); empty when none names it."""
    parts = re.split(r",|;|\band\b|\bthen\b", text, flags=re.IGNORECASE)
    kept, about = [], False
    for part in parts:
        named = named_items(part, items)
        if named:
            about = any(i["item_id"] == item["item_id"] for i in named) or bool(
                named_items(part, [item])
            )
        if about:
            kept.append(part)
    return " ".join(kept)


def _confirm(state: State, turn: Turn, order: dict[str, Any], slots: dict[str, Any]) -> Update:
    """One confirmation for every item of the order being exchanged (or changed), as one call,
    once the payment method for the price difference is known: the one the customer named, else
    asked for when they have several (the shop's rule: the customer says which), else their
    only one."""
    lang = state.language
    items = {str(i["item_id"]): i for i in order["items"]}
    swaps: dict[str, str] = dict(slots["swaps"])
    changes, diff = [], 0.0
    for old_id, new_id in swaps.items():
        item = items[old_id]
        product = turn.value("get_product_details", {"product_id": item["product_id"]}) or {}
        variant = dict(product.get("variants", {})).get(new_id) or {}
        diff += float(variant.get("price", item["price"])) - float(item["price"])
        old = options_words(item["options"], lang)
        new = options_words(variant.get("options", {}), lang)
        changes.append((item["name"], old, new))
    diff = round(diff, 2)
    changed = "; ".join(f"{n} ({o} -> {w})" for n, o, w in changes)
    turn.notes.append(f"price difference {diff:.2f} {abs(diff):.2f}")
    asked = state.awaiting == "payment"
    said = last_user_text(state) if asked else request_text(state)
    target = refund_target(state, turn, order, said, any_method=True)
    original = original_pm(order) or ""
    args = {
        "order_id": order["order_id"],
        "item_ids": list(swaps),
        "new_item_ids": list(swaps.values()),
        "payment_method_id": target or original,
    }
    if str(order["status"]).startswith("pending"):
        # Not shipped yet: the items are changed on the order itself, not exchanged after delivery.
        tool, key = "modify_pending_order_items", "confirm_modify_items"
    else:
        tool = "exchange_delivered_order_items"
        key = "confirm_exchange" if len(changes) == 1 else "confirm_exchange_many"
    others = [pid for pid in turn.payment_methods() if pid != original]
    if target is None and not asked and others and abs(diff) >= 0.005:
        probe = turn.call(tool, args)
        if not isinstance(probe.error, ConfirmationRequiredError):
            return refuse(state, turn, probe)  # the shop's rules first, then the money's way
        ask = render(
            "ask_difference_pay" if diff > 0 else "ask_difference_refund", lang,
            amount=money(abs(diff), lang), original=turn.pm_words(original), changes=changed,
            others=names_list([turn.pm_words(pid) for pid in others], lang),
        )  # fmt: skip
        return turn.update(draft=ask, slots={**slots, "swaps": swaps}, awaiting="payment")
    # Asked and not named ("whichever"): the method the order was paid with, said in the
    # confirmation, where the customer can still name another.
    difference = difference_words(turn, diff, args["payment_method_id"])
    (name, old, new), *_ = changes
    summary = render(key, lang, order_id=order["order_id"], item=name, old=old, new=new,
                     changes=changed, difference=difference)  # fmt: skip
    return ask_confirmation(state, turn, tool, args, summary, slots)


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
    description="Exchange items of a delivered order, or change items of a pending order, for "
    "other variants of the same product; payment_method_id pays or receives the price difference.",
    arguments=("order_id", "item_ids", "new_item_ids", "payment_method_id"),
)
