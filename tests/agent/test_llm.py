"""LLM paths with a scripted chat model at the provider boundary: validated plans, writes put to the
customer, rejected plans explained, grounded rewriting, fallbacks on failure and on made-up facts."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk

from agent.choices import Choices, plan_schema, step_tools
from agent.llm import (
    LLM,
    PLANNER_PROMPT,
    WRITER_PROMPT,
    Plan,
    PlanError,
    WriterFailed,
    _tool_catalog,
    validate_plan,
    writer_max_tokens,
)
from agent.nodes import planner_steps
from tests.agent.conftest import AgentFactory, find_order, order_status, two_customers


class ScriptedChatModel(GenericFakeChatModel):
    """Answers with the scripted messages in order and records what it was sent; tool binding is a
    no-op (the script already holds the tool calls a function-calling model would make)."""

    delay_s: float = 0.0
    calls: list[tuple[list[BaseMessage], dict[str, Any]]] = []
    bound: list[Any] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        self.bound = list(tools)
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.calls.append((list(messages), dict(kwargs)))
        time.sleep(self.delay_s)
        result = super()._generate(messages, *args, **kwargs)
        self.metadata_of_last = dict(result.generations[0].message.response_metadata)
        return result

    metadata_of_last: dict[str, Any] = {}

    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        yield from super()._stream(messages, *args, **kwargs)
        # As an OpenAI-compatible server streams: the finish reason comes with the last chunk.
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata=self.metadata_of_last)
        )

    def writer_calls(self) -> list[tuple[list[BaseMessage], dict[str, Any]]]:
        return [
            (messages, kwargs)
            for messages, kwargs in self.calls
            if messages and messages[0] == SystemMessage(WRITER_PROMPT)
        ]


def scripted(*messages: AIMessage, delay_s: float = 0.0) -> ScriptedChatModel:
    it: Iterator[AIMessage] = iter(messages)
    return ScriptedChatModel(messages=it, delay_s=delay_s)


def plan_call(tool: str, arguments: dict[str, Any]) -> AIMessage:
    """What a model with native function calling answers: a call of one step's tool."""
    return AIMessage("", tool_calls=[{"name": tool, "args": arguments, "id": "call_1"}])


def schema_call(**plan: Any) -> AIMessage:
    """What a small local model answers when its decoding is held to the planner's schema."""
    return AIMessage(json.dumps(plan))


def customer_order_ids(store: Any, customer_id: str) -> list[str]:
    from sqlalchemy import select

    from tools.models import Order

    with store.read() as s:
        query = select(Order.id).where(Order.customer_id == customer_id).order_by(Order.id)
        return [str(i) for i in s.scalars(query)]


def test_plan_validation_uses_the_steps_arguments() -> None:
    steps = planner_steps()
    ok = Plan(action="tool", tool="track_order", arguments={"order_id": "#W1"})
    assert validate_plan(ok, steps) == ok
    for bad in (
        Plan(action="tool", tool="drop_database", arguments={}),
        Plan(action="tool", tool="track_order", arguments={"order": "#W1"}),
        Plan(action="tool", tool="return_item", arguments={"item_ids": "111"}),
        Plan(action="tool", tool="find_user_id_by_email", arguments={"email": "a@b.co"}),
        Plan(action="tool", tool="get_product_details", arguments={"product": "p1"}),
        Plan(action="tool", tool=" ", reply="Here is your order."),
        # No write tool is a step: a model can only start a flow, which checks and confirms.
        Plan(
            action="tool",
            tool="cancel_pending_order",
            arguments={"order_id": "#W1", "reason": "no longer needed"},
        ),  # fmt: skip
    ):
        with pytest.raises(PlanError):
            validate_plan(bad, steps)


