"""LLM paths with a scripted chat model at the provider boundary: validated plans, writes put to the
customer, rejected plans explained, grounded rewriting, fallbacks on failure and on made-up facts."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from agent.choices import Choices, plan_schema
from agent.llm import (
    LLM,
    PLANNER_PROMPT,
    PLANNER_TOOLS,
    WRITER_PROMPT,
    Plan,
    PlanError,
    _tool_catalog,
    validate_plan,
    writer_max_tokens,
)
from tests.agent.conftest import AgentFactory, find_order, order_status, two_customers
from tools.registry import args_model


class ScriptedChatModel(GenericFakeChatModel):
    """Answers with the scripted messages in order and records what it was sent; tool binding is a
    no-op (the script already holds the tool calls a function-calling model would make)."""

    delay_s: float = 0.0
    calls: list[tuple[list[BaseMessage], dict[str, Any]]] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.calls.append((list(messages), dict(kwargs)))
        time.sleep(self.delay_s)
        return super()._generate(messages, *args, **kwargs)

    def writer_calls(self) -> list[tuple[list[BaseMessage], dict[str, Any]]]:
        return [
            (messages, kwargs)
            for messages, kwargs in self.calls
            if messages and messages[0] == SystemMessage(WRITER_PROMPT)
        ]


def scripted(*messages: AIMessage, delay_s: float = 0.0) -> ScriptedChatModel:
    it: Iterator[AIMessage] = iter(messages)
    return ScriptedChatModel(messages=it, delay_s=delay_s)


def plan_call(**plan: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": "Plan", "args": plan, "id": "call_1"}])


def test_plan_validation_uses_the_tools_schemas() -> None:
    ok = Plan(action="tool", tool="track_order", arguments={"order_id": "#W1"})
    assert validate_plan(ok) == ok
    for bad in (
        Plan(action="tool", tool="drop_database", arguments={}),
        Plan(action="tool", tool="track_order", arguments={"order": "#W1"}),
        Plan(action="tool", tool="find_user_id_by_email", arguments={"email": "a@b.co"}),
        Plan(action="tool", tool=" ", reply="Here is your order."),
    ):
        with pytest.raises(PlanError):
            validate_plan(bad)


@pytest.mark.parametrize(
    "plan",
    [
        Plan(action="reply", reply=" "),
        Plan(action="reply"),
        # Replies that also name a tool: did the model mean to act? Its text may claim it did.
        Plan(action="reply", tool="cancel_pending_order", reply="I have cancelled your order."),
        Plan(action="reply", arguments={"order_id": "#W1"}, reply="Done."),
    ],
)
def test_inconsistent_reply_plans_are_refused(plan: Plan) -> None:
    with pytest.raises(PlanError):
        validate_plan(plan)


def test_plans_are_normalised_to_one_shape() -> None:
    # A tool plan's text was written before the tool ran: it is dropped, the call kept.
    tool = validate_plan(
        Plan(action="tool", tool=" track_order", arguments={"order_id": "#W1"}, reply="On its way!")
    )
    assert (tool.tool, tool.arguments, tool.reply) == ("track_order", {"order_id": "#W1"}, None)
    # Blank fields a small model fills in count as absent.
    reply = validate_plan(Plan(action="reply", tool="", reply="  Hello!  "))
    assert (reply.tool, reply.arguments, reply.reply) == (None, {}, "Hello!")
    # A "reply" with nothing to say but a tool call (as the 0.5B model writes them) is that call.
    mislabelled = Plan(action="reply", tool="track_order", arguments={"order_id": "#W1"})
    assert validate_plan(mislabelled) == Plan(
        action="tool", tool="track_order", arguments={"order_id": "#W1"}
    )


def test_the_planner_prompt_lists_tools_compactly_before_the_customer() -> None:
    catalog = _tool_catalog()
    assert [line.split("(")[0] for line in catalog.splitlines()] == [
        f"- {name}" for name in PLANNER_TOOLS
    ]
    assert 'get_order_details(order_id="#W0000000")' in catalog
    assert 'reason="no longer needed" or "ordered by mistake"' in catalog
    assert '"title"' not in catalog and '"type"' not in catalog  # no JSON schema to copy from
    # Only the last line depends on the customer: the rest is a prefix the prompt cache keeps.
    a, b = (PLANNER_PROMPT.format(customer=c, tools=catalog) for c in ("ann_1", "bob_2"))
    assert a.rsplit("\n", 1)[0] == b.rsplit("\n", 1)[0] and a != b


def test_planned_read_runs_and_the_reply_is_rewritten(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    model = scripted(
        plan_call(action="tool", tool="get_order_details", arguments={"order_id": order.id}),
        AIMessage(f"Your order {order.id} has been delivered."),
    )
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "hmm, what about that purchase of mine")
    assert r.tools == ["get_order_details"]
    assert r.reply == f"Your order {order.id} has been delivered." and r.grounded
    # The draft the writer started from (and the fallback) is plain words, not a field dump.
    draft = h.agent.state("c").draft
    assert "delivered" in draft and order.items[0].name in draft
    assert "user_id" not in draft and "order_id" not in draft and customer.id not in draft


def test_planned_write_waits_for_the_customers_yes(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    args = {"order_id": order.id, "reason": "no longer needed"}
    model = scripted(
        plan_call(action="tool", tool="cancel_pending_order", arguments=args),
        AIMessage("Shall I cancel it? (yes/no)"),
    )
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of that purchase of mine")
    assert order_status(h.store, order.id) == "pending"
    assert h.agent.state("c").pending is not None and "yes/no" in r.reply
    # Put to the customer in the flows' own words: the order and its items, no tool call or ids.
    assert "cancel_pending_order" not in r.reply and "order_id=" not in r.reply
    assert order.id in r.reply and order.items[0].name in r.reply


def test_a_planned_large_return_waits_for_a_humans_approval(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=2)
    item_ids = [i.item_id for i in order.items]
    worth = round(sum(i.price_cents for i in order.items) / 100, 2)
    pm = order.transactions[0].payment_method_id
    args = {"order_id": order.id, "item_ids": item_ids, "payment_method_id": pm}
    model = scripted(plan_call(action="tool", tool="return_delivered_order_items", arguments=args))
    # The shop's threshold sits just under what this return refunds; the plan says nothing of money.
    h = make_agent(
        verified_customer_id=customer.id,
        llm=LLM(model),
        min_confidence=1.01,
        risky_amount=worth - 1,
    )
    h.agent.send("c", "send all of that stuff back please")
    pending = h.agent.state("c").pending
    assert pending is not None and pending["amount"] == worth and pending["needs_approval"]

    r = h.agent.send("c", "yes")

    assert r.awaiting_approval is not None and r.awaiting_approval["amount"] == worth
    assert order_status(h.store, order.id) == "delivered"
    r = h.agent.resume("c", {"action": "approve", "by": "staff-1"})
    assert order_status(h.store, order.id) == "return requested"


def test_a_plan_naming_another_customers_order_never_reaches_a_tool(
    make_agent: AgentFactory,
) -> None:
    (_, me), (theirs, them) = two_customers(make_agent().store)
    model = scripted(
        plan_call(action="tool", tool="get_order_details", arguments={"order_id": theirs.id}),
        AIMessage("I couldn't find that order."),
    )
    h = make_agent(verified_customer_id=me.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "show me that purchase")
    assert not any(c["arguments"].get("order_id") == theirs.id for c in r.tool_calls)
    assert them.email not in r.reply and theirs.id not in r.reply


def test_a_plan_for_another_order_than_the_one_named_is_not_used(make_agent: AgentFactory) -> None:
    # A model held to the customer's own ids picks one of theirs when the message names another.
    order, customer = find_order(make_agent().store, "pending")
    args = {"order_id": order.id, "reason": "no longer needed"}
    model = scripted(plan_call(action="tool", tool="cancel_pending_order", arguments=args))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of #W9999999 for me")
    assert h.agent.state("c").pending is None and order.id not in r.reply
    assert order_status(h.store, order.id) == "pending"


def test_a_plan_the_tools_reject_is_explained_not_retried(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    args = {"order_id": order.id, "reason": "no longer needed"}
    model = scripted(
        plan_call(action="tool", tool="cancel_pending_order", arguments=args),
        AIMessage("Done!"),
    )
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of that thing")
    writes = [c for c in r.tool_calls if c["name"] == "cancel_pending_order"]
    assert [c["ok"] for c in writes] == [False]  # one call, refused; no second try
    assert "can't" in r.reply.lower() and order_status(h.store, order.id) == "delivered"


def test_the_planner_chooses_from_the_customers_own_ids() -> None:
    choices = Choices(
        user_ids=("mei_1",),
        order_ids=("#W1", "#W2"),
        item_ids=("111",),
        variant_ids=("222", "333"),
        payment_method_ids=("paypal_1",),
        product_ids=("p1",),
    )
    schema = plan_schema(PLANNER_TOOLS, choices, lambda t: args_model(t).model_json_schema())
    arguments = schema["properties"]["arguments"]["properties"]
    assert arguments["order_id"]["enum"] == ["#W1", "#W2"]
    assert arguments["item_ids"]["items"]["enum"] == ["111"]
    assert arguments["new_item_ids"]["items"]["enum"] == ["222", "333"]
    assert arguments["payment_method_id"]["enum"] == ["paypal_1"]
    assert arguments["user_id"]["enum"] == ["mei_1"]
    assert schema["properties"]["arguments"]["additionalProperties"] is False
    assert schema["properties"]["tool"]["enum"] == [*PLANNER_TOOLS, "reply"]
    good = Plan(action="tool", tool="return_delivered_order_items",
                arguments={"order_id": "#W1", "item_ids": ["111"],
                           "payment_method_id": "paypal_1"})  # fmt: skip
    assert validate_plan(good, choices) is not None
    for wrong in (
        {"order_id": "#W9", "item_ids": ["111"], "payment_method_id": "paypal_1"},
        {"order_id": "#W1", "item_ids": ["999"], "payment_method_id": "paypal_1"},
        {"order_id": "#W1", "item_ids": ["111"], "payment_method_id": "credit_card_7"},
    ):
        with pytest.raises(PlanError):
            validate_plan(good.model_copy(update={"arguments": wrong}), choices)


def test_made_up_facts_are_replaced_by_the_template(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    model = scripted(AIMessage(f"Order {order.id} was refunded $999.99 on 2020-01-01."))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model))
    r = h.agent.send("c", f"where is my order {order.id}?")
    assert not r.grounded and "$999.99" not in r.reply
    assert order.id in r.reply and "delivered" in r.reply
    assert h.agent.state("c").ungrounded_replies == 1


def test_llm_timeout_falls_back_to_templates(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    model = scripted(AIMessage("too late"), delay_s=2.0)
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model, timeout_s=0.2))
    r = h.agent.send("c", f"where is my order {order.id}?")
    assert r.reply != "too late" and order.id in r.reply
    assert h.agent.state("c").llm_failures == 1


def test_history_is_capped_and_summarised(make_agent: AgentFactory) -> None:
    h = make_agent(history_messages=4)
    for text in ["do you have the water bottle in stock?", "and the backpack?", "and a tent?"]:
        h.agent.send("c", text)
    state = h.agent.state("c")
    assert len(state.messages) <= 6
    assert "water bottle" in state.summary


def test_spanish_is_kept_when_the_llm_fails(make_agent: AgentFactory) -> None:
    model = scripted(delay_s=0.0)
    h = make_agent(llm=LLM(model, timeout_s=0.5))
    r = h.agent.send("c", "hola, ¿tienen la botella de agua disponible?")
    assert r.language == "es"
    assert "disponible" in r.reply or "catálogo" in r.reply


def test_the_writer_gets_the_draft_a_constant_prompt_and_a_cap(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    english = f"Your order {order.id} has been delivered."
    spanish = f"Su pedido {order.id} ha sido entregado."
    model = scripted(AIMessage(english), AIMessage(spanish))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model))

    r = h.agent.send("en", f"where is my order {order.id}?")
    es = h.agent.send("es", f"¿dónde está mi pedido {order.id}?")

    assert (r.reply, es.reply) == (english, spanish)
    calls = model.writer_calls()
    assert len(calls) == 2
    for (messages, kwargs), state in zip(
        calls, (h.agent.state("en"), h.agent.state("es")), strict=True
    ):
        # The same system prompt whatever the language: a prefix the server's cache keeps.
        assert messages[0] == SystemMessage(WRITER_PROMPT)
        prompt = str(messages[-1].content)
        assert state.draft in prompt
        # Not the evidence behind the draft: the order's full record stays out of the prompt.
        assert (
            "payment_history" not in prompt and "payment_history" in state.tool_calls[0]["result"]
        )
        assert kwargs["max_tokens"] == writer_max_tokens(state.draft)
    assert "Spanish" in str(calls[1][0][-1].content)


def test_no_writer_call_for_a_templated_question(make_agent: AgentFactory) -> None:
    order, _ = find_order(make_agent().store, "delivered")
    model = scripted()
    h = make_agent(llm=LLM(model))
    r = h.agent.send("c", f"where is my order {order.id}?")
    assert "email" in r.reply and h.agent.state("c").awaiting == "identity"
    assert model.calls == [] and h.agent.state("c").llm_failures == 0


@pytest.mark.parametrize(
    ("rewrite", "metadata"),
    [
        ("Your order is on its way!", {}),  # the order number is gone
        ("Your order {order_id} was deliv", {"finish_reason": "length"}),  # cut at the cap
    ],
)
def test_a_rewrite_that_loses_facts_or_is_cut_sends_the_draft(
    make_agent: AgentFactory, rewrite: str, metadata: dict[str, Any]
) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    message = AIMessage(rewrite.format(order_id=order.id), response_metadata=metadata)
    h = make_agent(verified_customer_id=customer.id, llm=LLM(scripted(message)))
    r = h.agent.send("c", f"where is my order {order.id}?")
    state = h.agent.state("c")
    assert r.reply == state.draft and order.id in r.reply and "delivered" in r.reply
    assert not state.llm_used
