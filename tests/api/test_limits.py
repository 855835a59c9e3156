"""Rate limits per client address and per conversation, answered with 429 and Retry-After."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import TokenBucket
from tests.api.conftest import Service, api_settings


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(per_minute=6, burst=2, clock=lambda: now[0])  # one token every 10 s
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    assert bucket.take("a") == 10.0
    assert bucket.take("b") == 0  # keys do not share a bucket
    now[0] = 4.0
    assert bucket.take("a") == pytest.approx(6.0)
    now[0] = 10.0
    assert bucket.take("a") == 0 and bucket.take("a") > 0


def test_a_bucket_forgets_refilled_keys_past_its_size() -> None:
    now = [0.0]
    bucket = TokenBucket(per_minute=60, burst=1, max_keys=2, clock=lambda: now[0])
    bucket.take("a")
    now[0] = 5.0
    bucket.take("b")
    bucket.take("c")  # over max_keys: "a" has refilled and is dropped, "b" and "c" are not
    assert set(bucket._buckets) == {"b", "c"}


def test_too_many_requests_from_one_address_get_429_with_retry_after(service: Service) -> None:
    app = create_app(
        api_settings(service.tmp, api_ip_burst=2, api_ip_rate_per_minute=1), agent=service.agent
    )
    with TestClient(app) as client:
        assert client.post("/v1/conversations").status_code == 201
        assert client.post("/v1/conversations").status_code == 201
        r = client.post("/v1/conversations")
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert client.get("/healthz").status_code == 200  # operations are not limited
        assert 'concierge_rate_limited_total{scope="ip"} 1.0' in client.get("/metrics").text


def test_a_conversation_over_its_message_rate_gets_429(service: Service) -> None:
    app = create_app(
        api_settings(service.tmp, api_conversation_burst=1, api_conversation_rate_per_minute=2),
        agent=service.agent,
    )
    with TestClient(app) as client:
        tokens = [client.post("/v1/conversations").json() for _ in range(2)]
        (a, auth_a), (b, auth_b) = [
            (t["conversation_id"], {"Authorization": f"Bearer {t['token']}"}) for t in tokens
        ]
        url = "/v1/conversations/{}/messages"
        assert client.post(url.format(a), json={"text": "hi"}, headers=auth_a).status_code == 200
        r = client.post(url.format(a), json={"text": "hi again"}, headers=auth_a)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) == 30
        assert client.post(url.format(b), json={"text": "hi"}, headers=auth_b).status_code == 200
