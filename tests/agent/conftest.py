"""Fixtures for the agent tests: the session's tiny classifier (real MiniLM, real data), real SQLite
stores of the tau2 shop, a real chroma knowledge base, and agents with SQLite checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from agent.checkpoint import Checkpointer, open_checkpointer
from agent.context import Context
from agent.runner import Agent
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.conftest import StoreFactory
from tools.models import Customer, Order
from tools.settings import Settings
from tools.store import Store

if TYPE_CHECKING:
    from classifiers.pipeline import TrainResult

# Thresholds that let a test choose which escalation rule it exercises: the tiny test classifier's
# severity and sentiment are too rough to leave these rules on by default.
QUIET = {"severity_escalation": 6, "negative_sentiment": -1.0, "min_confidence": 0.5}


@pytest.fixture(scope="session")
def classifier_dir(tiny_model: TrainResult) -> Path:
    return Path(tiny_model.folder)


@pytest.fixture(scope="session")
def classifier(classifier_dir: Path) -> Classifier:
    return Classifier(classifier_dir)


@pytest.fixture(scope="session")
def sqlite_stores(tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
    return StoreFactory("sqlite", tmp_path_factory.mktemp("agent_stores"))


@pytest.fixture
def store(sqlite_stores: StoreFactory) -> Iterator[Store]:
    """A fresh tau2 shop on SQLite."""
    s = sqlite_stores("tau2")
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def policy_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The tau2 policy ingested into a temporary chroma store."""
    from knowledge import get_embedder

    var = tmp_path_factory.mktemp("agent_kb")
    settings = Settings(_env_file=None, var_dir=var, chroma_url=None, chroma_dir=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=get_embedder())
    kb.ingest([settings.tau2_dir / "policy.md"])
    yield kb
    kb.close()


@dataclass
class Harness:
    agent: Agent
    store: Store
    checkpointer: Checkpointer
    path: Path


AgentFactory = Callable[..., Harness]


@pytest.fixture
def make_agent(tmp_path: Path, store: Store, classifier: Classifier) -> Iterator[AgentFactory]:
    """Agents over this test's store, checkpointed to a SQLite file in the test's folder."""
    opened: list[Checkpointer] = []

    def make(**overrides: Any) -> Harness:
        path = tmp_path / "checkpoints.db"
        checkpointer = open_checkpointer(f"sqlite:///{path}")
        opened.append(checkpointer)
        values: dict[str, Any] = {"store": store, "classifier": classifier, **QUIET}
        values.update(overrides)
        return Harness(Agent(Context(**values), checkpointer.saver), store, checkpointer, path)

    yield make
    for checkpointer in opened:
        checkpointer.close()


# Replies a probe of the running service sent to "Shall I go ahead?"; each ran the write then.
PROBED_TRAPS = [
    "yes but actually no",
    "yes?",
    "yeah no",
    "yes... no, keep it",
    "sí, no, mejor no",
    "yes cancel the other one",
    "yes, but change the address instead",
    "yes, but cancel #W6979932 instead",
]


def find_order(
    store: Store, status: str, *, min_items: int = 1, index: int = 0
) -> tuple[Order, Customer]:
    """A real order with ``status`` and its customer."""
    with store.read() as s:
        orders = s.scalars(select(Order).where(Order.status == status).order_by(Order.id)).all()
        matching = [o for o in orders if len(o.items) >= min_items]
        order = matching[index]
        customer = s.get(Customer, order.customer_id)
        assert customer is not None
        _ = list(order.items), list(order.transactions)
        s.expunge_all()
        return order, customer


def two_customers(store: Store) -> tuple[tuple[Order, Customer], tuple[Order, Customer]]:
    """A customer's pending order and another customer's pending order (with their owners)."""
    mine = find_order(store, "pending", index=0)
    index = 1
    while (theirs := find_order(store, "pending", index=index))[1].id == mine[1].id:
        index += 1
    return mine, theirs


def order_status(store: Store, order_id: str) -> str:
    with store.read() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return order.status
