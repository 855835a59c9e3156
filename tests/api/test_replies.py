"""What a customer is shown of a turn: the JSON reply, every Server-Sent Event, the OpenAI-compatible
completion and the history carry the allow-listed fields only, never the agent's internals (the
escalation summary, the classification, tool arguments and results, ids); the staff keep those."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agent import TurnResult
from api.replies import Citation, citations, step, strip_citation_markers
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import find_order
from tests.api.conftest import Service, open_service, sse_events

STAFF_KEY = "replies-staff-key-7c2e91b04d"

PAYMENT_METHOD_ID = re.compile(r"(credit_card|gift_card|paypal)_\d+")
# Every key a customer-facing body may hold, at any depth: a new field is a decision, made here.
REPLY_KEYS = {
    "conversation_id",
    "reply",
    "language",
    "steps",
    "label",
    "citations",
    "title",
    "section",
    "source",
    "anchor",
    "authenticated",
    "escalated",
    "handed_off",
    "awaiting_approval",
    "ticket_id",
}
EVENT_KEYS = REPLY_KEYS | {"text", "state"}
COMPLETION_KEYS = REPLY_KEYS | {
    "id",
    "object",
    "created",
    "model",
    "choices",
    "index",
    "message",
    "role",
    "content",
    "finish_reason",
    "delta",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "concierge",
}


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Service]:
    """The app with a staff key, to compare what the staff see with what the customer sees."""
    settings = {"api_agent_keys": [STAFF_KEY]}
    with open_service(tmp_path_factory.mktemp("replies"), api_classifier, api_kb, settings) as s:
        yield s


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys(v) for v in value))
    return set()


def assert_customer_safe(payload: Any, allowed: set[str], *hidden: str) -> None:
    """No key outside ``allowed``, and none of the internals (nor any of ``hidden``) anywhere."""
    assert keys(payload) <= allowed, keys(payload) - allowed
    shown = json.dumps(payload, ensure_ascii=False)
    assert not PAYMENT_METHOD_ID.search(shown), shown
    assert ".md#" not in shown, shown
    for value in hidden:
        assert value not in shown, (value, shown)


def internals(result: TurnResult) -> list[str]:
    """What the agent's record of a turn holds that its customer must not see."""
    found = [f'"{k}"' for k in ("intent", "confidence", "severity", "route", "arguments")]
    found += [c["name"] for c in result.tool_calls]
    found += [m.group() for m in PAYMENT_METHOD_ID.finditer(json.dumps(result.tool_calls))]
    found += result.escalation_reasons
    if result.customer_id:
        found.append(result.customer_id)
    return found


def completion(desk: Service, auth: dict[str, str], text: str, *, stream: bool = False) -> Any:
    r = desk.client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": text}], "stream": stream},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    if not stream:
        return r.json()
    return [data for _, data in sse_events(r.text) if data != "[DONE]"]


def test_an_escalation_tells_the_customer_a_ticket_and_the_staff_the_summary(desk: Service) -> None:
    _, customer = find_order(desk.store, "pending")
    cid, auth = desk.start(customer.id)
    r = desk.client.post(
        f"/v1/conversations/{cid}/messages/stream",
        json={"text": "I want to talk to a human"},
        headers=auth,
    )
    events = sse_events(r.text)
    record = desk.agent.result(cid)
    [transfer] = record.tool_calls
    summary = transfer["arguments"]["summary"]
    assert record.escalated and record.intent and summary

    hidden = [summary, record.intent or "", *internals(record)]
    assert [name for name, _ in events] == [
        "step",
        *["delta"] * (len(events) - 3),
        "handoff",
        "done",
    ]
    for _, data in events:
        assert_customer_safe(data, EVENT_KEYS, *hidden)
    assert events[0][1] == {"label": "Passing your conversation to our team"}
    done = events[-1][1]
    assert events[-2][1] == {"state": "handed_off", "ticket_id": done["ticket_id"]}
    assert done["handed_off"] and done["escalated"] and done["ticket_id"]
    assert done["authenticated"] and f"#{done['ticket_id']}" in done["reply"]

    # The same turn as JSON and through the OpenAI-compatible facade.
    cid2, auth2 = desk.start(customer.id)
    body = desk.say(cid2, auth2, "I want to talk to a human")
    assert_customer_safe(body, REPLY_KEYS, *hidden)
    cid3, auth3 = desk.start(customer.id)
    answer = completion(desk, auth3, "I want to talk to a human")
    assert answer["concierge"]["handed_off"] and answer["concierge"]["ticket_id"]
    assert_customer_safe(answer, COMPLETION_KEYS, *hidden)
    for chunk in completion(desk, auth3, "are you there?", stream=True):
        assert_customer_safe(chunk, COMPLETION_KEYS, *hidden)
    assert_customer_safe(
        desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json(),
        {"conversation_id", "handed_off", "messages", "id", "role", "text", "agent"},
        *hidden,
    )

    # The staff endpoint keeps the whole handoff record.
    staff = {"Authorization": f"Bearer {STAFF_KEY}"}
    shown = desk.client.get(f"/v1/agent/tickets/{done['ticket_id']}", headers=staff).json()
    package = shown["handoff"]
    assert package["summary"] == summary and package["customer_id"] == customer.id
    assert package["classification"]["intent"] == record.intent
    assert "confidence" in package["classification"]
    assert "customer_asked_for_human" in package["reasons"]


