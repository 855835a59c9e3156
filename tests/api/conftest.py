"""Fixtures for the chat API: one real agent per module (the session's tiny classifier, a tau2 shop on
SQLite, a chroma knowledge base holding the demo shop's returns policy, SQLite checkpoints) behind
the real app, reached through httpx's ASGI test client."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent import Agent, Context, open_checkpointer
from api.app import create_app
from api.security import TokenSigner, identity_signature
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET, find_order, order_status
from tests.conftest import StoreFactory
from tools.demo import demo_docs_dir
from tools.settings import Settings
from tools.store import Store

if TYPE_CHECKING:
    from classifiers.pipeline import TrainResult

SHOP_SECRET = "test-shop-secret-5b1e"
WIDGET_ORIGIN = "https://shop.example"


@pytest.fixture(scope="session")
def api_classifier(tiny_model: TrainResult) -> Classifier:
    return Classifier(Path(tiny_model.folder))


@pytest.fixture(scope="session")
def api_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The demo shop's returns policy in a temporary chroma store."""
    var = tmp_path_factory.mktemp("api_kb")
    settings = Settings(_env_file=None, var_dir=var, chroma_url=None, chroma_dir=None)
    kb = KnowledgeBase(settings)
    kb.ingest([demo_docs_dir() / "returns-and-refunds.md"])
    yield kb
    kb.close()


def signed_identity(customer_id: str, issued_at: int | None = None) -> dict[str, Any]:
    """What a shop's server sends for its logged-in customer: the id, when it signed it (default
    now) and the signature, with the test shop's secret."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    return {
        "customer_id": customer_id,
        "issued_at": issued_at,
        "signature": identity_signature(customer_id, issued_at, SHOP_SECRET),
    }


def forged_token(signer: TokenSigner, payload_json: str) -> str:
    """A conversation token over any payload, signed with ``signer``'s real key: what only a bug
    in issuing, or a holder of the shop secret, could produce."""
    payload = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=").decode()
    return f"ct1.{payload}.{signer._sign(payload)}"


def api_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp,
        "shop_secret": SHOP_SECRET,
        "api_cors_origins": [WIDGET_ORIGIN],
        # Generous: the module's tests share one client address; test_limits builds strict apps.
        "api_ip_burst": 10_000,
        "api_conversation_burst": 1_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Service:
    """The app under test and what is behind it."""

    app: FastAPI
    client: TestClient
    agent: Agent
    store: Store
    tmp: Path

    def start(self, customer_id: str | None = None) -> tuple[str, dict[str, str]]:
        """A new conversation (signed for ``customer_id`` if given): its id and auth header."""
        body = signed_identity(customer_id) if customer_id else None
        r = self.client.post("/v1/conversations", json=body)
        assert r.status_code == 201, r.text
        return r.json()["conversation_id"], {"Authorization": f"Bearer {r.json()['token']}"}

    def say(self, conversation_id: str, headers: dict[str, str], text: str) -> dict[str, Any]:
        r = self.client.post(
            f"/v1/conversations/{conversation_id}/messages", json={"text": text}, headers=headers
        )
        assert r.status_code == 200, r.text
        reply: dict[str, Any] = r.json()
        return reply

    def pause_a_return(self, index: int) -> tuple[str, dict[str, str], str, int]:
        """A signed-in customer's return of a whole delivered order, confirmed and now waiting for a
        human's approval: the conversation, its auth header, the (unchanged) order and the ticket."""
        order, customer = find_order(self.store, "delivered", index=index)
        cid, auth = self.start(customer.id)
        self.say(cid, auth, f"I want to return all items of {order.id}")
        self.say(cid, auth, "refund to the original payment method")
        paused = self.say(cid, auth, "yes")
        assert paused["awaiting_approval"] and paused["ticket_id"], paused
        assert order_status(self.store, order.id) == "delivered"
        return cid, auth, order.id, paused["ticket_id"]


@contextmanager
def open_service(
    tmp: Path,
    classifier: Classifier,
    kb: KnowledgeBase,
    settings: dict[str, Any] | None = None,
    **context: Any,
) -> Iterator[Service]:
    """The real app over a fresh tau2 shop and checkpoints in ``tmp``; ``settings`` and
    ``context`` override the app's settings and the agent's knobs."""
    store = StoreFactory("sqlite", tmp)("tau2")
    checkpointer = open_checkpointer(f"sqlite:///{tmp / 'checkpoints.db'}")
    knobs: dict[str, Any] = {**QUIET, **context}
    agent = Agent(Context(store=store, classifier=classifier, kb=kb, **knobs), checkpointer.saver)
    app = create_app(api_settings(tmp, **(settings or {})), agent=agent)
    with TestClient(app) as client:
        yield Service(app, client, agent, store, tmp)
    checkpointer.close()
    store.dispose()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Service]:
    """One app per test module, over its own fresh tau2 shop and checkpoints."""
    with open_service(tmp_path_factory.mktemp("api"), api_classifier, api_kb) as service:
        yield service


def sse_events(body: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a Server-Sent Events body; data parsed as JSON where it is JSON."""
    events: list[tuple[str, Any]] = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            text = "\n".join(data)
            try:
                events.append((name, json.loads(text)))
            except json.JSONDecodeError:
                events.append((name, text))
    return events
