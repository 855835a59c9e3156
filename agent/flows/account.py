"""Facts of the customer's own account, read without a write: gift card balance, payment methods,
address on file, what an order holds, what it or an item cost, what a return would refund."""

from __future__ import annotations

from typing import Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    chosen_items,
    finish,
    item_lines,
    original_pm,
    request_text,
    status_text,
    which_order,
)
from agent.state import State
from agent.templates import render
from agent.understanding import (
    format_address,
    info_kind,
)


def _account_info(state: State, turn: Turn) -> Update:
    """A fact of the customer's own account: gift card balance, payment methods, the address on
    file, or an order's total, an item's price, what a return would refund, its contents."""
    lang = state.language
    kind = info_kind(request_text(state))
    methods = turn.payment_methods()
    if kind == "balance":
        cards = [pm for pm in methods.values() if pm["source"] == "gift_card"]
        if not cards:
            return finish(turn, render("info_no_gift_card", lang))
        balances = " ".join(
            render("info_balance", lang, balance=f"{float(c.get('balance', 0)):.2f}") for c in cards
        )
        return finish(turn, balances)
    if kind == "methods":
        listed = ", ".join(turn.pm_words(pid) for pid in methods)
        return finish(turn, render("info_methods", lang, methods=listed or "-"))
    if kind == "address":
        address = format_address(turn.user().get("address", {}))
        return finish(turn, render("info_address", lang, address=address))
    order, asked = which_order(state, turn)
    if asked is not None:
        return asked
    assert order is not None
    order_id = order["order_id"]
    named = chosen_items(request_text(state), order["items"])
    if kind == "total":
        paid = [t for t in order.get("payment_history", []) if t["transaction_type"] == "payment"]
        total = sum(float(t["amount"]) for t in paid)
        turn.notes.append(f"order total {total:.2f}")
        pm = turn.pm_words(paid[0]["payment_method_id"] if paid else None)
        return finish(
            turn,
            render("info_total", lang, order_id=order_id, total=f"{total:.2f}", pm=pm),
            order_id,
        )
    if kind == "price" and named:
        prices = ", ".join(f"${float(i['price']):.2f} for the {i['name']}" for i in named)
        return finish(turn, render("info_price", lang, order_id=order_id, prices=prices), order_id)
    if kind == "refund_estimate" and named:
        amount = sum(float(i["price"]) for i in named)
        turn.notes.append(f"refund total {amount:.2f}")
        cards = [pid for pid, pm in methods.items() if pm["source"] == "gift_card"]
        gift = render("or_gift_card", lang, gift=turn.pm_words(cards[0])) if cards else ""
        return finish(turn, render("info_refund_estimate", lang, items=item_lines(named, lang),
                                  order_id=order_id, amount=f"{amount:.2f}",
                                  original=turn.pm_words(original_pm(order)), gift=gift),
                      order_id)  # fmt: skip
    items = "; ".join(
        f"{line} (${float(i['price']):.2f})"
        for i, line in zip(
            order["items"], item_lines(order["items"], lang).split("; "), strict=True
        )
    )
    status = status_text(order["status"], lang)
    return finish(
        turn, render("info_contents", lang, order_id=order_id, status=status, items=items), order_id
    )


FLOW: Final = Flow(
    goal="account_info",
    run=_account_info,
    description="The customer's account: address, payment methods, gift card balance, orders.",
)
