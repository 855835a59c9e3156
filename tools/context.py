"""Who is calling a tool: the conversation's verified identity and the actions its customer confirmed.

The agent (or the shell, or an API route) builds a ``ToolContext`` from conversation state it controls; a
tool never takes the caller's identity from its own arguments, which the model writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tools.store import Store


def action_fingerprint(action: str, args: Mapping[str, Any]) -> str:
    """A stable id of one write with its exact arguments (what the customer said "yes" to)."""
    canonical = json.dumps({"action": action, "args": dict(args)}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ToolContext:
    """Everything a tool may trust about its caller. Immutable: derive a new one as the conversation moves."""

    store: Store
    customer_id: str | None = None
    """The customer this conversation verified (by email, or name + zip, or a signed widget identity)."""
    confirmed: frozenset[str] = field(default_factory=frozenset)
    """Fingerprints (``action_fingerprint``) of writes the customer explicitly confirmed."""
    actor: str = "agent"
    """Recorded in the audit log with every write: ``agent``, ``shell``, ``human:<name>``..."""
    conversation_id: str | None = None

    def authenticated(self, customer_id: str) -> ToolContext:
        """The same context, now speaking for ``customer_id`` (earlier confirmations are dropped)."""
        return replace(self, customer_id=customer_id, confirmed=frozenset())

    def confirm(self, action: str, args: Mapping[str, Any]) -> ToolContext:
        """The same context with the customer's explicit "yes" to ``action(**args)``."""
        return replace(self, confirmed=self.confirmed | {action_fingerprint(action, args)})

    def is_confirmed(self, action: str, args: Mapping[str, Any]) -> bool:
        return action_fingerprint(action, args) in self.confirmed
