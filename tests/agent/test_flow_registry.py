"""The flow registry is the one list the graph reads: every goal is served, every write a flow proposes
is a real write tool with a "done" message in each language, and what the flows declare agrees with
what the router and the classifier mapping assume."""

from __future__ import annotations

from typing import get_args

import pytest

from agent.flows import DONE_TEMPLATES, REGISTRY
from agent.goals import Goal, Slot
from agent.language import LANGUAGES
from agent.templates import render, template_keys
from agent.understanding import ACCOUNT_GOALS, INTENT_GOALS
from tools.registry import spec

_NOT_FLOWS = {"policy", "complaint", "human"}  # the knowledge base, or a person


def test_every_goal_has_a_flow_or_a_route_of_its_own() -> None:
    assert set(REGISTRY) | _NOT_FLOWS == set(get_args(Goal))
    assert not set(REGISTRY) & _NOT_FLOWS
    for goal, flow in REGISTRY.items():
        assert flow.goal == goal and callable(flow.run)


def test_flows_ask_only_for_known_slots() -> None:
    slots = set(get_args(Slot))
    for flow in REGISTRY.values():
        assert set(flow.slots) <= slots, flow.goal
        if flow.writes:
            assert flow.slots[-1] == "confirmation", flow.goal  # nothing written before a yes


@pytest.mark.parametrize("tool", sorted(DONE_TEMPLATES))
def test_each_write_is_a_write_tool_with_a_done_message(tool: str) -> None:
    assert spec(tool).kind == "write"
    key = DONE_TEMPLATES[tool]
    assert key in template_keys()
    for lang in LANGUAGES:
        assert render(key, lang, order_id="#W1", refunds="", items="", address="", pm="",
                      changes="", difference="", amount="1.00", new="", old="",
                      item="")  # fmt: skip


def test_the_router_and_the_classifier_mapping_agree_with_the_flows() -> None:
    assert {g for g, f in REGISTRY.items() if f.needs_account} == ACCOUNT_GOALS
    assert set(INTENT_GOALS.values()) <= set(get_args(Goal))
