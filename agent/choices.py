"""What an LLM may choose from this turn: the verified customer's own orders, the items in them, the
variants those items could become, their payment methods, as ``enum``s in the planner's JSON schema.

A small local model picks from these lists instead of writing ids (constrained decoding holds it to
the schema), and ``check`` refuses any plan that names something outside them, so no id the model
made up, or read in a message, ever reaches a tool. The tools still check ownership themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.resolvers import candidate_orders, named_items, read_variant_wish

# Tool arguments that name one of the customer's records, and which list each is chosen from.
_ID_ARGUMENTS: Final[Mapping[str, str]] = {
    "user_id": "user_ids",
    "order_id": "order_ids",
    "item_ids": "item_ids",
    "item_id": "all_item_ids",
    "new_item_ids": "variant_ids",
    "payment_method_id": "payment_method_ids",
    "product_id": "product_ids",
}
CANCEL_REASONS: Final = ("no longer needed", "ordered by mistake")
REPLY: Final = "reply"
"""The step that answers the customer instead of calling a tool."""


@dataclass(frozen=True)
class Choices:
    """The ids a request may name this turn (all empty before the customer is verified)."""

    user_ids: tuple[str, ...] = ()
    order_ids: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()
    """Items in the customer's orders."""
    variant_ids: tuple[str, ...] = ()
    """Available variants of the products in those orders: what an item may be exchanged for."""
    payment_method_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()
    legend: tuple[str, ...] = ()
    """What the ids stand for, one line per order and per payment method ("item 1151293680:
    Desk Lamp (color black) $150.23"), so a model can tell which id is the lamp."""

    @property
    def all_item_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.item_ids, *self.variant_ids)))

    def allowed(self, argument: str) -> tuple[str, ...] | None:
        """The values ``argument`` may take, or None when it names no record."""
        field = _ID_ARGUMENTS.get(argument)
        return None if field is None else tuple(getattr(self, field))

    def check(self, arguments: Mapping[str, Any]) -> list[str]:
        """The arguments that name something outside these lists (empty: all are the customer's)."""
        wrong = []
        for name, value in arguments.items():
            allowed = self.allowed(name)
            if allowed is None:
                continue
            values = value if isinstance(value, list) else [value]
            if any(str(v) not in allowed for v in values):
                wrong.append(name)
        if "reason" in arguments and arguments["reason"] not in CANCEL_REASONS:
            wrong.append("reason")
        return wrong


def customer_choices(
    user: Mapping[str, Any],
    read: Callable[[str, dict[str, Any]], Any],
    *,
    focus: str = "",
    variants_shown: int = 12,
) -> Choices:
    """The choices of the customer ``user`` (their ``get_user_details`` record); ``read(tool,
    arguments)`` looks up their orders and products with the turn's identity.

    ``focus`` (what the customer said of this request) narrows what a small model must read: the
    items of the orders it points at (all orders when it points at none), the variants of the
    products it names (of all those orders' products when it names none), at most
    ``variants_shown`` of each, those that fit its words first. Every order stays choosable by id;
    an item or variant left out of the legend is left out of the enums too, so the model never
    picks an id it was not told the meaning of."""
    if not user:
        return Choices()
    order_ids = tuple(str(o) for o in user.get("orders", []))
    orders = [
        o
        for oid in order_ids
        if isinstance(o := read("get_order_details", {"order_id": oid}), dict)
    ]
    shown = candidate_orders(focus, orders) if focus else orders
    items: dict[str, None] = {}
    named: list[Mapping[str, Any]] = []
    legend: list[str] = []
    for order in orders:
        if order in shown:
            lines = []
            for item in order.get("items", []):
                items[str(item["item_id"])] = None
                lines.append(f"item {item['item_id']}: {_item_words(item)}")
            named += named_items(focus, order.get("items", [])) if focus else []
        else:
            lines = [", ".join(str(i.get("name", "")) for i in order.get("items", []))]
        legend.append(f"order {order['order_id']}, {order.get('status')}: " + "; ".join(lines))
    # Variants of the products named; with none named, of the few products the orders hold (a
    # long list of every product's variants would crowd the customer's words out of the prompt).
    held = [i for o in shown for i in o.get("items", [])]
    about = named or (held if len({i["product_id"] for i in held}) <= 3 else [])
    variants: dict[str, None] = {}
    products = {str(i["product_id"]): i for i in about}
    for product_id, item in products.items():
        product = read("get_product_details", {"product_id": product_id}) or {}
        others = [
            v
            for v in dict(product.get("variants", {})).values()
            if v.get("available") and str(v["item_id"]) not in items
        ]
        fitting = read_variant_wish(focus, item, others).fits(others) if focus else []
        ranked = [*fitting, *(v for v in others if v not in fitting)][:variants_shown]
        for variant in ranked:
            variants[str(variant["item_id"])] = None
        words = "; ".join(f"item {v['item_id']}: {_item_words(v)}" for v in ranked) or "-"
        legend.append(
            f"product {product_id} {item.get('name', '')}, other variants in stock: {words}"
        )
    for pm_id, pm in dict(user.get("payment_methods", {})).items():
        legend.append(f"payment method {pm_id}: {_pm_words(pm)}")
    return Choices(
        user_ids=(str(user["user_id"]),) if user.get("user_id") else (),
        order_ids=order_ids,
        item_ids=tuple(items),
        variant_ids=tuple(dict.fromkeys([*variants, *(i for i in items)])),
        payment_method_ids=tuple(str(p) for p in dict(user.get("payment_methods", {}))),
        product_ids=tuple(products),
        legend=tuple(legend),
    )


