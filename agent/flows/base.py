"""What every flow shares: the turn's tool calls made with the verified identity (``Turn``), finding
the order the customer means, asking for a confirmation the tools have checked, saying what went
wrong, and a flow's declaration (``Flow``).

Business rules stay in ``tools/``: flows call the tools through ``tools.registry.invoke`` with a
``ToolContext`` built from the verified identity in state, and ask the tools themselves whether a write
is allowed (an unconfirmed call is checked and refused before it needs a confirmation).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.config import get_config

from agent.goals import Goal, Slot
from agent.guardrails import PAYMENT_METHOD_ID, order_ids
from agent.resolvers import (
    candidate_orders,
    named_items,
    named_payment_methods,
    names_by_exclusion,
    order_label,
    orders_naming,
    words_of,
)
from agent.services import Services
from agent.state import Pending, State, ToolCall
from agent.templates import render
from agent.understanding import refund_choice, yes_no
from agent.wording import (
    money,
    names_list,
    options_words,
    product_words,
    refund_status_words,
    status_clause,
    status_needed,
    status_words,
)
from knowledge.glossary import fold
from tools.context import ToolContext
from tools.errors import (
    ConfirmationRequiredError,
    InsufficientBalanceError,
    NotAuthenticatedError,
    OrderStatusError,
)
from tools.registry import ToolOutcome, invoke

Update = dict[str, Any]


FlowRun = Callable[[State, "Turn"], Update]


@dataclass(frozen=True)
class Flow:
    """One thing a customer can get done, declared in one place: ``agent/flows/<module>.py`` holds
    its steps and its declaration; ``agent.flows.REGISTRY`` lists it."""

    goal: Goal
    run: FlowRun
    """One step: read what the customer said, call the tools, and ask for the next slot, ask for
    the confirmation, or finish."""
    slots: tuple[Slot, ...] = ()
    """What it may ask the customer for, in the order asked."""
    writes: Mapping[str, str] = field(default_factory=dict)
    """The write tools it proposes, each with the template that says it is done."""
    statuses: frozenset[str] = frozenset()
    """The order statuses it can act on: with no other clue, the customer means those orders."""
    needs_account: bool = True
    """Only for a verified customer."""
    strong_cue: bool = True
    """The customer's words for it change the subject even while another question waits."""
    description: str = ""
    """What it does, in one line, for an LLM choosing among the flows."""
    arguments: tuple[str, ...] = ()
    """What an LLM may start it with (names from ``agent.choices.FLOW_ARGUMENTS``): the flow reads
    each with :func:`picked`, and finds, asks for and checks everything as it always does."""


def message_text(message: AnyMessage) -> str:
    content = message.content
    return content if isinstance(content, str) else " ".join(str(c) for c in content)


def last_user_text(state: State) -> str:
    for message in reversed(state.messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def thread_id() -> str | None:
    try:
        value = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None
    return str(value) if value is not None else None


class Turn:
    """Tool calls of one node run, made with the conversation's verified identity."""

    def __init__(self, state: State, services: Services) -> None:
        self.state = state
        self.services = services
        self.calls: list[ToolCall] = list(state.tool_calls)
        self.notes: list[str] = list(state.notes)
        self._user: dict[str, Any] | None = None
        self.queued: list[dict[str, Any]] = []
        """Requests found while this one was read (the same return over two orders), queued."""
        self.ctx = ToolContext(
            services.store,
            customer_id=state.customer_id,
            actor="agent",
            conversation_id=thread_id(),
            approval_over_cents=round(services.ctx.risky_amount * 100),
        )

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        confirm: str | None = None,
        approved_by: str | None = None,
    ) -> ToolOutcome:
        args = dict(arguments)
        ctx = self.ctx.confirm(name, args, confirm) if confirm else self.ctx
        if approved_by:
            ctx = ctx.approve(name, args, approved_by)
        outcome = invoke(ctx, name, args)
        self.calls.append(ToolCall(name=name, arguments=args, ok=outcome.ok, result=outcome.text))
        return outcome

    def value(self, name: str, arguments: Mapping[str, Any]) -> Any:
        outcome = self.call(name, arguments)
        return outcome.value if outcome.ok else None

    def user(self) -> dict[str, Any]:
        """The verified customer's details (orders, payment methods, address), read once a turn."""
        if self._user is None:
            self._user = self.value("get_user_details", {"user_id": self.state.customer_id}) or {}
        return self._user

    def orders(self, *, besides: str | None = None) -> list[dict[str, Any]]:
        """The verified customer's orders with their details (all but ``besides``)."""
        return [o for oid in self.user().get("orders", []) if oid != besides
                and isinstance(o := self.value("get_order_details", {"order_id": oid}), dict)]  # fmt: skip

    def payment_methods(self) -> dict[str, Any]:
        """The verified customer's payment methods by id."""
        return dict(self.user().get("payment_methods", {}))

    def pm_words(self, pm_id: str | None) -> str:
        """A payment method as the customer knows it ("your Visa ending 7183", "your PayPal
        account"), never its id."""
        lang = self.state.language
        pm = self.payment_methods().get(pm_id or "") if pm_id else None
        source = str(pm["source"]) if pm else str(pm_id or "").rsplit("_", 1)[0]
        if source == "credit_card":
            if pm and pm.get("brand") and pm.get("last_four"):
                brand = str(pm["brand"]).title() if pm["brand"].islower() else pm["brand"]
                return render("pm_card", lang, brand=brand, last_four=pm["last_four"])
            return render("pm_card_plain", lang)
        if source == "paypal":
            return render("pm_paypal", lang)
        if source == "gift_card":
            if pm and pm.get("balance") is not None:
                return render("pm_gift_card_balance", lang, balance=f"{pm['balance']:.2f}")
            return render("pm_gift_card", lang)
        return render("pm_other", lang)

    def update(self, **fields: Any) -> Update:
        return {"tool_calls": self.calls, "notes": self.notes, **fields}


