"""The tools as LangChain tools: tau2 names and arguments, and the caller's context from the graph run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from tests.conftest import tau2_db_path
from tests.tools.helpers import as_customer, find_order, orders, snapshot
from tools.context import ToolContext
from tools.langchain import langchain_tools
from tools.orders import get_order_details
from tools.store import Store


def _tau2_tools() -> dict[str, list[str]]:
    spec = json.loads((tau2_db_path().parent / "tools.json").read_text(encoding="utf-8"))
    return {t["name"]: [p["name"] for p in t["parameters"]] for t in spec}


def _model_view(tool: Any) -> dict[str, Any]:
    """The function schema a chat model is shown for ``tool``."""
    view: dict[str, Any] = convert_to_openai_tool(tool)["function"]
    return view


def test_every_tau2_tool_is_exposed_with_its_arguments() -> None:
    expected = _tau2_tools()
    assert len(expected) == 16
    exposed = {t.name: t for t in langchain_tools()}

    assert expected.keys() <= exposed.keys()
    for name, params in expected.items():
        properties = _model_view(exposed[name]).get("parameters", {}).get("properties", {})
        assert list(properties) == params, name


def test_the_model_never_sees_the_runtime() -> None:
    for tool in langchain_tools():
        view = _model_view(tool)
        schema = json.dumps(view["parameters"])
        assert "runtime" not in schema and "ToolContext" not in schema, tool.name
        assert view["description"], tool.name


def test_tools_can_be_chosen_by_name() -> None:
    tools = langchain_tools(["get_order_details", "calculate", "no_such_tool"])

    assert sorted(t.name for t in tools) == ["calculate", "get_order_details"]


def _run_tool_node(ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolMessage:
    graph = StateGraph(MessagesState, context_schema=ToolContext)
    graph.add_node("tools", ToolNode(langchain_tools()))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    call = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "call_1"}])

    state = graph.compile().invoke({"messages": [call]}, context=ctx)

    reply = state["messages"][-1]
    assert isinstance(reply, ToolMessage)
    assert reply.tool_call_id == "call_1"
    return reply


def test_tool_node_answers_with_the_order(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "delivered")
    ctx = ToolContext(tau2_store, customer_id=ref.customer_id)

    reply = _run_tool_node(ctx, "get_order_details", {"order_id": ref.order_id})

    assert json.loads(str(reply.content)) == get_order_details(ctx, ref.order_id)


def test_tool_node_answers_another_customers_order_as_not_found(tau2_store: Store) -> None:
    mine = find_order(tau2_store, "delivered")
    theirs = next(o for o in orders(tau2_store) if o.customer_id != mine.customer_id)

    reply = _run_tool_node(
        ToolContext(tau2_store, customer_id=mine.customer_id),
        "get_order_details",
        {"order_id": theirs.order_id},
    )

    assert reply.content == f"Error: Order {theirs.order_id} was not found."


def test_tool_node_refuses_an_unconfirmed_write(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    reply = _run_tool_node(
        as_customer(tau2_store, ref.customer_id),
        "cancel_pending_order",
        {"order_id": ref.order_id, "reason": "no longer needed"},
    )

    assert str(reply.content).startswith("Error: cancel_pending_order changes the order")
    assert snapshot(tau2_store) == before


def test_tool_node_holds_a_confirmed_large_return_for_approval(tau2_store: Store) -> None:
    ref = next(o for o in orders(tau2_store, "delivered") if o.total_cents > 0)
    args = {
        "order_id": ref.order_id,
        "item_ids": list(ref.item_ids),
        "payment_method_id": ref.payment_method_id,
    }
    ctx = as_customer(tau2_store, ref.customer_id, approval_over_cents=ref.total_cents - 1)
    before = snapshot(tau2_store)

    # The model got the customer's yes: still a staff member must approve this amount.
    confirmed = ctx.confirm("return_delivered_order_items", args)
    reply = _run_tool_node(confirmed, "return_delivered_order_items", args)

    assert reply.status == "error"
    assert f"${ref.total_cents / 100:.2f}" in str(reply.content)
    assert "approval" in str(reply.content)
    assert snapshot(tau2_store) == before
    approved = confirmed.approve("return_delivered_order_items", args, "staff-1")
    done = _run_tool_node(approved, "return_delivered_order_items", args)
    assert json.loads(str(done.content))["status"] == "return requested"


@pytest.mark.parametrize(
    ("args", "problem"),
    [({}, "order_id"), ({"order_id": "#W1", "user_id": "someone"}, "user_id")],
)
def test_tool_node_reports_wrong_arguments(
    tau2_store: Store, args: dict[str, Any], problem: str
) -> None:
    ref = find_order(tau2_store, "pending")

    reply = _run_tool_node(as_customer(tau2_store, ref.customer_id), "get_order_details", args)

    assert str(reply.content).startswith("Error")
    assert problem in str(reply.content)


def test_tool_node_without_a_verified_customer_asks_for_authentication(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")

    reply = _run_tool_node(ToolContext(tau2_store), "get_order_details", {"order_id": ref.order_id})

    assert str(reply.content).startswith("Error: The customer is not authenticated")
