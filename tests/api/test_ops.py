"""Operations: liveness, readiness naming what is missing, metrics counting turns, JSON logs with PII
masked, CORS for the shop's widget origin."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from prometheus_client.parser import text_string_to_metric_families

from agent import Agent, Context
from api.app import create_app
from api.observability import JsonFormatter, Metrics, count_llm_tokens
from tests.api.conftest import WIDGET_ORIGIN, Service, api_settings


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_and_readiness(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    r = service.client.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert set(checks) == {"store", "checkpoints", "vector_store", "classifier", "llm"}
    assert all(c["ok"] for c in checks.values())
    assert "chunks" in checks["vector_store"]["detail"]


def test_readiness_names_what_is_missing(service: Service) -> None:
    bare = Agent(Context(store=service.store, classifier=None, kb=None))
    with TestClient(create_app(api_settings(service.tmp), agent=bare)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["store"]["ok"] and not checks["classifier"]["ok"]
    assert "concierge train" in checks["classifier"]["detail"]
    assert not checks["vector_store"]["ok"]


def test_metrics_count_a_turn(service: Service) -> None:
    cid, auth = service.start()
    before = samples(service.client)
    reply = service.say(cid, auth, "do you have the water bottle in stock?")
    after = samples(service.client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("concierge_turns_total", channel="rest", outcome="ok") == 1
    assert grew("concierge_turn_seconds_count", channel="rest") == 1
    record = service.agent.result(cid)  # the metrics count what the customer is not shown
    assert reply["reply"] and record.intent
    assert grew("concierge_intents_total", intent=record.intent) == 1
    for name in record.tools:
        assert grew("concierge_tool_calls_total", tool=name, ok="true") >= 1
    route = "/v1/conversations/{conversation_id}/messages"
    assert grew("concierge_http_requests_total", method="POST", route=route, status="200") == 1


def test_llm_tokens_are_counted_from_the_models_usage() -> None:
    metrics = Metrics()
    usage = {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    model = GenericFakeChatModel(messages=iter([AIMessage("hello", usage_metadata=usage)]))
    count_llm_tokens(model, metrics)
    model.invoke("hi")
    assert metrics.llm_tokens.labels("input")._value.get() == 12
    assert metrics.llm_tokens.labels("output")._value.get() == 5


def test_json_logs_mask_pii(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    record = logging.makeLogRecord(
        {"name": "api", "levelname": "INFO", "msg": "customer %s wrote", "args": ("x",)}
    )
    record.msg = "verified %s"
    record.args = ("my email is jane.doe@example.com, card 4242 4242 4242 4242",)
    record.note = "call me at +1 415 555 0100"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "api"
    assert "jane.doe@example.com" not in line["message"] and "[EMAIL]" in line["message"]
    assert "4242 4242" not in line["message"]
    assert "555 0100" not in line["note"]
    cid, auth = service.start()
    with caplog.at_level(logging.INFO, logger="api"):
        service.client.get(f"/v1/conversations/{cid}/messages", headers=auth)
    access = [r for r in caplog.records if r.name == "api" and getattr(r, "route", None)]
    assert access and access[-1].status == 200  # type: ignore[attr-defined]
    assert access[-1].route == "/v1/conversations/{conversation_id}/messages"  # type: ignore[attr-defined]


def test_cors_allows_the_widget_origin_only(service: Service) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    ok = service.client.options("/v1/conversations", headers={"Origin": WIDGET_ORIGIN, **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == WIDGET_ORIGIN
    other = service.client.options(
        "/v1/conversations", headers={"Origin": "https://evil.example", **preflight}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