def fail(
    state: State, turn: Turn, draft: str, *, counter: str | None = None, **fields: Any
) -> Update:
    """Say what went wrong and count it against ``counter`` (the goal by default); the second
    failure of the same kind goes to a human."""
    key = counter or state.goal or "unknown"
    failures = {**state.failures, key: state.failures.get(key, 0) + 1}
    update = turn.update(draft=draft, failures=failures, **fields)
    if failures[key] >= 2:
        update.update(route="escalate", escalation_reasons=[f"repeated_failure:{key}"])
    return update


def finish(turn: Turn, draft: str, order_id: str | None = None) -> Update:
    """The request is answered. The order it was about (``order_id``, else the one the
    conversation was on) stays remembered: "and can I return it?" is about the same one."""
    order_id = order_id or turn.state.slots.get("order_id")
    slots = {"order_id": order_id} if order_id else {}
    return turn.update(draft=draft, goal=None, slots=slots, awaiting=None, pending=None)


def refuse(state: State, turn: Turn, outcome: ToolOutcome, **fields: Any) -> Update:
    """A tool said no: explain its reason; never look for a way around the rule."""
    if isinstance(outcome.error, NotAuthenticatedError):
        return turn.update(draft=render("ask_identity", state.language), awaiting="identity")
    if done_key(outcome.name, outcome.arguments) in state.done:
        # Asked again for what this conversation already did: say so; it is not a failure.
        order_id = str(outcome.arguments.get("order_id", ""))
        return finish(turn, render("already_done", state.language, order_id=order_id))
    error = outcome.error
    if isinstance(error, OrderStatusError) and error.status and error.action in _ACTIONS:
        # In plain words, not the tool's: "order #W1 has been delivered, and only orders that
        # haven't shipped yet can be cancelled".
        lang = state.language
        draft = render("refused_status", lang, order_id=error.order_id,
                       status=status_clause(error.status, lang),
                       needed=status_needed(error.allowed, lang),
                       action=render(f"action_{error.action}", lang))  # fmt: skip
        return fail(state, turn, draft, **fields)
    if isinstance(error, InsufficientBalanceError):
        lang = state.language
        draft = render("refused_gift_card", lang, balance=money(error.balance, lang),
                       amount=money(error.amount, lang))  # fmt: skip
        return fail(state, turn, draft, **fields)
    # Any other rule in the tool's words, with the customer's payment methods named as they know
    # them ("your Visa ending 7183", never its id).
    reason = PAYMENT_METHOD_ID.sub(
        lambda m: turn.pm_words(m.group(0)), error.message if error else outcome.text
    )
    return fail(state, turn, render("refused", state.language, reason=reason), **fields)


_ACTIONS: Final = frozenset({"cancelled", "modified", "returned", "exchanged"})


def picked(state: State, name: str) -> Any:
    """What the LLM chose for the argument ``name`` when it started this flow (one of the verified
    customer's own records, checked before the flow ran), or None."""
    return dict(state.slots.get("picked") or {}).get(name)


def request_text(state: State) -> str:
    """Everything the customer said about the current request, this message included."""
    said = state.slots.get("said") or [last_user_text(state)]
    return " ".join(str(t) for t in said)


