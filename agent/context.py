"""Per-run knobs of the agent and the services it talks to, passed as the graph's ``context_schema``."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agent.llm import LLM
    from classifiers import Classifier
    from knowledge import KnowledgeBase
    from tools.settings import Settings
    from tools.store import Store

LLMMode = Literal["none", "local", "openai"]


@dataclass(frozen=True)
class Context:
    """Thresholds and services for one run of the graph (read by nodes through ``Runtime[Context]``).

    Services left as None are opened from the process settings on first use, so the module-level graph
    works under LangGraph tooling too."""

    min_confidence: float = 0.5
    """From this calibrated confidence the classifier's intent picks the goal; below it the message's
    cues do, and with none the agent asks once, then escalates."""
    negative_sentiment: float = -0.85
    """A sentiment score (P(pos) - P(neg)) at or below this escalates. Anger ("I'm furious", "your
    shop is a scam") scores -0.89 and below; a mild complaint with a request the agent can act on
    ("it got sent to Texas by accident, what's the tracking number?") scores about -0.6 to -0.75,
    and is helped rather than handed off."""
    severity_escalation: int = 4
    """A severity level at or above this escalates."""
    vip_spend: float = 5000.0
    """Lifetime spend in dollars from which a complaining customer goes straight to a human."""
    risky_amount: float = 500.0
    """Returns and exchanges moving more dollars than this wait for a human's approval (the tools
    enforce it: the agent's ``ToolContext`` carries it)."""
    top_k: int = 3
    """Passages retrieved for a policy question."""
    llm_mode: LLMMode = "none"
    llm_routes: Literal["fallback", "requests"] = "fallback"
    """When the LLM chooses the flow (``Settings.agent_llm_routes``)."""
    llm_timeout_s: float = 20.0
    llm_turn_budget_s: float | None = None
    """How long a served turn waits for the LLM (``Settings.llm_turn_budget_s``): a channel sets
    ``turn_deadline`` from it. None: no limit but ``llm_timeout_s`` a call (offline evaluations)."""
    turn_deadline: float | None = None
    """The ``time.monotonic()`` instant after which this turn starts no LLM call and waits for no
    first words from one: it answers from templates instead."""
    prompt_tokens: int = 3000
    """Token budget of one LLM prompt (history is trimmed to fit)."""
    history_messages: int = 30
    """Messages kept in state; older ones are folded into the summary."""
    verified_customer_id: str | None = None
    """An identity the channel already verified (a signed widget login); None: ask the customer."""
    conversation_id: str | None = None
    store: Store | None = None
    classifier: Classifier | None = None
    kb: KnowledgeBase | None = None
    llm: LLM | None = None

    def for_turn(self, conversation_id: str, **overrides: Any) -> Context:
        """This context for one turn of ``conversation_id``: its LLM budget starts now."""
        budget = self.llm_turn_budget_s
        deadline = time.monotonic() + budget if budget is not None else None
        return replace(self, conversation_id=conversation_id, turn_deadline=deadline, **overrides)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Context:
        """The knobs as configured (``CONCIERGE_AGENT_*``), with ``overrides`` applied."""
        base = cls(
            min_confidence=settings.agent_min_confidence,
            negative_sentiment=settings.agent_negative_sentiment,
            severity_escalation=settings.agent_severity_escalation,
            vip_spend=settings.agent_vip_spend,
            risky_amount=settings.approval_amount,
            top_k=settings.agent_top_k,
            llm_mode=settings.agent_llm,
            llm_routes=settings.agent_llm_routes,
            llm_timeout_s=settings.llm_timeout_s,
            llm_turn_budget_s=settings.llm_turn_budget_s,
            prompt_tokens=settings.llm_prompt_tokens,
            history_messages=settings.agent_history_messages,
        )
        return replace(base, **overrides)
