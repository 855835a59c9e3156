"""Conversations survive the process: a killed process's thread continues from its SQLite checkpoint,
a conversation carries over between two graphs on the PostgreSQL checkpointer, and a risky write
paused for approval is approved, rejected or edited after a restart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.postgres import PostgresSaver

from agent.checkpoint import open_checkpointer
from agent.context import Context
from agent.runner import Agent
from classifiers import Classifier
from tests.agent.conftest import QUIET, AgentFactory, find_order, order_status
from tests.conftest import terminate_backends
from tools.store import Store

REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(
    store_url: str, checkpoint: Path, classifier_dir: Path, messages: list[str]
) -> str:
    """Send ``messages`` in a child process that then dies without any clean-up."""
    script = textwrap.dedent(
        f"""
        import os
        from agent.checkpoint import open_checkpointer
        from agent.context import Context
        from agent.runner import Agent
        from classifiers import Classifier
        from tools.store import Store
        cp = open_checkpointer({f"sqlite:///{checkpoint}"!r})
        ctx = Context(store=Store({store_url!r}), classifier=Classifier({str(classifier_dir)!r}),
                      **{QUIET!r})
        agent = Agent(ctx, cp.saver)
        for text in {messages!r}:
            print(agent.send("t", text).reply, flush=True)
        os._exit(9)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 9, done.stderr[-2000:]
    return done.stdout


def test_kill_between_turns_and_continue(
    store: Store, classifier: Classifier, classifier_dir: Path, tmp_path: Path
) -> None:
    order, customer = find_order(store, "pending")
    checkpoint = tmp_path / "cp.db"
    out = _run_and_kill(
        str(store.engine.url), checkpoint, classifier_dir,
        [f"I want to cancel order {order.id}", customer.email, "no longer needed"],
    )  # fmt: skip
    assert "yes/no" in out
    with open_checkpointer(f"sqlite:///{checkpoint}") as cp:
        agent = Agent(Context(store=store, classifier=classifier, **QUIET), cp.saver)  # type: ignore[arg-type]
        before = agent.state("t")
        assert before.customer_id == customer.id and before.pending is not None
        assert len(before.messages) == 6
        r = agent.send("t", "yes")
        assert "cancelled" in r.reply.lower()
    assert order_status(store, order.id) == "cancelled"


@pytest.mark.postgres
def test_conversation_continues_on_the_postgres_checkpointer(
    store: Store, classifier: Classifier, postgres_url: str
) -> None:
    order, customer = find_order(store, "pending")
    context = Context(store=store, classifier=classifier, **QUIET)  # type: ignore[arg-type]
    with open_checkpointer(postgres_url) as cp:
        assert isinstance(cp.saver, PostgresSaver)
        first = Agent(context, cp.saver)
        first.send("t", f"I want to cancel order {order.id}")
        asked = first.send("t", customer.email)
        assert asked.customer_id == customer.id
    # Another process: its own connection and graph, nothing kept in memory.
    with open_checkpointer(postgres_url) as cp:
        second = Agent(context, cp.saver)
        before = second.state("t")
        assert before.customer_id == customer.id and before.goal == "cancel_order"
        assert before.slots["order_id"] == order.id and len(before.messages) == 4
        assert "yes/no" in second.send("t", "no longer needed").reply
        assert "cancelled" in second.send("t", "yes").reply.lower()
    assert order_status(store, order.id) == "cancelled"


@pytest.mark.postgres
def test_the_postgres_checkpointer_outlives_its_connections(
    store: Store, classifier: Classifier, postgres_url: str
) -> None:
    order, customer = find_order(store, "pending")
    context = Context(store=store, classifier=classifier, **QUIET)  # type: ignore[arg-type]
    with open_checkpointer(postgres_url) as cp:
        agent = Agent(context, cp.saver)
        agent.send("t", f"I want to cancel order {order.id}")
        # A restarted server or an administrator ends every session, the checkpointer's included.
        assert terminate_backends(postgres_url.rsplit("/", 1)[1]) >= 1
        asked = agent.send("t", customer.email)
        assert asked.customer_id == customer.id
        after = agent.state("t")
        assert after.goal == "cancel_order" and after.slots["order_id"] == order.id
        assert len(after.messages) == 4


def _risky_return(h_agent: Agent, store: Store) -> str:
    order, customer = find_order(store, "delivered")
    h_agent.context = Context(**{**h_agent.context.__dict__, "verified_customer_id": customer.id})
    h_agent.send("t", f"I want to return all items of {order.id}")
    h_agent.send("t", "refund to the original payment method")
    r = h_agent.send("t", "yes")
    assert (
        r.awaiting_approval is not None
        and r.awaiting_approval["tool"] == "return_delivered_order_items"
    )
    assert order_status(store, order.id) == "delivered"
    return order.id


@pytest.mark.parametrize("decision", ["approve", "reject", "edit"])
def test_approval_resumes_after_a_restart(make_agent: AgentFactory, decision: str) -> None:
    h = make_agent(risky_amount=0.0)
    order_id = _risky_return(h.agent, h.store)
    h.checkpointer.close()
    # A new process would open the same file: a new checkpointer and graph, nothing kept in memory.
    with open_checkpointer(f"sqlite:///{h.path}") as cp:
        agent = Agent(h.agent.context, cp.saver)
        paused = agent.result("t").awaiting_approval
        assert paused is not None
        if decision == "approve":
            r = agent.resume("t", {"action": "approve"})
            assert "return" in r.reply.lower()
            assert order_status(h.store, order_id) == "return requested"
        elif decision == "reject":
            r = agent.resume("t", {"action": "reject", "reason": "over the limit"})
            assert "could not approve" in r.reply and "over the limit" in r.reply
            assert order_status(h.store, order_id) == "delivered"
        else:
            first_item = paused["arguments"]["item_ids"][:1]
            r = agent.resume("t", {"action": "edit", "arguments": {"item_ids": first_item}})
            assert "adjusted" in r.reply and r.awaiting_approval is None
            assert order_status(h.store, order_id) == "delivered"
            r = agent.send(
                "t", "yes"
            )  # the customer confirms the edited request; no second approval
            assert r.awaiting_approval is None
            assert order_status(h.store, order_id) == "return requested"