def which_order(
    state: State, turn: Turn, statuses: frozenset[str] = frozenset()
) -> tuple[dict[str, Any] | None, Update | None]:
    """The order the customer means, with its details: the one their words and the request fit
    (an item it holds, its status, what the goal can act on); when several fit, they are asked
    once which, each named by its contents."""
    lang = state.language
    order_id = state.slots.get("order_id")
    first_words = len(state.slots.get("said", [])) <= 1 and state.awaiting is None
    if order_id and first_words and not order_ids(last_user_text(state)):
        # A new request, and the order talked about before holds none of the items it names
        # ("return the skateboard" after tracking the Texas order): the one that holds them is.
        naming = {str(o["order_id"]) for o in orders_naming(last_user_text(state), turn.orders())}
        if naming and order_id not in naming:
            order_id = None
            state = replace(state, slots={k: v for k, v in state.slots.items() if k != "order_id"})
    if not order_id:
        ids = list(turn.user().get("orders", []))
        asked = dict(state.slots.get("order_candidates", {}))
        orders = [
            o
            for oid in ids
            if (not asked or oid in asked)
            and isinstance(o := turn.value("get_order_details", {"order_id": oid}), dict)
        ]
        # An answer to "which order?" is read on its own; a first request with all it said.
        text = last_user_text(state) if asked else request_text(state)
        in_asked_order = [o for oid in asked for o in orders if o["order_id"] == oid]
        if in_asked_order and (picked := ordinal(text, in_asked_order)) is not None:
            return dict(picked), None  # "the first one"
        fits = candidate_orders(text, orders, statuses)
        # After "I couldn't find #W...", a "yes" must not act on an order never mentioned.
        after_not_found = state.awaiting == "order_id" and not asked
        if len(fits) == 1 and not (after_not_found and len(orders) == 1 and fits == orders):
            order: dict[str, Any] = dict(fits[0])
            return order, None
        spread = spread_over_orders(text, fits) if state.goal in ITEM_GOALS and not asked else []
        if spread:
            # "return the headphones and the earbuds", bought in two orders: one request per
            # order, this one first, the others queued.
            first, *others = spread
            turn.queued.extend(queued_request(str(state.goal), text, o["order_id"]) for o in others)
            return dict(first), None
        if not orders:
            return None, turn.update(draft=render("ask_order_id", lang, orders=""),
                                     awaiting="order_id")  # fmt: skip
        labels = [order_label(o) for o in fits or orders]
        listed = ", ".join(labels[:-1]) + render("or", lang) + labels[-1]
        slots = {
            **state.slots,
            "order_candidates": {
                o["order_id"]: [i["name"] for i in o["items"]] for o in fits or orders
            },
        }
        return None, turn.update(draft=render("which_order", lang, orders=listed), slots=slots,
                                 awaiting="order_id")  # fmt: skip
    outcome = turn.call("get_order_details", {"order_id": order_id})
    if not outcome.ok:
        slots = {k: v for k, v in state.slots.items() if k != "order_id"}
        if isinstance(outcome.error, NotAuthenticatedError):
            return None, turn.update(draft=render("ask_identity", lang), awaiting="identity")
        draft = render("order_not_found", lang, order_id=order_id)
        return None, fail(state, turn, draft, slots=slots, awaiting="order_id")
    found: dict[str, Any] = outcome.value
    return found, None


def _items_elsewhere(
    turn: Turn, said: str, order: Mapping[str, Any], statuses: frozenset[str]
) -> dict[str, Any] | None:
    """The one other order of the customer's, in a status the request can act on, holding the
    items they named; None when they named no item, or no single order fits."""
    others = [o for o in turn.orders(besides=order["order_id"])
              if not statuses or o["status"] in statuses]  # fmt: skip
    fitting = orders_naming(said, others)
    return dict(fitting[0]) if len(fitting) == 1 else None


ITEM_GOALS: Final = frozenset({"return_item", "exchange_item"})


