"""Changing an address: the account's default one ("I moved") or a pending order's shipping one
("ship this order to ..."), asking when it is not clear which."""

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
    last_user_text,
    queued_request,
    refuse,
    request_text,
)
from agent.resolvers import candidate_orders
from agent.state import State
from agent.templates import render
from agent.understanding import address_line2, format_address, parse_address
from tools.errors import ConfirmationRequiredError


def _change_order_address(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    said = [last_user_text(state), *reversed(state.slots.get("said", []))]
    current = {k: str(v) for k, v in dict(order.get("address", {})).items()}
    address = _new_address(said, current) or slots.get("address")
    if address is None:
        # Ask the tools whether this order's address can change at all before asking for one.
        probe = turn.call("modify_pending_order_address", {"order_id": order_id, **current})
        if current and not isinstance(probe.error, ConfirmationRequiredError):
            return refuse(state, turn, probe, slots={})
        # The address it has now, so a customer checking it sees what to correct.
        now = format_address(current)
        ask = render("ask_address" if now else "ask_new_address", lang, order_id=order_id,
                     current=now)  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="address")
    slots["address"] = address
    _every_order(state, turn, address, slots)
    summary = render("confirm_address", lang, order_id=order_id, address=format_address(address))
    args = {"order_id": order_id, **address}
    return ask_confirmation(state, turn, "modify_pending_order_address", args, summary, slots)


# "on all my orders", "my orders too": every order whose address can still change.
_EVERY_ORDER = re.compile(
    r"\b((all|every|each|both)( of)? (my |the )?(\w+ )?orders?|(my |the )?orders (too|as well)|"
    r"(on|in|for) my orders|everywhere|todos (mis|los) pedidos|toutes (mes|les) commandes)\b",
    re.IGNORECASE,
)


def _every_order(state: State, turn: Turn, address: dict[str, str], slots: dict[str, Any]) -> None:
    """When the customer wants the new address on all their orders, each other order not yet
    shipped is queued, to be confirmed in turn once this change is done (once per request)."""
    if slots.get("every_order") or not _EVERY_ORDER.search(request_text(state)):
        return
    slots["every_order"] = True
    written = format_address(address)
    for order in turn.orders(besides=slots.get("order_id")):
        current = {k: str(v) for k, v in dict(order.get("address", {})).items()}
        if order["status"] in STATUSES and current != address:
            turn.queued.append(queued_request("change_address", written, order["order_id"]))


def _new_address(said: list[Any], current: dict[str, str]) -> dict[str, str] | None:
    """The address the customer asks for: a whole one, or the address they have with only its
    second line changed ("to Suite 641 instead")."""
    for text in said:
        if address := parse_address(str(text)):
            return address
        if current and (line2 := address_line2(str(text))):
            return {**current, "address2": line2}
    return None


_ACCOUNT_ADDRESS = re.compile(
    r"\b(default|my address|account|profile|moved|on file|home address|dirección de mi cuenta|"
    r"direccion de mi cuenta|me mudé|me mude|adresse de mon compte|j'ai déménagé|j'ai demenage)\b",
    re.IGNORECASE,
)


# Words that put the change on one order's shipping address, not on the account's: "ship this
# order to ...", "the address on my pending order". A mention of an order in passing ("the same as
# in my recent order") does not.
_ORDER_ADDRESS = re.compile(
    r"\b((this|that|the|my) (pending |last |latest |new )?order'?s? (address|shipping|to\b|should)|"
    r"(ship|deliver|send)\w* (this|that|the|my) order|address (of|for|on) (this|that|the|my) "
    r"(pending |last |latest |new )?order|(shipping|delivery) address)",
    re.IGNORECASE,
)


def _change_address(state: State, turn: Turn) -> Update:
    """An address change: the account's default address when the customer speaks of their
    address, profile or a move and names no order; else one order's shipping address."""
    text = request_text(state)
    names_an_order = bool(state.slots.get("order_id")) or bool(_ORDER_ADDRESS.search(text))
    if _PROFILE.search(text) or (_ACCOUNT_ADDRESS.search(text) and not names_an_order):
        # "my default address", "on my profile": the account's, whatever order was talked about.
        return _change_user_address(state, turn)
    if not state.slots.get("order_id") and _EVERY_ORDER.search(text):
        # "fix the address on all my orders": the first not yet shipped now, the others queued.
        first = next((o for o in turn.orders() if o["status"] in STATUSES), None)
        if first is not None:
            state = replace(state, slots={**state.slots, "order_id": first["order_id"]})
    return about_an_order(_change_order_address, STATUSES)(state, turn)


def _change_user_address(state: State, turn: Turn) -> Update:
    lang = state.language
    slots = dict(state.slots)
    said = [last_user_text(state), *reversed(state.slots.get("said", []))]
    current = {k: str(v) for k, v in dict(turn.user().get("address", {})).items()}
    address = (
        _new_address(said, current)
        or slots.get("address")
        or _address_of_an_order(state, turn, current)
    )
    if address is None:
        # What is on file now, so a customer checking it sees what to correct.
        now = format_address(current)
        ask = (
            render("ask_user_address_now", lang, current=now)
            if now
            else render("ask_user_address", lang)
        )
        return turn.update(draft=ask, slots=slots, awaiting="address")
    slots["address"] = address
    _every_order(state, turn, address, slots)
    summary = render("confirm_user_address", lang, address=format_address(address))
    args = {"user_id": state.customer_id, **address}
    return ask_confirmation(state, turn, "modify_user_address", args, summary, slots)


_PROFILE = re.compile(
    r"\b(default|profile|account|on file|cuenta|perfil|compte|profil)\b", re.IGNORECASE
)
_AN_ORDERS = re.compile(
    r"\border\b|\b(shipped|sent|going|delivered) to\b|\bpedido\b|\bcommande\b", re.IGNORECASE
)


def _address_of_an_order(
    state: State, turn: Turn, current: Mapping[str, str]
) -> dict[str, str] | None:
    """The address of the order the customer points to ("the Seattle address my order is going
    to", "the same as in my last order"), when they point to one that differs from the account's:
    the order talked about, else the one their words fit. None when it is not one address."""
    text = request_text(state)
    if not _AN_ORDERS.search(text):
        return None
    orders = [o for o in turn.orders() if o.get("address")]
    talked_about = [o for o in orders if o["order_id"] == state.slots.get("order_id")]
    addresses: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for order in talked_about or candidate_orders(text, orders):
        address: dict[str, str] = {str(k): str(v) for k, v in dict(order["address"]).items()}
        if address != dict(current):
            addresses[tuple(sorted(address.items()))] = address
    return next(iter(addresses.values())) if len(addresses) == 1 else None


STATUSES: Final = frozenset({"pending"})
"""The orders whose shipping address can change."""

FLOW: Final = Flow(
    goal="change_address",
    run=_change_address,
    slots=("order_id", "address", "confirmation"),
    writes={
        "modify_pending_order_address": "done_address",
        "modify_user_address": "done_user_address",
    },
    statuses=STATUSES,
    description="Change a pending order's shipping address (with order_id), or the account's "
    "default address (without); the agent asks for the new address.",
    arguments=("order_id",),
)
