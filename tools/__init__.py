"""The commerce store (customers, catalog, orders, returns, tickets, audit log) and the tools that act on
it with the shop's rules enforced in code.

Every tool is a typed function ``tool(ctx: ToolContext, **arguments)``; the context carries the
conversation's verified customer and the actions they confirmed. ``langchain_tools`` exposes them to an
agent with the same names and arguments as the tau2-bench retail tools.
"""

from tools import account, calculator, catalog, escalation, identity, orders, returns
from tools.context import ToolContext, action_fingerprint
from tools.errors import ToolError, model_message
from tools.registry import ToolSpec, all_specs, spec
from tools.settings import Settings, get_settings
from tools.store import Store, open_store

ALL_TOOLS = [
    *identity.ALL_TOOLS,
    *account.ALL_TOOLS,
    *orders.ALL_TOOLS,
    *returns.ALL_TOOLS,
    *catalog.ALL_TOOLS,
    *escalation.ALL_TOOLS,
    *calculator.ALL_TOOLS,
]

__all__ = [
    "ALL_TOOLS",
    "Settings",
    "Store",
    "ToolContext",
    "ToolError",
    "ToolSpec",
    "action_fingerprint",
    "all_specs",
    "get_settings",
    "model_message",
    "open_store",
    "spec",
]