def spread_over_orders(text: str, orders: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The orders, in the order the customer named their items, when the items named are spread
    over them, each order holding items the others do not ("the headphones and the earbuds");
    empty when an item could be in more than one of them (two orders with a puzzle: ask), or
    when the items are named as "everything but ..." (that is about one order: ask which)."""
    if names_by_exclusion(text):
        return []
    names: list[set[str]] = []
    for order in orders:
        named = {str(i["name"]) for i in named_items(text, order["items"])}
        if not named or any(named & other for other in names):
            return []
        names.append(named)
    folded = fold(text)

    def first_mention(named: set[str]) -> int:
        positions = [folded.find(w) for n in named for w in words_of(n) if w in folded]
        return min(positions, default=len(folded))

    ranked = sorted(zip(orders, names, strict=True), key=lambda pair: first_mention(pair[1]))
    return [order for order, _ in ranked]


def ask_confirmation(
    state: State,
    turn: Turn,
    tool: str,
    arguments: dict[str, Any],
    summary: str,
    slots: dict[str, Any] | None = None,
) -> Update:
    """Check the write with the tools first; only an allowed one is put to the customer. The money it
    moves and whether a staff member must approve it are the tool's own answer (it knows the
    prices), whoever proposed the write. ``slots``, when given, are what the flow gathered, kept
    whether the tools allow the write or not."""
    probe = turn.call(tool, arguments)
    if not isinstance(probe.error, ConfirmationRequiredError):
        update = refuse(state, turn, probe)
    else:
        pending = Pending(
            tool=tool,
            arguments=arguments,
            confirmation_id=uuid.uuid4().hex,
            summary=summary,
            amount=round(probe.error.amount_cents / 100, 2),
            needs_approval=probe.error.needs_approval,
            approved=False,
        )
        update = turn.update(draft=summary, pending=pending, awaiting="confirmation")
    return update if slots is None else {"slots": slots, **update}


def done_key(tool: str, arguments: Mapping[str, Any]) -> str:
    return f"{tool}:{arguments.get('order_id') or arguments.get('user_id', '')}"


def items_text(items: list[Mapping[str, Any]], lang: str = "en") -> str:
    return "; ".join(f"{i['name']} ({options_words(i.get('options', {}), lang)})" for i in items)


def original_pm(order: Mapping[str, Any]) -> str | None:
    for t in order.get("payment_history", []):
        if t["transaction_type"] == "payment":
            return str(t["payment_method_id"])
    return None


def refund_target(
    state: State, turn: Turn, order: Mapping[str, Any], text: str, *, any_method: bool = False
) -> str | None:
    """The payment method the customer's words name for the money, among those the request may
    use: for a refund the original method or a gift card, for a price difference (``any_method``)
    any of theirs. None when they named none."""
    original = original_pm(order)
    methods = turn.payment_methods()
    named = named_payment_methods(text, methods, original)
    allowed = [
        pid
        for pid in named
        if any_method or pid == original or methods.get(pid, {}).get("source") == "gift_card"
    ]
    if allowed:
        return allowed[0]
    if named:
        return None  # a method the money may not go to: the customer is told, not overruled
    chosen = picked(state, "payment_method_id")
    if chosen in methods and (any_method or chosen == original or chosen in _gift_cards(methods)):
        return str(chosen)
    if state.awaiting == "refund" and yes_no(text) is True:
        return original  # "yes please" to "should it go to the original payment method?"
    choice = refund_choice(text)
    if choice == "gift_card":
        cards = [pid for pid, pm in turn.payment_methods().items() if pm["source"] == "gift_card"]
        return cards[0] if cards else original
    if choice == "original":
        return original
    if not any_method and original and _gift_cards(methods) <= {original}:
        # Nowhere else the money could go: the confirmation says where, nothing to ask.
        return original
    return None


def _gift_cards(methods: Mapping[str, Any]) -> set[str]:
    return {pid for pid, pm in methods.items() if pm["source"] == "gift_card"}


def chosen_items(text: str, items: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items of the order the text names: by item id, else by name ("both helmets")."""
    by_id = [i for i in items if str(i["item_id"]) in text]
    return by_id or named_items(text, items)


_ORDINALS: Final = (
    r"\b(first|1st|primer[oa]?|premier|premiere)\b|^\s*1\s*[.)]?\s*$",
    r"\b(second|2nd|segund[oa]|deuxieme|seconde?)\b|^\s*2\s*[.)]?\s*$",
    r"\b(third|3rd|tercer[oa]?|troisieme)\b|^\s*3\s*[.)]?\s*$",
    r"\b(fourth|4th|cuart[oa]|quatrieme)\b|^\s*4\s*[.)]?\s*$",
    r"\b(fifth|5th|quint[oa]|cinquieme)\b|^\s*5\s*[.)]?\s*$",
)