@pytest.mark.parametrize(
    "plan",
    [
        Plan(action="reply", reply=" "),
        Plan(action="reply"),
        # Replies that also name a step: did the model mean to act? Its text may claim it did.
        Plan(action="reply", tool="cancel_order", reply="I have cancelled your order."),
        Plan(action="reply", arguments={"order_id": "#W1"}, reply="Done."),
    ],
)
def test_inconsistent_reply_plans_are_refused(plan: Plan) -> None:
    with pytest.raises(PlanError):
        validate_plan(plan, planner_steps())


def test_plans_are_normalised_to_one_shape() -> None:
    steps = planner_steps()
    # A step's text was written before the flow ran: it is dropped, the step kept.
    tool = validate_plan(
        Plan(
            action="tool", tool=" track_order", arguments={"order_id": "#W1"}, reply="On its way!"
        ),
        steps,
    )
    assert (tool.tool, tool.arguments, tool.reply) == ("track_order", {"order_id": "#W1"}, None)
    # Blank fields a small model fills in count as absent.
    reply = validate_plan(Plan(action="reply", tool="", reply="  Hello!  "), steps)
    assert (reply.tool, reply.arguments, reply.reply) == (None, {}, "Hello!")
    # A "reply" with nothing to say but a step (as the 0.5B model writes them) is that step.
    mislabelled = Plan(action="reply", tool="track_order", arguments={"order_id": "#W1"})
    assert validate_plan(mislabelled, steps) == Plan(
        action="tool", tool="track_order", arguments={"order_id": "#W1"}
    )


def test_the_planner_prompt_lists_the_flows_compactly_before_the_customer() -> None:
    steps = planner_steps()
    catalog = _tool_catalog(steps)
    names = [line.split("(")[0] for line in catalog.splitlines()]
    assert names == [f"- {step.name}" for step in steps]
    # Every flow is a step, then the policy answer and the read tools; no write tool.
    assert {"- return_item", "- exchange_item", "- cancel_order", "- policy"} <= set(names)
    assert not {"- cancel_pending_order", "- return_delivered_order_items"} & set(names)
    assert "- return_item(order_id=" in catalog and "item_ids=" in catalog
    assert '"title"' not in catalog and '"type"' not in catalog  # no JSON schema to copy from
    # Only the lines after the catalog depend on the customer: the rest is a prefix the prompt
    # cache keeps.
    a, b = (
        PLANNER_PROMPT.format(customer=c, tools=catalog, legend=f"order #W{c}")
        for c in ("ann_1", "bob_2")
    )
    prefix = PLANNER_PROMPT.split("{customer}")[0].format(tools=catalog)
    assert a.startswith(prefix) and b.startswith(prefix) and a != b


def test_planned_read_runs_its_flow_and_the_reply_is_rewritten(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    model = scripted(
        plan_call(tool="track_order", arguments={"order_id": order.id}),
        AIMessage(f"Your order {order.id} has been delivered."),
    )
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "hmm, what about that purchase of mine")
    assert "get_order_details" in r.tools
    assert r.reply == f"Your order {order.id} has been delivered." and r.grounded
    # The draft the writer started from (and the fallback) is plain words, not a field dump.
    draft = h.agent.state("c").draft
    assert "delivered" in draft and order.items[0].name in draft
    assert "user_id" not in draft and "order_id" not in draft and customer.id not in draft


def test_a_planned_cancellation_waits_for_the_customers_yes(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "pending")
    args = {"order_id": order.id, "reason": "no longer needed"}
    model = scripted(
        plan_call(tool="cancel_order", arguments=args),
        AIMessage("Shall I cancel it? (yes/no)"),
    )
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of that purchase of mine")
    assert order_status(h.store, order.id) == "pending"
    pending = h.agent.state("c").pending
    assert pending is not None and pending["tool"] == "cancel_pending_order"
    assert pending["arguments"] == args and "yes/no" in r.reply
    # Put to the customer in the flow's own words: the order and its items, no tool call or ids.
    draft = h.agent.state("c").draft
    assert "cancel_pending_order" not in draft and "order_id=" not in draft
    assert order.id in draft and order.items[0].name in draft


