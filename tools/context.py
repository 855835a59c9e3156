"""Who is calling a tool: the conversation's verified identity and the actions its customer confirmed.

The agent (or the shell, or an API route) builds a ``ToolContext`` from conversation state it controls; a
tool never takes the caller's identity from its own arguments, which the model writes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tools.settings import get_settings
from tools.store import Store


def _approval_threshold_cents() -> int:
    return round(get_settings().approval_amount * 100)


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
    confirmed: Mapping[str, str] = field(default_factory=dict)
    """The writes the customer explicitly confirmed: ``action_fingerprint`` -> confirmation id. One
    confirmation authorises one effect: retries under it replay the result, a new "yes" acts anew."""
    approved: Mapping[str, str] = field(default_factory=dict)
    """The confirmed writes a staff member approved: ``action_fingerprint`` -> who approved. Only
    writes over ``approval_over_cents`` need one."""
    approval_over_cents: int = field(default_factory=_approval_threshold_cents)
    """Returns and exchanges moving more than this many cents need a staff member's approval (the
    shop's ``approval_amount`` setting unless the caller's per-run knobs say otherwise)."""
    actor: str = "agent"
    """Recorded in the audit log with every write: ``agent``, ``shell``, ``human:<name>``..."""
    conversation_id: str | None = None

    def authenticated(self, customer_id: str) -> ToolContext:
        """The same context, now speaking for ``customer_id`` (earlier confirmations and approvals are
        dropped)."""
        return replace(self, customer_id=customer_id, confirmed={}, approved={})

    def confirm(
        self, action: str, args: Mapping[str, Any], confirmation_id: str | None = None
    ) -> ToolContext:
        """The same context with the customer's explicit "yes" to ``action(**args)``.

        ``confirmation_id`` names that "yes" (an agent passes one it keeps in conversation state, so a
        retry after a restart replays instead of acting twice); by default a fresh one is made.
        """
        fingerprint = action_fingerprint(action, args)
        return replace(
            self, confirmed={**self.confirmed, fingerprint: confirmation_id or uuid.uuid4().hex}
        )

    def approve(self, action: str, args: Mapping[str, Any], approver: str) -> ToolContext:
        """The same context with a staff member's approval of ``action(**args)``; the customer's
        confirmation is still needed."""
        fingerprint = action_fingerprint(action, args)
        return replace(self, approved={**self.approved, fingerprint: approver})

    def is_confirmed(self, action: str, args: Mapping[str, Any]) -> bool:
        return action_fingerprint(action, args) in self.confirmed
