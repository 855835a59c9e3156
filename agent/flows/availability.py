"""Whether a product is in stock, in which options, at what price (no login needed)."""

from __future__ import annotations

import re
from typing import Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    finish,
    last_user_text,
    picked,
)
from agent.state import State
from agent.templates import render
from agent.understanding import named_option_values
from agent.wording import options_words
from knowledge.glossary import fold


def _availability(state: State, turn: Turn) -> Update:
    lang = state.language
    text = last_user_text(state)
    found = turn.value("search_products", {"query": text, "limit": 3}) or []
    product_id = picked(state, "product_id") or (found[0]["product_id"] if found else None)
    if product_id is None:
        return finish(turn, render("no_product", lang))
    product = turn.value("get_product_details", {"product_id": product_id}) or {}
    wanted = named_option_values(text, list(product.get("variants", {}).values()))
    result = turn.value("check_availability", {"product_id": product_id, "options": wanted}) or {}
    name = result.get("name") or product.get("name", "")
    matching = render("matching", lang, options=options_words(wanted, lang)) if wanted else ""
    in_stock = result.get("in_stock", [])
    if not in_stock:
        return finish(turn, render("out_of_stock", lang, name=name, matching=matching))
    by_price = _BY_PRICE.search(fold(text))
    if by_price:
        # "the cheapest t-shirt you have": one answer, with its price, not three examples.
        dearest = by_price.group("dear") is not None
        pick = (max if dearest else min)(in_stock, key=lambda v: float(v["price"]))
        key = "dearest_in_stock" if dearest else "cheapest_in_stock"
        return finish(turn, render(key, lang, name=name, matching=matching, count=len(in_stock),
                                  options=options_words(pick["options"], lang),
                                  price=f"${float(pick['price']):.2f}"))  # fmt: skip
    examples = "; ".join(
        f"{options_words(v['options'], lang)} (${v['price']:.2f})" for v in in_stock[:3]
    )
    return finish(turn, render("in_stock", lang, name=name, count=len(in_stock), matching=matching,
                              examples=examples))  # fmt: skip


_BY_PRICE: Final = re.compile(
    r"\b(?:cheapest|least expensive|lowest[- ]price[d]?|most affordable|mas barat[oa]|"
    r"moins cher|(?P<dear>most expensive|priciest|highest[- ]price[d]?|mas car[oa]|plus cher))\b"
)


FLOW: Final = Flow(
    goal="availability",
    run=_availability,
    needs_account=False,
    strong_cue=False,
    description="Whether a product is in stock, in which options, at what price.",
    arguments=("product_id",),
)
