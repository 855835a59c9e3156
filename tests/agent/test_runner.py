"""The agent end to end with the real packaged 0.5B model (marked ``llm``): a customer verifies by
email, asks where an order is and gets a grounded answer the model wrote, then asks for a human and is
handed off; and the same agent in ``openai`` mode against the local llama.cpp server's
OpenAI-compatible endpoint. One server per module (CI has 2 cores)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.checkpoint import open_checkpointer
from agent.context import Context, LLMMode
from agent.llm import LLM, make_llm
from agent.local_llm import fetch_model
from agent.runner import Agent
from classifiers import Classifier
from tests.agent.conftest import QUIET, find_order
from tests.conftest import StoreFactory
from tools.demo import seed_demo_shop
from tools.settings import Settings
from tools.store import Store

pytestmark = pytest.mark.llm

# Generous: the test is about what the agent says, the benchmark about how fast; a timeout would
# quietly send the template instead of the model's words.
SETTINGS = Settings(_env_file=None, llm_local_model="0.5b", llm_timeout_s=120)


@pytest.fixture(scope="module")
def local_llm() -> Iterator[LLM]:
    """The local-mode LLM, which starts the llama.cpp server; closing it must stop the server."""
    fetch_model("0.5b", SETTINGS, progress=False)  # `make test` has done it: a quick check then
    llm = make_llm("local", SETTINGS)
    assert llm is not None and llm.server is not None
    pid = llm.server.pid
    assert pid is not None
    yield llm
    llm.close()
    assert not llm.server and not Path(f"/proc/{pid}").exists(), f"server {pid} outlived close()"


@pytest.fixture
def demo_store(sqlite_stores: StoreFactory) -> Iterator[Store]:
    """A fresh copy of the demo shop on SQLite."""
    store = sqlite_stores("empty")
    seed_demo_shop(store)
    yield store
    store.dispose()


@contextmanager
def agent_with(
    tmp_path: Path, store: Store, classifier: Classifier, llm: LLM, mode: LLMMode
) -> Iterator[Agent]:
    context = Context(store=store, classifier=classifier, llm=llm, llm_mode=mode, **QUIET)  # type: ignore[arg-type]
    with open_checkpointer(f"sqlite:///{tmp_path / 'checkpoints.db'}") as checkpointer:
        yield Agent(context, checkpointer.saver)


def test_a_conversation_with_the_local_model(
    tmp_path: Path, demo_store: Store, classifier: Classifier, local_llm: LLM
) -> None:
    order, customer = find_order(demo_store, "delivered")
    with agent_with(tmp_path, demo_store, classifier, local_llm, "local") as agent:
        asked = agent.send("c", f"where is my order {order.id}?")
        assert "email" in asked.reply and not asked.escalated

        answer = agent.send("c", f"my email is {customer.email}")
        assert answer.customer_id == customer.id
        assert answer.tools[:2] == ["find_user_id_by_email", "get_order_details"]
        assert order.id in answer.reply and answer.grounded
        state = agent.state("c")
        # What the model wrote went out (the 0.5B model often keeps the draft word for word), and it
        # said no more than the evidence holds.
        assert state.llm_used and answer.reply == state.llm_draft
        assert state.llm_failures == 0 and state.ungrounded_replies == 0

        handed = agent.send("c", "I want to talk to a human please")
        assert handed.escalated and handed.handed_off and handed.ticket_id is not None
        assert str(handed.ticket_id) in handed.reply
        assert agent.send("c", "hello? anyone there?").reply == ""


def test_openai_mode_against_the_local_server(
    tmp_path: Path, demo_store: Store, classifier: Classifier, local_llm: LLM
) -> None:
    server = local_llm.server
    assert server is not None
    settings = Settings(
        _env_file=None,
        llm_base_url=server.base_url,
        llm_model=server.model_name,
        llm_timeout_s=120,
    )
    llm = make_llm("openai", settings)
    assert llm is not None and llm.server is None
    order, customer = find_order(demo_store, "pending")
    try:
        with agent_with(tmp_path, demo_store, classifier, llm, "openai") as agent:
            agent.send("c", f"where is my order {order.id}? my email is {customer.email}")
            answer = agent.result("c")
            state = agent.state("c")
    finally:
        llm.close()
    assert answer.customer_id == customer.id and "get_order_details" in answer.tools
    assert order.id in answer.reply and answer.grounded
    assert state.llm_used and state.llm_failures == 0