def test_a_planned_large_return_waits_for_a_humans_approval(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered", min_items=2)
    item_ids = [i.item_id for i in order.items]
    worth = round(sum(i.price_cents for i in order.items) / 100, 2)
    pm = order.transactions[0].payment_method_id
    args = {"order_id": order.id, "item_ids": item_ids, "payment_method_id": pm}
    model = scripted(plan_call(tool="return_item", arguments=args))
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
    assert sorted(pending["arguments"]["item_ids"]) == sorted(item_ids)

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
        plan_call(tool="track_order", arguments={"order_id": theirs.id}),
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
    model = scripted(plan_call(tool="cancel_order", arguments=args))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of #W9999999 for me")
    assert h.agent.state("c").pending is None and order.id not in r.reply
    assert order_status(h.store, order.id) == "pending"


def test_a_plan_the_tools_reject_is_explained_not_retried(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    args = {"order_id": order.id, "reason": "no longer needed"}
    model = scripted(plan_call(tool="cancel_order", arguments=args), AIMessage("Done!"))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), min_confidence=1.01)
    r = h.agent.send("c", "get rid of that thing")
    writes = [c for c in r.tool_calls if c["name"] == "cancel_pending_order"]
    assert [c["ok"] for c in writes] == [False]  # one call, refused; no second try
    assert "can't" in h.agent.state("c").draft.lower()
    assert order_status(h.store, order.id) == "delivered"


def test_the_planner_chooses_from_the_customers_own_ids() -> None:
    choices = Choices(
        user_ids=("mei_1",),
        order_ids=("#W1", "#W2"),
        item_ids=("111",),
        variant_ids=("222", "333"),
        payment_method_ids=("paypal_1",),
        product_ids=("p1",),
    )
    steps = planner_steps()
    schema = plan_schema(steps, choices)
    arguments = schema["properties"]["arguments"]["properties"]
    assert arguments["order_id"]["enum"] == ["#W1", "#W2"]
    assert arguments["item_ids"]["items"]["enum"] == ["111"]
    assert arguments["new_item_ids"]["items"]["enum"] == ["222", "333"]
    assert arguments["payment_method_id"]["enum"] == ["paypal_1"]
    assert arguments["reason"]["enum"] == ["no longer needed", "ordered by mistake"]
    assert schema["properties"]["arguments"]["additionalProperties"] is False
    assert schema["properties"]["tool"]["enum"] == [*(s.name for s in steps), "reply"]
    # The same steps as native tools, one each, under the same enums.
    tools = {t["function"]["name"]: t["function"] for t in step_tools(steps, choices)}
    assert set(tools) == {*(s.name for s in steps), "reply"}
    exchange = tools["exchange_item"]["parameters"]["properties"]
    assert exchange["new_item_ids"]["items"]["enum"] == ["222", "333"]
    assert set(exchange) == {"order_id", "item_ids", "new_item_ids", "payment_method_id"}
    good = Plan(action="tool", tool="return_item",
                arguments={"order_id": "#W1", "item_ids": ["111"],
                           "payment_method_id": "paypal_1"})  # fmt: skip
    assert validate_plan(good, steps, choices) is not None
    for wrong in (
        {"order_id": "#W9", "item_ids": ["111"], "payment_method_id": "paypal_1"},
        {"order_id": "#W1", "item_ids": ["999"], "payment_method_id": "paypal_1"},
        {"order_id": "#W1", "item_ids": ["111"], "payment_method_id": "credit_card_7"},
        {"order_id": "#W1", "item_ids": ["111"], "new_item_ids": ["222"]},  # not a return's
    ):
        with pytest.raises(PlanError):
            validate_plan(good.model_copy(update={"arguments": wrong}), steps, choices)


