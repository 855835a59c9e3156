"""An unexpected error under ``concierge serve`` for real: one logged ERROR record with its traceback
(PII masked), a JSON 500 in the API's error shape, and a keep-alive connection that stays usable."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from agent import Agent, Context
from api.app import create_app
from api.observability import JsonFormatter
from tests.agent.conftest import QUIET
from tests.api.conftest import api_settings
from tests.api.test_forwarded import served

EMAIL = "jane.doe@example.com"


class UnreadableCheckpoints(InMemorySaver):
    """Checkpoints that cannot be read back, as after a botched upgrade of their format."""

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        raise ValueError(f"cannot decode the checkpoint of {EMAIL}")


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[http.client.HTTPConnection]:
    """One keep-alive connection to the app over unreadable checkpoints, served as in production."""
    agent = Agent(Context(**QUIET), UnreadableCheckpoints())
    with served(create_app(api_settings(tmp_path), agent=agent), tmp_path) as url:
        address = urlsplit(url)
        assert address.hostname is not None
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        yield connection
        connection.close()


def _ask(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, json.dumps(body) if body else None, headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _start(connection: http.client.HTTPConnection) -> tuple[str, str]:
    status, body = _ask(connection, "POST", "/v1/conversations")
    assert status == 201, body
    return body["conversation_id"], body["token"]


def _the_one_error(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [f"{r.name}: {r.getMessage()}" for r in errors]
    [error] = errors
    logged = json.loads(JsonFormatter().format(error))
    assert "Traceback" in logged["error"] and "ValueError" in logged["error"]
    assert EMAIL not in json.dumps(logged)
    return error


def _still_open(connection: http.client.HTTPConnection) -> None:
    """Two more requests on the same connection both answered, on the same socket."""
    assert connection.sock is not None
    local = connection.sock.getsockname()
    for _ in range(2):
        status, body = _ask(connection, "GET", "/healthz")
        assert status == 200, body
        assert connection.sock is not None and connection.sock.getsockname() == local


def test_an_unexpected_error_is_one_logged_json_500_on_a_connection_kept_open(
    connection: http.client.HTTPConnection, caplog: pytest.LogCaptureFixture
) -> None:
    conversation_id, token = _start(connection)
    with caplog.at_level(logging.INFO):
        status, body = _ask(
            connection, "GET", f"/v1/conversations/{conversation_id}/messages", token=token
        )
        assert status == 500
        assert body["error"]["type"] == "server_error"
        assert body["error"]["code"] == "internal_error" and body["error"]["message"]
        assert EMAIL not in json.dumps(body)
        _still_open(connection)
    assert _the_one_error(caplog).name == "api"


def test_a_failed_turn_is_one_logged_json_500_on_a_connection_kept_open(
    connection: http.client.HTTPConnection, caplog: pytest.LogCaptureFixture
) -> None:
    conversation_id, token = _start(connection)
    with caplog.at_level(logging.INFO):
        status, body = _ask(
            connection,
            "POST",
            f"/v1/conversations/{conversation_id}/messages",
            {"text": "Where is my order?"},
            token,
        )
        assert status == 500
        assert body["error"]["type"] == "server_error"
        assert body["error"]["code"] == "turn_failed" and body["error"]["message"]
        _still_open(connection)
    assert _the_one_error(caplog).name == "api.turns"
