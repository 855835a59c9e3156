"""What an LLM may choose from this turn: the verified customer's own orders, the items in them, the
variants those items could become, their payment methods, as ``enum``s in the planner's JSON schema.

A small local model picks from these lists instead of writing ids (constrained decoding holds it to
the schema), and ``check`` refuses any plan that names something outside them, so no id the model
made up, or read in a message, ever reaches a tool. The tools still check ownership themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

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
    user: Mapping[str, Any], read: Callable[[str, dict[str, Any]], Any]
) -> Choices:
    """The choices of the customer ``user`` (their ``get_user_details`` record); ``read(tool,
    arguments)`` looks up their orders and products with the turn's identity."""
    if not user:
        return Choices()
    order_ids = tuple(str(o) for o in user.get("orders", []))
    items: dict[str, None] = {}
    products: dict[str, None] = {}
    for order_id in order_ids:
        order = read("get_order_details", {"order_id": order_id}) or {}
        for item in order.get("items", []):
            items[str(item["item_id"])] = None
            products[str(item["product_id"])] = None
    variants: dict[str, None] = {}
    for product_id in products:
        product = read("get_product_details", {"product_id": product_id}) or {}
        for variant in dict(product.get("variants", {})).values():
            if variant.get("available"):
                variants[str(variant["item_id"])] = None
    return Choices(
        user_ids=(str(user["user_id"]),) if user.get("user_id") else (),
        order_ids=order_ids,
        item_ids=tuple(items),
        variant_ids=tuple(variants),
        payment_method_ids=tuple(str(p) for p in dict(user.get("payment_methods", {}))),
        product_ids=tuple(products),
    )


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


def plan_schema(
    tools: tuple[str, ...], choices: Choices, arguments_of: Callable[[str], Mapping[str, Any]]
) -> dict[str, Any]:
    """The planner's JSON schema for this turn: the tool is one of ``tools`` and every argument that
    names a record is one of the customer's (``arguments_of(tool)`` is a tool's argument schema)."""
    properties: dict[str, Any] = {}
    for tool in tools:
        for name, prop in dict(arguments_of(tool).get("properties", {})).items():
            if name not in properties and (schema := _argument_schema(name, prop, choices)):
                properties[name] = schema
    # The step is chosen first, one name among the tools and "reply": a small model given an
    # "action" and an optional "tool" (as the free planner has) filled in arguments for a reply.
    return {
        "title": "Plan",
        "description": "The next step: call one tool with arguments, or reply to the customer.",
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": [*tools, REPLY]},
            "arguments": {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            },
            "reply": {"type": "string"},
        },
        "required": ["tool"],
    }


def as_plan_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A plan filled in with :func:`plan_schema`, in the fields of ``agent.llm.Plan``."""
    tool = raw.get("tool")
    if tool in (REPLY, None):
        return {"action": "reply", "reply": raw.get("reply"), "arguments": {}}
    return {"action": "tool", "tool": tool, "arguments": dict(raw.get("arguments") or {})}