def _exchangeable(store: Any, *, all_dearer: bool = False) -> tuple[Any, Any, Any, Any]:
    """A delivered order, its customer, an item in it and another available variant of that item's
    product that costs more (with ``all_dearer``, the cheapest of the others, all costing more)."""
    from sqlalchemy import select

    from tools.models import Order, Variant

    with store.read() as s:
        for order in s.scalars(select(Order).where(Order.status == "delivered").order_by(Order.id)):
            for item in order.items:
                others = s.scalars(
                    select(Variant).where(
                        Variant.product_id == item.product_id,
                        Variant.id != item.item_id,
                        Variant.available.is_(True),
                    )
                ).all()
                dearer = sorted(
                    (v for v in others if v.price_cents > item.price_cents),
                    key=lambda v: v.price_cents,
                )
                if all_dearer and len(dearer) < len(others):
                    continue
                if dearer and len(order.items) == 1:
                    customer = order.customer
                    _ = list(order.transactions), dict(dearer[0].options)
                    s.expunge_all()
                    return order, customer, item, dearer[0]
    raise AssertionError("no exchangeable order in the demo shop")


def test_a_conditional_request_is_read_by_the_llm_and_its_flow_confirms(
    make_agent: AgentFactory,
) -> None:
    order, customer, item, dearer = _exchangeable(make_agent().store)
    # "if one costs less ...; if none does, return it instead": a condition the rules do not read
    # as a fall-back, so the model (here scripted, as if it compared the prices) starts the
    # return.
    pm = order.transactions[0].payment_method_id
    args = {"order_id": order.id, "item_ids": [item.item_id], "payment_method_id": pm}
    # A small local model fills in the one-object schema rather than calling a tool by name.
    model = scripted(schema_call(tool="return_item", arguments=args))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model, name="local"))
    name = item.name.lower()
    r = h.agent.send(
        "c",
        f"I'd like to exchange my {name} from order {order.id} for another one if one costs less "
        f"than ${item.price_cents / 100 - 1:.0f}; if none does, just return it instead",
    )
    state = h.agent.state("c")
    assert state.pending is not None and state.pending["tool"] == "return_delivered_order_items"
    assert state.pending["arguments"] == args and not state.queue
    assert "yes" in r.reply.lower() and order_status(h.store, order.id) == "delivered"
    # The model saw what the ids stand for: the item by name and price, the payment methods.
    planned = [(m, kw) for m, kw in model.calls if m and "planning step" in str(m[0].content)]
    system, kwargs = planned[0][0][0], planned[0][1]
    # Held to a schema whose enums are this customer's own ids (llama.cpp's grammar), not sent as
    # a tool.
    schema = kwargs["response_format"]["schema"]
    assert schema["properties"]["arguments"]["properties"]["item_ids"]["items"]["enum"] == [
        item.item_id
    ]
    assert f"item {item.item_id}: {item.name}" in str(system.content)
    assert f"payment method {pm}:" in str(system.content)


def test_a_fall_back_the_rules_read_does_not_wait_for_the_llm(make_agent: AgentFactory) -> None:
    order, customer, item, dearer = _exchangeable(make_agent().store, all_dearer=True)
    model = scripted(AIMessage("unused"))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model, name="local"))
    extra = (dearer.price_cents - item.price_cents) / 100
    h.agent.send(
        "c",
        f"could you swap the {item.name.lower()} in {order.id} for another one if it's no more "
        f"than ${max(extra - 1, 0):.2f} extra? otherwise I'll just return it",
    )
    assert not [m for m, _ in model.calls if m and "planning step" in str(m[0].content)]
    # Nothing costs that little more: the return the customer asked for instead is put to them.
    state = h.agent.state("c")
    pending = state.pending
    assert "other option" in state.draft, state.draft
    assert pending is not None and pending["tool"] == "return_delivered_order_items"
    assert pending["arguments"]["item_ids"] == [item.item_id]


def test_an_understood_request_does_not_wait_for_the_llm(make_agent: AgentFactory) -> None:
    order, customer, item, _ = _exchangeable(make_agent().store)
    model = scripted(AIMessage("unused"))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model))
    h.agent.send("c", f"I want to return the {item.name.lower()} from order {order.id}")
    assert not [m for m, _ in model.calls if m and "planning step" in str(m[0].content)]
    assert h.agent.state("c").goal == "return_item"


