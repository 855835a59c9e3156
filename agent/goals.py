"""The names the agent's flows share: what a customer may want (a goal) and what a reply may be
waiting for (a slot). Literal types, so a misspelt goal or slot is a type error, not a silent miss."""

from __future__ import annotations

from typing import Literal

Goal = Literal[
    "track_order",
    "refund_status",
    "cancel_order",
    "return_item",
    "exchange_item",
    "change_address",
    "change_payment",
    "account_info",
    "availability",
    "policy",
    "complaint",
    "human",
]
"""What the customer wants. The first nine have a flow in ``agent.flows``; ``policy`` is answered
from the knowledge base, ``complaint`` and ``human`` lead to a person."""

Slot = Literal[
    "identity",
    "order_id",
    "reason",
    "items",
    "refund",
    "payment",
    "address",
    "variant",
    "confirmation",
    "choice",
]
"""What the last reply asked the customer for (``State.awaiting``)."""