def ordinal(text: str, offered: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The variant a customer picks by its place in the list offered: "the second one", "2"."""
    folded = fold(text)
    if re.search(r"\b(last|ultim[oa]|dernier|derniere)\b", folded):
        return offered[-1]
    found = [n for n, rx in enumerate(_ORDINALS) if n < len(offered) and re.search(rx, folded)]
    return offered[found[0]] if len(found) == 1 else None


def item_lines(items: list[Mapping[str, Any]], lang: str = "en") -> str:
    return "; ".join(
        f"{i['name']} ({options_words(i.get('options', {}), lang)})"
        if i.get("options")
        else i["name"]
        for i in items
    )


def difference_words(turn: Turn, diff: float, pm_id: str | None) -> str:
    """What a price difference means for the customer, in words: paid, refunded or nothing."""
    lang = turn.state.language
    if abs(diff) < 0.005:
        return render("diff_none", lang)
    key = "diff_pay" if diff > 0 else "diff_refund"
    return render(key, lang, amount=f"{abs(diff):.2f}", pm=turn.pm_words(pm_id))


def queued_request(goal: str, said: str, order_id: str | None = None) -> dict[str, Any]:
    """A request waiting in the queue: its goal and the customer's words for it."""
    request: dict[str, Any] = {"goal": goal, "said": [said]}
    if order_id:
        request["order_id"] = order_id
    return request


OrderFlow = Callable[[State, Turn, dict[str, Any]], Update]


def one_write_per_order(state: State, turn: Turn, order: Mapping[str, Any]) -> Update | None:
    """A return and an exchange asked together for items of one delivered order: the shop takes
    one of them per order (after either, the order is no longer "delivered"), so before the first
    write the customer is told and asked which. None when no other request waits on this order,
    or the customer has already chosen."""
    if order["status"] != "delivered" or state.slots.get("chosen_request"):
        return None
    other_goal = {"return_item": "exchange_item", "exchange_item": "return_item"}.get(
        str(state.goal)
    )
    said = request_text(state)
    mine = named_items(said, order["items"])
    waiting = next(
        (r for r in state.queue if r.get("goal") == other_goal
         and named_items(" ".join(r.get("said", [])), order["items"])),
        None,
    )  # fmt: skip
    if not mine or waiting is None:
        return None
    theirs = named_items(" ".join(waiting["said"]), order["items"])
    lang = state.language
    names = {state.goal: mine, other_goal: theirs}
    draft = render(
        "one_write_per_order", lang, order_id=order["order_id"],
        returned=names_list([product_words(i["name"], lang) for i in names["return_item"]], lang),
        exchanged=names_list([product_words(i["name"], lang) for i in names["exchange_item"]], lang),
    )  # fmt: skip
    choices = [{"goal": state.goal, "said": list(state.slots.get("said") or [said])}, waiting]
    slots = {"order_id": order["order_id"], "choices": choices}
    return turn.update(draft=draft, slots=slots, awaiting="choice")


def about_an_order(
    flow: OrderFlow, statuses: frozenset[str] = frozenset()
) -> Callable[[State, Turn], Update]:
    """A goal about one order: the order the customer means is looked up first (or asked for, or
    refused when not theirs; with no other clue, one in ``statuses``), then ``flow`` runs with
    its details."""

    def run(state: State, turn: Turn) -> Update:
        order, asked = which_order(state, turn, statuses)
        if asked is not None:
            return asked
        assert order is not None
        note = ""
        said = request_text(state)
        holds = bool(named_items(said, order["items"]))
        fits = not statuses or order["status"] in statuses
        named_elsewhere = not holds and state.goal in ITEM_GOALS and bool(order_ids(said))
        if state.awaiting is None and (named_elsewhere or (holds and not fits)):
            other = _items_elsewhere(turn, said, order, statuses)
            if other is not None:
                # "return the camera, order #W8855135 I think": that order holds no camera, or
                # has not been delivered, and exactly one other order fits: that one is meant.
                names = ", ".join(i["name"] for i in named_items(said, other["items"]))
                key = "other_order_used" if holds else "other_order_has"
                note = render(key, state.language, asked=order["order_id"],
                              order_id=other["order_id"], items=names,
                              status=status_text(order["status"], state.language))  # fmt: skip
                order = other
        slots = {k: v for k, v in state.slots.items() if k != "order_candidates"}
        update = flow(replace(state, slots={**slots, "order_id": order["order_id"]}), turn, order)
        if note and update.get("draft"):
            update["draft"] = note + str(update["draft"])
        return update

    return run


def status_text(status: str, lang: str, *, refund: bool = False) -> str:
    """An order's (or a refund's) status as a reply names it: the shop's word in English, plain words
    in Spanish and French ("aún no enviado", "en cours de livraison")."""
    if lang == "en":
        return status
    return refund_status_words(status, lang) if refund else status_words(status, lang)