def test_a_capable_endpoint_chooses_the_flow_by_native_function_calling(
    make_agent: AgentFactory,
) -> None:
    order, customer, item, dearer = _exchangeable(make_agent().store)
    call = {"name": "exchange_item", "id": "call_1",
            "args": {"order_id": order.id, "item_ids": [item.item_id],
                     "new_item_ids": [dearer.id]}}  # fmt: skip
    model = scripted(AIMessage("", tool_calls=[call]))
    h = make_agent(
        verified_customer_id=customer.id, llm=LLM(model, name="openai"), llm_routes="requests"
    )
    wanted = ", ".join(str(v) for v in dearer.options.values())
    h.agent.send(
        "c", f"could the {item.name.lower()} in {order.id} be swapped for the {wanted} one"
    )
    pending = h.agent.state("c").pending
    assert pending is not None and pending["tool"] == "exchange_delivered_order_items"
    assert pending["arguments"]["new_item_ids"] == [dearer.id]
    assert pending["arguments"]["item_ids"] == [item.item_id]
    # It was offered one tool per flow, each under this customer's enums, and no write tool.
    tools = {t["function"]["name"]: t["function"] for t in model.bound}
    assert "exchange_item" in tools and "exchange_delivered_order_items" not in tools
    assert tools["exchange_item"]["parameters"]["properties"]["order_id"]["enum"] == list(
        customer_order_ids(h.store, customer.id)
    )
    assert order_status(h.store, order.id) == "delivered"


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


class TrickleChatModel(ScriptedChatModel):
    """Streams its scripted reply a word at a time, ``word_s`` apart, as a local model does."""

    word_s: float = 0.0
    produced_at: list[float] = []

    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        for chunk in super()._stream(messages, *args, **kwargs):
            time.sleep(self.word_s)
            self.produced_at.append(time.perf_counter())
            yield chunk


def _streamed(h: Any, thread: str, text: str) -> list[tuple[float, dict[str, Any]]]:
    """What the graph's ``custom`` stream sent during one turn, each with when it came."""
    from langchain_core.messages import HumanMessage

    sent = []
    for chunk in h.agent.graph.stream(
        {"messages": [HumanMessage(text)]},
        h.agent.config(thread),
        context=h.agent.context.for_turn(thread),
        stream_mode="custom",
    ):
        sent.append((time.perf_counter(), chunk))
    return sent


def test_a_rewrite_is_streamed_sentence_by_sentence_as_it_is_written(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    rewrite = f"Good news! Your order {order.id} has been delivered. Anything else I can do?"
    model = TrickleChatModel(messages=iter([AIMessage(rewrite)]), word_s=0.05)
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model))

    sent = _streamed(h, "c", f"where is my order {order.id}?")

    sentences = [chunk["sentence"] for _, chunk in sent]
    assert "".join(sentences).strip() == rewrite == h.agent.result("c").reply
    assert [s.strip() for s in sentences] == [
        "Good news!",
        f"Your order {order.id} has been delivered.",
        "Anything else I can do?",
    ]
    # The first sentence reached the stream while the model was still writing the rest.
    assert sent[0][0] < model.produced_at[-1] - 0.2


def test_a_streamed_rewrite_withdrawn_midway_is_reset_and_the_draft_sent(
    make_agent: AgentFactory,
) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    rewrite = f"Your order {order.id} has been delivered. We refunded $999.99 on 2020-01-01."
    model = TrickleChatModel(messages=iter([AIMessage(rewrite)]))
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model))

    sent = _streamed(h, "c", f"where is my order {order.id}?")

    chunks = [chunk for _, chunk in sent]
    assert chunks == [{"sentence": f"Your order {order.id} has been delivered. "}, {"reset": True}]
    state = h.agent.state("c")
    assert state.reply == state.draft and "$999.99" not in state.reply
    assert state.ungrounded_replies == 1 and not h.agent.result("c").grounded


