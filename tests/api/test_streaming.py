"""The reply's text reaches the customer as the LLM writes it: through the SSE endpoint and the
OpenAI-compatible stream, checked sentence by sentence, withdrawn with a ``reset`` when the whole
rewrite is refused, and never waited on longer than the turn's LLM budget."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from agent.llm import LLM
from api.security import Grant
from api.turns import run_turn
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import find_order
from tests.agent.test_llm import TrickleChatModel, scripted
from tests.api.conftest import open_service, sse_events


def _trickle(text: str, word_s: float = 0.0) -> TrickleChatModel:
    return TrickleChatModel(messages=iter([AIMessage(text)]), word_s=word_s)


def test_the_first_sentence_is_sent_while_the_model_still_writes(
    tmp_path: Path, api_classifier: Classifier, api_kb: KnowledgeBase
) -> None:
    with open_service(tmp_path, api_classifier, api_kb) as service:
        order, customer = find_order(service.store, "delivered")
        rewrite = f"Good news! Your order {order.id} has been delivered. Anything else?"
        model = _trickle(rewrite, word_s=0.05)
        agent = service.agent
        agent.context = replace(agent.context, llm=LLM(model))
        grant = Grant("c1", customer.id, time.time())

        timed = [(time.perf_counter(), e) for e in run_turn(agent, grant, f"where is {order.id}?")]

    deltas = [(at, e.data["text"]) for at, e in timed if e.event == "delta"]
    done = timed[-1][1]
    assert done.event == "done" and "".join(t for _, t in deltas) == done.data["reply"] == rewrite
    assert "reset" not in [e.event for _, e in timed]
    assert deltas[0][0] < model.produced_at[-1] - 0.2  # before the model's last word


def test_a_withdrawn_rewrite_is_reset_on_both_streams(
    tmp_path: Path, api_classifier: Classifier, api_kb: KnowledgeBase
) -> None:
    with open_service(tmp_path, api_classifier, api_kb) as service:
        order, customer = find_order(service.store, "delivered")
        made_up = f"Your order {order.id} has been delivered. We refunded $999.99 yesterday."
        agent = service.agent
        model = _trickle(made_up)
        agent.context = replace(agent.context, llm=LLM(model))
        cid, auth = service.start(customer.id)
        r = service.client.post(
            f"/v1/conversations/{cid}/messages/stream",
            json={"text": f"where is my order {order.id}?"},
            headers=auth,
        )
        events = sse_events(r.text)
        names = [name for name, _ in events]
        after_reset = names.index("reset")
        # Part of the rewrite was sent, then taken back; what follows is the reply sent instead.
        assert "delta" in names[:after_reset]
        done = events[-1][1]
        text = "".join(d["text"] for n, d in events[after_reset:] if n == "delta")
        assert text == done["reply"] and "$999.99" not in text and order.id in text

        model2 = _trickle(made_up)
        agent.context = replace(agent.context, llm=LLM(model2))
        r = service.client.post(
            "/v1/chat/completions",
            json={
                "model": "concierge",
                "stream": True,
                "messages": [{"role": "user", "content": f"and where is {order.id} now?"}],
            },
            headers=auth,
        )
        chunks: list[Any] = [d for _, d in sse_events(r.text) if isinstance(d, dict)]
        content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        sent, _, instead = content.partition("\n\n")
        assert sent.startswith(f"Your order {order.id}") and "$999.99" not in content
        assert instead and "$999.99" not in instead


def test_a_served_turn_does_not_wait_past_its_budget_for_a_slow_model(
    tmp_path: Path, api_classifier: Classifier, api_kb: KnowledgeBase
) -> None:
    model = scripted(AIMessage("late words"), delay_s=4.0)
    with open_service(
        tmp_path, api_classifier, api_kb, llm=LLM(model), llm_turn_budget_s=0.5
    ) as service:
        order, customer = find_order(service.store, "delivered")
        cid, auth = service.start(customer.id)
        started = time.perf_counter()
        reply = service.say(cid, auth, f"where is my order {order.id}?")
        took = time.perf_counter() - started
    assert took < 2.5 and "late words" not in reply["reply"] and order.id in reply["reply"]
