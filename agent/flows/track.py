"""Where an order is (carrier, tracking, dates, contents) and where its refund is."""

from __future__ import annotations

from typing import Any, Final

from agent.flows.base import (
    Flow,
    Turn,
    Update,
    about_an_order,
    finish,
    item_lines,
    status_text,
)
from agent.state import State
from agent.templates import render


def _track(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    tracked = turn.value("track_order", {"order_id": order["order_id"]}) or {}
    text = render(
        "order_status", lang, order_id=order["order_id"], status=status_text(order["status"], lang)
    )
    for shipment in tracked.get("shipments", []):
        tracking = ", ".join(shipment.get("tracking_ids", []))
        if shipment.get("shipped_on") and shipment.get("carrier"):
            text += render(
                "shipment", lang, carrier=shipment["carrier"], tracking=tracking,
                shipped=shipment["shipped_on"],
            )  # fmt: skip
        elif tracking:
            text += render("tracking_only", lang, tracking=tracking)
        if shipment.get("delivered_on"):
            text += render("delivered_on", lang, date=shipment["delivered_on"])
        elif shipment.get("estimated_delivery"):
            text += render("eta", lang, date=shipment["estimated_delivery"])
    if not tracked.get("shipments") and order["status"] == "pending":
        text += render("not_shipped", lang)
    text += render("order_items", lang, items=item_lines(order["items"], lang))
    return finish(turn, text, order["order_id"])


def _refund_status(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    result = turn.value("get_refund_status", {"order_id": order["order_id"]}) or {}
    refunds = result.get("refunds", [])
    if not refunds:
        return finish(
            turn,
            render(
                "no_refund",
                lang,
                order_id=order["order_id"],
                status=status_text(order["status"], lang),
            ),
            order["order_id"],
        )
    lines = "; ".join(
        render(
            "refund_line",
            lang,
            amount=f"{r['amount']:.2f}",
            pm=turn.pm_words(r["payment_method_id"]),
            status=status_text(r["status"], lang, refund=True),
            date=r.get("expected_by") or r["requested_on"],
        )  # fmt: skip
        for r in refunds
    )
    return finish(
        turn, render("refunds", lang, order_id=order["order_id"], lines=lines), order["order_id"]
    )


TRACK: Final = Flow(
    goal="track_order",
    run=about_an_order(_track),
    slots=("order_id",),
    strong_cue=False,
    description="Where an order is and what it holds: status, carrier, tracking, items.",
    arguments=("order_id",),
)
REFUNDED: Final = frozenset({"cancelled", "return requested"})
REFUND_STATUS: Final = Flow(
    goal="refund_status",
    run=about_an_order(_refund_status, REFUNDED),
    slots=("order_id",),
    statuses=REFUNDED,
    description="Where the refund of a cancelled or returned order stands.",
    arguments=("order_id",),
)
