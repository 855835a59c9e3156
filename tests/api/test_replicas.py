"""Stateless replicas: two ``concierge serve`` processes over one PostgreSQL store, PostgreSQL
checkpoints and a chroma server answer alternate turns of one conversation as one service would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from knowledge import KnowledgeBase
from tests.agent.conftest import find_order, order_status
from tests.api.conftest import SHOP_SECRET
from tests.knowledge.helpers import chroma_server, free_port
from tools.demo import demo_docs_dir, seed_demo_shop
from tools.settings import Settings
from tools.store import Store

if TYPE_CHECKING:
    from classifiers.pipeline import TrainResult

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``concierge serve`` in its own process, in the log's folder (no developer ``.env`` there)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"replica at {url} is not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture
def replicas(
    tmp_path: Path, tiny_model: TrainResult, postgres_url: str
) -> Iterator[tuple[str, str, Store]]:
    """Two replicas' base URLs and the store they share (demo shop, migrated and seeded)."""
    tmp = tmp_path
    store_url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    store = Store(store_url)
    store.migrate()
    seed_demo_shop(store)
    var = tmp / "var"
    (var / "models").mkdir(parents=True)
    (var / "models" / "classifier").symlink_to(Path(tiny_model.folder).resolve())
    with chroma_server(tmp / "chroma", tmp / "chroma.log") as chroma_url:
        kb = KnowledgeBase(Settings(_env_file=None, var_dir=var, chroma_url=chroma_url))  # type: ignore[call-arg]
        kb.ingest([demo_docs_dir() / "returns-and-refunds.md"])
        kb.close()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")},
            "CONCIERGE_VAR_DIR": str(var),
            "CONCIERGE_MODEL_DIR": str(var / "models"),
            "CONCIERGE_STORE_URL": store_url,
            "CONCIERGE_CHECKPOINT_URL": postgres_url,
            "CONCIERGE_CHROMA_URL": chroma_url,
            "CONCIERGE_SHOP_SECRET": SHOP_SECRET,
            "CONCIERGE_AGENT_LLM": "none",
            # What the agent tests call QUIET: the tiny classifier's sentiment must not escalate.
            "CONCIERGE_AGENT_SEVERITY_ESCALATION": "6",
            "CONCIERGE_AGENT_NEGATIVE_SENTIMENT": "-1.0",
            "CONCIERGE_CLASSIFIER_THREADS": "1",
            "CONCIERGE_KB_EMBED_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
        ports = [free_port(), free_port()]
        logs = [tmp / "a.log", tmp / "b.log"]
        processes = [_serve(port, env, log) for port, log in zip(ports, logs, strict=True)]
        try:
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url, process, log in zip(urls, processes, logs, strict=True):
                _wait_ready(url, process, log)
            yield urls[0], urls[1], store
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            store.dispose()


def test_alternate_turns_on_two_replicas(replicas: tuple[str, str, Store]) -> None:
    a_url, b_url, store = replicas
    with (
        httpx.Client(base_url=a_url, timeout=60) as a,
        httpx.Client(base_url=b_url, timeout=60) as b,
    ):
        _alternate(a, b, store)


def _alternate(a: httpx.Client, b: httpx.Client, store: Store) -> None:
    order, customer = find_order(store, "pending")
    created = a.post("/v1/conversations")
    assert created.status_code == 201, created.text
    conversation = created.json()["conversation_id"]
    headers = {"Authorization": f"Bearer {created.json()['token']}"}

    def say(client: httpx.Client, text: str) -> dict[str, Any]:
        r = client.post(
            f"/v1/conversations/{conversation}/messages", json={"text": text}, headers=headers
        )
        assert r.status_code == 200, f"{client.base_url}: {r.text}"
        reply: dict[str, Any] = r.json()
        return reply

    # A's token opens the conversation on B: one shop secret, no session kept in a process.
    assert "email" in say(a, f"Where is my order {order.id}?")["reply"].lower()
    r = say(b, f"my email is {customer.email}")
    assert r["authenticated"]
    assert order.id in r["reply"] and "pending" in r["reply"]

    assert "mistake" in say(a, f"I want to cancel order {order.id}")["reply"]  # the reason
    r = say(b, "I ordered it by mistake")
    assert "yes/no" in r["reply"] and order.id in r["reply"]
    assert order_status(store, order.id) == "pending"  # nothing before the explicit yes
    r = say(a, "yes")
    assert "cancelled" in r["reply"].lower()
    assert {"label": "Cancelling your order"} in r["steps"]
    assert order_status(store, order.id) == "cancelled"

    # The knowledge base is the chroma server both replicas read.
    r = say(b, "What is your return policy?")
    assert r["citations"] and r["citations"][0]["source"] == "demo/returns-and-refunds.md"

    history = [client.get(f"/v1/conversations/{conversation}/messages", headers=headers).json()
               for client in (a, b)]  # fmt: skip
    assert history[0] == history[1]
    assert len(history[0]["messages"]) == 12


def test_replicas_starting_together_set_up_a_fresh_database_once(postgres_url: str) -> None:
    # What each replica does at start: migrate the store, set up the checkpoint tables. Without
    # the advisory locks, three at once fail most of the time (duplicate type, deadlock).
    store_url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    code = (
        "from agent.checkpoint import open_checkpointer\n"
        "from tools.store import open_store\n"
        f"open_store({store_url!r}).dispose()\n"
        f"open_checkpointer({postgres_url!r}).close()\n"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for start in starts:
        _, err = start.communicate(timeout=120)
        assert start.returncode == 0, err[-2000:]
    store = Store(store_url)
    assert store.is_migrated()
    store.dispose()