def return_turns(desk: Service, index: int) -> tuple[str, dict[str, str], list[str]]:
    order, customer = find_order(desk.store, "delivered", index=index)
    cid, auth = desk.start(customer.id)
    return (
        cid,
        auth,
        [f"I want to return all items of {order.id}, refund to the original payment method"],
    )


def test_a_return_shows_the_steps_in_words_never_the_tool_calls(desk: Service) -> None:
    # As JSON: each turn's steps are labels; the write waiting for a person is a flag and a ticket.
    cid, auth, turns = return_turns(desk, 0)
    labels = []
    for text in [*turns, "yes"]:
        body = desk.say(cid, auth, text)
        record = desk.agent.result(cid)
        assert_customer_safe(body, REPLY_KEYS, *internals(record))
        assert body["steps"] == [{"label": step(c).label} for c in record.tool_calls]
        labels += [s["label"] for s in body["steps"]]
    assert {"Looking up your order", "Preparing your return"} <= set(labels)
    assert body["awaiting_approval"] and body["ticket_id"] and not body["handed_off"]

    # As Server-Sent Events: the same, event by event.
    cid, auth, turns = return_turns(desk, 1)
    for text in turns:
        r = desk.client.post(
            f"/v1/conversations/{cid}/messages/stream", json={"text": text}, headers=auth
        )
        events = sse_events(r.text)
        record = desk.agent.result(cid)
        assert PAYMENT_METHOD_ID.search(json.dumps(record.tool_calls))  # the agent has them
        assert [d for n, d in events if n == "step"] == [
            {"label": step(c, record.language).label} for c in record.tool_calls
        ]
        for _, data in events:
            assert_customer_safe(data, EVENT_KEYS, *internals(record))

    # Through the OpenAI-compatible facade.
    cid, auth, turns = return_turns(desk, 2)
    for text in turns:
        answer = completion(desk, auth, text)
        assert answer["choices"][0]["message"]["content"] == answer["concierge"]["reply"]
        assert_customer_safe(answer, COMPLETION_KEYS, *internals(desk.agent.result(cid)))


def test_a_cited_answer_links_its_sections_instead_of_marking_them(desk: Service) -> None:
    cid, auth = desk.start()
    r = desk.client.post(
        f"/v1/conversations/{cid}/messages/stream",
        json={"text": "what is your return policy?"},
        headers=auth,
    )
    events = sse_events(r.text)
    for _, data in events:
        assert_customer_safe(data, EVENT_KEYS)
    done = events[-1][1]
    assert done["citations"] and done["reply"]
    assert [d for n, d in events if n == "citation"] == done["citations"]
    first = done["citations"][0]
    assert first["source"] == "demo/returns-and-refunds.md" and first["title"]
    page = desk.client.get(f"/help/{first['source']}")
    assert page.status_code == 200 and f'id="{first["anchor"]}"' in page.text
    history = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    assert history["messages"][-1]["text"] == done["reply"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            'Our policy says: "Returns within 30 days." [demo/returns-and-refunds.md#refunds]',
            'Our policy says: "Returns within 30 days."',
        ),
        (
            "Voici nos conditions : « 30 jours » [demo/faq.md#retours].",
            "Voici nos conditions : « 30 jours ».",
        ),
        ("See [returns.md] and [catalog/8310926033] for more.", "See and for more."),
        ("Two sources [a/b.md#x][a/b.md#y] here", "Two sources here"),
        (
            "Keep [this], [1] and [yes/no] (answer [yes])",
            "Keep [this], [1] and [yes/no] (answer [yes])",
        ),
        ("Order #W1234567 is [pending].", "Order #W1234567 is [pending]."),
    ],
)
def test_citation_markers_are_stripped_from_customer_text(text: str, shown: str) -> None:
    assert strip_citation_markers(text) == shown


def test_citations_are_links_titled_from_the_passages() -> None:
    passages = [
        {"ref": "demo/returns-and-refunds.md#returns-and-refunds", "title": "Returns and Refunds"},
        {"ref": "demo/returns-and-refunds.md#refund-timing", "title": "Returns and Refunds"},
    ]
    refs = [p["ref"] for p in passages] + [passages[1]["ref"], "catalog/8310926033"]
    assert citations(refs, passages) == [
        Citation(
            title="Returns and Refunds",
            section="",
            source="demo/returns-and-refunds.md",
            anchor="returns-and-refunds",
        ),
        Citation(
            title="Returns and Refunds",
            section="Refund timing",
            source="demo/returns-and-refunds.md",
            anchor="refund-timing",
        ),
        Citation(title="8310926033", section="", source="catalog/8310926033", anchor=""),
    ]


@pytest.mark.parametrize(
    ("name", "language", "label"),
    [
        ("get_order_details", "en", "Looking up your order"),
        ("track_order", "es", "Buscando su pedido"),
        ("transfer_to_human_agents", "fr", "Transmission de votre conversation à notre équipe"),
        ("a_tool_added_later", "en", "Working on your request"),
        ("get_order_details", "de", "Looking up your order"),
    ],
)
def test_a_step_is_a_label_in_the_customers_language(name: str, language: str, label: str) -> None:
    call = {"name": name, "arguments": {"payment_method_id": "gift_card_1"}, "ok": True}
    assert step(call, language).model_dump() == {"label": label}