def test_a_slow_model_costs_a_served_turn_its_budget_only(make_agent: AgentFactory) -> None:
    order, customer = find_order(make_agent().store, "delivered")
    model = scripted(AIMessage(f"Your order {order.id} was delivered."), delay_s=3.0)
    h = make_agent(verified_customer_id=customer.id, llm=LLM(model), llm_turn_budget_s=0.5)

    started = time.perf_counter()
    r = h.agent.send("c", f"where is my order {order.id}?")

    assert time.perf_counter() - started < 2.0  # the model's 3 s are not waited for
    assert r.reply == h.agent.state("c").draft and order.id in r.reply
    assert h.agent.state("c").llm_failures == 1


def test_a_policy_answer_the_llm_rewrites_keeps_its_sources(
    make_agent: AgentFactory, policy_kb: Any
) -> None:
    templated = make_agent(kb=policy_kb).agent.send("t", "what's your return policy?")
    assert templated.citations
    rewrite = AIMessage("Happy to help! Delivered orders can be returned, and you get a refund.")
    h = make_agent(kb=policy_kb, llm=LLM(scripted(rewrite)))
    r = h.agent.send("c", "what's your return policy?")
    assert r.reply == rewrite.content and h.agent.state("c").llm_used
    assert r.citations == templated.citations  # the rewrite cites what the draft quoted


def test_a_one_request_server_is_not_sent_a_call_behind_one_given_up_on() -> None:
    model = scripted(AIMessage("late plan"), AIMessage("Your order has been delivered."))
    model.delay_s = 1.0
    llm = LLM(model, name="local")  # the embedded llama.cpp server answers one request at a time
    with pytest.raises(TimeoutError):
        llm._call(model, [], deadline=time.monotonic() + 0.3)
    # Still running there: a rewrite would only queue behind it, so it is not started.
    started = time.perf_counter()
    with pytest.raises(WriterFailed, match="busy"):
        list(llm.write_stream("Your order was delivered.", "en"))
    assert time.perf_counter() - started < 0.8
    time.sleep(1.0)  # the abandoned call has ended: the next one runs
    assert "".join(llm.write_stream("Your order was delivered.", "en")).startswith("Your order")
    llm.close()


def test_a_call_slower_than_the_time_left_is_not_started_and_retried_later() -> None:
    model = scripted(AIMessage("{}"), AIMessage("{}"), AIMessage("{}"))
    model.delay_s = 0.5
    llm = LLM(model)
    llm._call(model, [], deadline=time.monotonic() + 2.0)  # took ~0.5 s
    calls = len(model.calls)
    # 0.3 s left, and a plan lately took 0.5 s: refused at once, nothing sent to the model.
    with pytest.raises(TimeoutError, match="takes about"):
        llm._call(model, [], deadline=time.monotonic() + 0.3)
    assert len(model.calls) == calls
    # Each refusal lowers the estimate, so a call is tried again before long.
    refused = 1
    while len(model.calls) == calls and refused < 10:
        with contextlib.suppress(TimeoutError):
            llm._call(model, [], deadline=time.monotonic() + 0.3)
        refused += 1
    assert len(model.calls) == calls + 1 and refused <= 4
    llm.close()


def test_a_rewrite_too_long_for_the_time_left_is_not_started() -> None:
    llm = LLM(scripted(AIMessage("never asked")))
    llm.output_tokens_per_s = 20.0  # as the local 0.5B model writes on 2 cores
    long_draft = "Your order has these items: " + ", ".join(f"item {n}" for n in range(60)) + "."
    with pytest.raises(WriterFailed, match="this long takes about"):
        list(llm.write_stream(long_draft, "en", deadline=time.monotonic() + 3.0))
    assert llm.chat_model.calls == []  # type: ignore[attr-defined]
    # Without a turn's budget (offline evaluations) it is written.
    assert "".join(llm.write_stream(long_draft, "en")) == "never asked"
    llm.close()
