"""A database that goes away: the service answers 503 with Retry-After (not a logged 500) while
it is gone, and the conversation carries on from its checkpoint once it is back, on the JSON, SSE
and OpenAI-compatible endpoints."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from agent import Agent, Context, open_checkpointer
from api.app import create_app
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET, find_order
from tests.api.conftest import Service, api_settings, sse_events
from tests.conftest import database_down, terminate_backends
from tools.store import Store

pytestmark = [
    pytest.mark.postgres,
    # The shop on PostgreSQL too: the store's connections go down with the checkpoints'.
    pytest.mark.parametrize("store_factory", ["postgres"], indirect=True),
]


@pytest.fixture
def pg_service(
    tmp_path: Path,
    tau2_store: Store,
    postgres_url: str,
    api_classifier: Classifier,
    api_kb: KnowledgeBase,
) -> Iterator[Service]:
    """The real app over a tau2 shop and checkpoints in two PostgreSQL databases. A turn waits
    one second for a checkpoint connection before it gives up, so an outage answers quickly."""
    checkpointer = open_checkpointer(postgres_url, pool_timeout_s=1.0)
    agent = Agent(
        Context(store=tau2_store, classifier=api_classifier, kb=api_kb, **QUIET),
        checkpointer.saver,
    )
    app = create_app(api_settings(tmp_path), agent=agent)
    try:
        with TestClient(app) as client:
            yield Service(app, client, agent, tau2_store, tmp_path)
    finally:
        checkpointer.close()


def _databases(service: Service, checkpoint_url: str) -> tuple[str, str]:
    """The names of the store's database and the checkpoints'."""
    store = service.store.engine.url.database
    assert store is not None
    return store, checkpoint_url.rsplit("/", 1)[1]


def _assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1
    error = r.json()["error"]
    assert error["code"] == "service_unavailable" and error["type"] == "server_error"
    assert error["message"]


def _until_answered(send: Callable[[], httpx.Response], seconds: float = 20) -> httpx.Response:
    """``send`` again while it answers 503 (as a client honouring Retry-After would, faster)."""
    deadline = time.monotonic() + seconds
    while (r := send()).status_code == 503 and time.monotonic() < deadline:
        assert "Retry-After" in r.headers
        time.sleep(0.2)
    return r


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_a_turn_after_the_connections_were_terminated_continues_the_conversation(
    pg_service: Service, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    order, customer = find_order(pg_service.store, "pending")
    cid, auth = pg_service.start()
    asked = pg_service.say(cid, auth, f"Where is my order {order.id}?")
    assert "email" in asked["reply"].lower()

    # A failover or an administrator ends every session of both databases between two turns.
    store_db, checkpoint_db = _databases(pg_service, postgres_url)
    assert terminate_backends(store_db) >= 1 and terminate_backends(checkpoint_db) >= 1

    # The next turn is answered, from the checkpoint: the agent still has the order it asked about.
    r = pg_service.say(cid, auth, f"my email is {customer.email}")
    assert r["authenticated"]
    assert order.id in r["reply"] and "pending" in r["reply"]
    history = pg_service.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    assert [m["role"] for m in history["messages"]] == ["customer", "concierge"] * 2
    _no_errors_logged(caplog)


def test_while_the_checkpoint_database_is_down_every_endpoint_answers_503(
    pg_service: Service, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    order, customer = find_order(pg_service.store, "pending")
    cid, auth = pg_service.start()
    pg_service.say(cid, auth, f"Where is my order {order.id}?")
    client = pg_service.client
    path = f"/v1/conversations/{cid}/messages"
    email: dict[str, Any] = {"text": f"my email is {customer.email}"}
    openai: dict[str, Any] = {"messages": [{"role": "user", "content": email["text"]}]}

    with database_down(_databases(pg_service, postgres_url)[1]):
        _assert_unavailable(client.post(path, json=email, headers=auth))
        _assert_unavailable(client.get(path, headers=auth))
        _assert_unavailable(client.post("/v1/chat/completions", json=openai, headers=auth))

        # A stream has sent its 200 before the turn starts: the outage is its last event.
        r = client.post(f"{path}/stream", json=email, headers=auth)
        assert r.status_code == 200
        name, data = sse_events(r.text)[-1]
        assert name == "error" and data["code"] == "service_unavailable"
        assert data["retry_after"] >= 1

        r = client.post("/v1/chat/completions", json={**openai, "stream": True}, headers=auth)
        chunks = [data for _, data in sse_events(r.text)]
        errors = [c["error"] for c in chunks if isinstance(c, dict) and "error" in c]
        assert [e["code"] for e in errors] == ["service_unavailable"]
        assert chunks[-1] == "[DONE]"
    _no_errors_logged(caplog)

    # Back: the next turn continues from the checkpoint; the refused ones left nothing in it.
    r = _until_answered(lambda: client.post(path, json=email, headers=auth))
    assert r.status_code == 200, r.text
    assert r.json()["authenticated"] and order.id in r.json()["reply"]
    history = client.get(path, headers=auth).json()
    assert [m["role"] for m in history["messages"]] == ["customer", "concierge"] * 2
    turns = pg_service.app.state.runtime.metrics.turns
    assert turns.labels("sse", "unavailable")._value.get() == 1
    assert turns.labels("openai", "unavailable")._value.get() == 2


def test_while_the_store_is_down_a_turn_answers_503(
    pg_service: Service, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    order, customer = find_order(pg_service.store, "pending")
    cid, auth = pg_service.start()
    pg_service.say(cid, auth, f"Where is my order {order.id}?")
    path = f"/v1/conversations/{cid}/messages"
    email = {"text": f"my email is {customer.email}"}

    with database_down(_databases(pg_service, postgres_url)[0]):
        # The checkpoints are there; looking the customer up is what fails.
        _assert_unavailable(pg_service.client.post(path, json=email, headers=auth))
    _no_errors_logged(caplog)

    r = _until_answered(lambda: pg_service.client.post(path, json=email, headers=auth))
    assert r.status_code == 200, r.text
    assert r.json()["authenticated"] and order.id in r.json()["reply"]