def _item_words(item: Mapping[str, Any]) -> str:
    options = ", ".join(f"{k} {v}" for k, v in dict(item.get("options", {})).items())
    name = str(item.get("name", "")).strip()
    return f"{name} ({options}) ${float(item.get('price', 0)):.2f}".replace(" ()", "").strip()


def _pm_words(pm: Mapping[str, Any]) -> str:
    source = str(pm.get("source", ""))
    if source == "credit_card":
        return f"credit card {pm.get('brand', '')} ending {pm.get('last_four', '')}".replace(
            "  ", " "
        )
    if source == "gift_card":
        return f"gift card, balance ${float(pm.get('balance') or 0):.2f}"
    return source.replace("_", " ")


def _argument_schema(name: str, prop: Mapping[str, Any], choices: Choices) -> dict[str, Any] | None:
    """One argument's schema with this turn's enum; None for an id argument with nothing to pick."""
    allowed = choices.allowed(name)
    if name == "reason":
        return {"type": "string", "enum": list(CANCEL_REASONS)}
    if allowed is None:
        kinds = [prop.get("type")] + [b.get("type") for b in prop.get("anyOf", [])]
        kind = next((k for k in kinds if k not in (None, "null")), "string")
        return {"type": kind}
    if not allowed:
        return None
    if prop.get("type") == "array":
        return {"type": "array", "items": {"type": "string", "enum": list(allowed)}, "minItems": 1}
    return {"type": "string", "enum": list(allowed)}


@dataclass(frozen=True)
class Step:
    """Something the planner may choose: one of the agent's flows (which then finds, asks, checks
    and confirms as it always does), a read tool, or the reply."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    """The arguments' JSON schema (``properties``); arguments naming a record get this turn's
    ``enum`` of the customer's own."""


FLOW_ARGUMENTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "order_id": {"type": "string"},
    "item_ids": {"type": "array"},
    "new_item_ids": {"type": "array"},
    "payment_method_id": {"type": "string"},
    "reason": {"type": "string"},
    "product_id": {"type": "string"},
}
"""The arguments a flow may be started with (a flow declares which of these it takes)."""


def _properties(step: Step, choices: Choices) -> dict[str, Any]:
    return {
        name: schema
        for name, prop in dict(step.parameters.get("properties", {})).items()
        if (schema := _argument_schema(name, prop, choices))
    }


def plan_schema(steps: Sequence[Step], choices: Choices) -> dict[str, Any]:
    """The planner's JSON schema for this turn, for a model that fills in one object: the step is
    one of ``steps`` (or the reply) and every argument that names a record is one of the
    customer's."""
    properties: dict[str, Any] = {}
    for step in steps:
        for name, schema in _properties(step, choices).items():
            properties.setdefault(name, schema)
    # The step is chosen first, one name among the steps and "reply": a small model given an
    # "action" and an optional "tool" (as the free planner has) filled in arguments for a reply.
    return {
        "title": "Plan",
        "description": "The next step: call one tool with arguments, or reply to the customer.",
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": [*(s.name for s in steps), REPLY]},
            "arguments": {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            },
            "reply": {"type": "string"},
        },
        "required": ["tool"],
    }


def step_tools(steps: Sequence[Step], choices: Choices) -> list[dict[str, Any]]:
    """The same steps as native function-calling tools (OpenAI's format), one per step, each with
    this turn's ``enum``s, and the reply as one more."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": step.name,
                "description": step.description,
                "parameters": {
                    "type": "object",
                    "properties": _properties(step, choices),
                    "additionalProperties": False,
                },
            },
        }
        for step in steps
    ]
    tools.append(
        {
            "type": "function",
            "function": {
                "name": REPLY,
                "description": "Answer the customer in words: a question about what is missing, "
                "or an answer when no other step fits.",
                "parameters": {
                    "type": "object",
                    "properties": {"reply": {"type": "string"}},
                    "required": ["reply"],
                },
            },
        }
    )
    return tools


def as_plan_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A plan filled in with :func:`plan_schema`, in the fields of ``agent.llm.Plan``."""
    tool = raw.get("tool")
    if tool in (REPLY, None):
        return {"action": "reply", "reply": raw.get("reply"), "arguments": {}}
    return {"action": "tool", "tool": tool, "arguments": dict(raw.get("arguments") or {})}
