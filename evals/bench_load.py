"""Load benchmark of the chat service: simulated customers over loopback against a real server.

The benchmark starts ``concierge serve`` in a subprocess on the embedded default (a scratch folder
holding a freshly seeded demo shop in SQLite, the demo docs in an embedded chroma store, SQLite
checkpoints, the trained classifier if there is one), with the rate limits raised out of the way.
Then ``customers`` simulated customers (asyncio + httpx, one process) each open a conversation and
run a short scripted chat: where is my order, their e-mail, a thank-you, and a policy question (first
for half of them, once signed in for the others). They arrive spread over ``ramp_s`` and wait a
random think time around ``think_s`` before each message, as people do; every message waits for its
answer. The run stops by itself when every customer is
done, or at ``max_s``, when whatever is unfinished counts as an error.

Reported: peak concurrency (conversations open at once, requests in flight), turns/s, p50/p95/p99
turn latency as the customer sees it, errors by kind, and the server's memory."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

# The targets for the no-LLM mode on 2 cores; the local LLM is bounded by its tokens/s.
TARGET_P95_S = 1.0
LLM_MODES = ("none", "local")


CITES = "<cites>"
"""The expectation of a reply that cites the knowledge base (its citations come beside the text)."""


@dataclass(frozen=True)
class Script:
    """One simulated customer's messages and what the reply to each must contain (or :data:`CITES`)."""

    messages: list[str]
    expect: list[str]


@dataclass
class Tally:
    """What the customers saw, gathered as they go."""

    latencies: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """When each answered turn was sent (monotonic seconds), in step with ``latencies``."""
    errors: Counter[str] = field(default_factory=Counter)
    open_now: int = 0
    open_peak: int = 0
    in_flight: int = 0
    in_flight_peak: int = 0
    first_sent: float | None = None
    last_answered: float = 0.0


def scripts(store_url: str, turns: int) -> list[Script]:
    """A script per demo customer with an order: ``turns`` messages (cycled past the four)."""
    from sqlalchemy import select

    from tools.models import Customer, Order
    from tools.store import Store

    store = Store(store_url)
    try:
        with store.read() as s:
            rows = s.execute(
                select(Order.id, Customer.email)
                .join(Customer, Customer.id == Order.customer_id)
                .order_by(Order.id)
            ).all()
    finally:
        store.dispose()
    made: list[Script] = []
    seen: set[str] = set()
    for order_id, email in rows:
        if email in seen:
            continue
        seen.add(email)
        policy = ("What is your return policy?", CITES)
        chat = [
            (f"Where is my order {order_id}?", "email"),
            (f"my email is {email}", order_id),
            ("thanks, that's all", ""),
        ]
        # Half ask the policy question (the costliest turn: it embeds the query) first, half once
        # signed in, so the customers arriving together do not all send it at once.
        chat.insert(0 if len(made) % 2 == 0 else 2, policy)
        picked = [chat[i % len(chat)] for i in range(turns)]
        made.append(Script([m for m, _ in picked], [e for _, e in picked]))
    if not made:
        raise RuntimeError("the demo shop has no orders to ask about")
    return made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare(var: Path, model_dir: Path) -> dict[str, str]:
    """Seed the demo shop and ingest the demo docs under ``var``; the server's environment."""
    from knowledge import KnowledgeBase
    from tools.demo import demo_docs_dir, seed_demo_shop
    from tools.settings import Settings
    from tools.store import Store

    store_url = f"sqlite:///{var / 'concierge.db'}"
    store = Store(store_url)
    store.migrate()
    seed_demo_shop(store, now=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    store.dispose()
    kb = KnowledgeBase(Settings(_env_file=None, var_dir=var, chroma_url=None, chroma_dir=None))
    try:
        kb.ingest([demo_docs_dir()])
    finally:
        kb.close()
    many = str(10**9)
    return {
        "CONCIERGE_VAR_DIR": str(var),
        "CONCIERGE_STORE_URL": store_url,
        "CONCIERGE_CHECKPOINT_URL": f"sqlite:///{var / 'checkpoints.db'}",
        "CONCIERGE_MODEL_DIR": str(model_dir),
        # Many turns run at once: one thread each for the classifier and the query embedder beats
        # several threads per turn fighting over the cores (see the retrieval benchmark).
        "CONCIERGE_CLASSIFIER_THREADS": "1",
        "CONCIERGE_KB_EMBED_THREADS": "1",
        # Every simulated customer comes from one address, and the bench measures the agent.
        "CONCIERGE_API_IP_RATE_PER_MINUTE": many,
        "CONCIERGE_API_IP_BURST": many,
        "CONCIERGE_API_CONVERSATION_RATE_PER_MINUTE": many,
        "CONCIERGE_API_CONVERSATION_BURST": many,
    }


class Server:
    """``concierge serve`` in a subprocess, in ``folder`` (so no developer ``.env`` applies)."""

    def __init__(self, folder: Path, env: dict[str, str], llm: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
        environment.update(env)
        environment.update(
            {"CONCIERGE_AGENT_LLM": llm, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "api.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],  # fmt: skip
                cwd=folder,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        """The server's /readyz body once it answers (a missing classifier is reported, not fatal)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                body: dict[str, Any] = r.json()
                return body
            except (httpx.TransportError, ValueError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def rss_mb(self) -> float:
        """Resident memory of the server and its children (the local LLM's server)."""
        total = 0.0
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                continue
        return round(total, 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _customer(
    client: httpx.AsyncClient,
    script: Script,
    start_at: float,
    think_s: float,
    rng: random.Random,
    tally: Tally,
    on_turn: Any,
) -> None:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    tally.open_now += 1
    tally.open_peak = max(tally.open_peak, tally.open_now)
    try:
        r = await client.post("/v1/conversations")
        if r.status_code != 201:
            tally.errors[f"create_{r.status_code}"] += 1
            return
        path = f"/v1/conversations/{r.json()['conversation_id']}/messages"
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        for text, expect in zip(script.messages, script.expect, strict=True):
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))
            sent = time.monotonic()
            tally.first_sent = tally.first_sent or sent
            tally.in_flight += 1
            tally.in_flight_peak = max(tally.in_flight_peak, tally.in_flight)
            try:
                r = await client.post(path, json={"text": text}, headers=headers)
            finally:
                tally.in_flight -= 1
            answered = time.monotonic()
            on_turn()
            if r.status_code != 200:
                tally.errors[f"http_{r.status_code}"] += 1
                return  # a customer who got an error gives up
            body = r.json()
            reply = body.get("reply", "")
            met = (
                bool(body.get("citations")) if expect == CITES else expect.lower() in reply.lower()
            )
            if not reply or not met:
                tally.errors["unexpected_reply"] += 1
                return
            tally.latencies.append(answered - sent)
            tally.sent_at.append(sent)
            tally.last_answered = answered
    except httpx.HTTPError as exc:
        tally.errors[type(exc).__name__] += 1
    finally:
        tally.open_now -= 1


async def drive(
    url: str,
    all_scripts: list[Script],
    *,
    customers: int,
    ramp_s: float,
    think_s: float,
    max_s: float,
    seed: int = 0,
) -> Tally:
    """Run ``customers`` simulated customers against ``url``; unfinished ones at ``max_s`` are
    cancelled and counted as ``unfinished`` errors."""
    tally = Tally()
    rng = random.Random(seed)
    turns = len(all_scripts[0].messages)
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: a customer thinks
    # longer than that, and reusing a connection the server is closing fails the request.
    limits = httpx.Limits(
        max_connections=customers, max_keepalive_connections=customers, keepalive_expiry=2.0
    )
    # The connect timeout covers a burst of new connections waiting in the server's accept queue.
    timeout = httpx.Timeout(120.0, connect=60.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        with Progress(transient=True) as progress:
            task = progress.add_task("turns", total=customers * turns)
            start = time.monotonic()
            jobs = [
                asyncio.create_task(
                    _customer(
                        client,
                        all_scripts[i % len(all_scripts)],
                        start + ramp_s * i / customers,
                        think_s,
                        random.Random(rng.random()),
                        tally,
                        lambda: progress.advance(task),
                    )
                )
                for i in range(customers)
            ]
            done, pending = await asyncio.wait(jobs, timeout=max_s)
            for job in pending:
                job.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                tally.errors["unfinished"] += len(pending)
            for job in done:
                if job.exception() is not None:
                    tally.errors[type(job.exception()).__name__] += 1
    return tally


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(tally: Tally, *, customers: int, turns: int) -> dict[str, Any]:
    """The report's numbers from what the customers saw."""
    lat = tally.latencies
    span = tally.last_answered - tally.first_sent if tally.first_sent and lat else 0.0
    return {
        "customers": customers,
        "turns_per_customer": turns,
        "turns_answered": len(lat),
        "errors": sum(tally.errors.values()),
        "errors_by_kind": dict(tally.errors),
        "concurrency": {
            "conversations_peak": tally.open_peak,
            "in_flight_peak": tally.in_flight_peak,
        },
        "turns_per_s": round(len(lat) / span, 2) if span > 0 else 0.0,
        "latency_s": {
            name: round(_percentile(lat, q), 4) if lat else None
            for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
        },
        "duration_s": round(span, 2),
        "p95_s_by_minute": _by_minute(tally),
    }


def _by_minute(tally: Tally) -> list[float]:
    """p95 latency of the turns sent in each minute of the run: shows when it was slow."""
    if not tally.sent_at:
        return []
    start = min(tally.sent_at)
    minutes: dict[int, list[float]] = {}
    for sent, latency in zip(tally.sent_at, tally.latencies, strict=True):
        minutes.setdefault(int((sent - start) // 60), []).append(latency)
    return [round(_percentile(minutes.get(m, [0.0]), 95), 3) for m in range(max(minutes) + 1)]


def main(
    *,
    customers: int = 1000,
    turns: int = 4,
    llm: str = "none",
    out: str = "reports/bench_load.json",
    think_s: float = 60.0,
    ramp_s: float | None = None,
    max_s: float = 900.0,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Serve, load, report: print the table and write the report into ``out`` under ``llm``.

    ``think_s`` is the mean pause before each message, ``ramp_s`` how long the customers take to
    arrive (default: ``think_s``, so arrivals and conversations overlap from the start)."""
    from tools.settings import get_settings

    if llm not in LLM_MODES:
        raise ValueError(f"unknown LLM mode {llm!r}: use none or local")
    if customers < 1 or turns < 1:
        raise ValueError("customers and turns must be at least 1")
    console = Console()
    settings = get_settings()
    folder = Path(tempfile.mkdtemp(prefix="concierge-load-"))
    try:
        with console.status("Seeding the demo shop and ingesting its docs..."):
            env = prepare(folder, model_dir or settings.resolved_model_dir)
        all_scripts = scripts(env["CONCIERGE_STORE_URL"], turns)
        server = Server(folder, env, llm)
        try:
            with console.status("Starting the server..."):
                ready = server.wait_ready(600 if llm == "local" else 180)
            load_before = os.getloadavg()
            tally = asyncio.run(
                drive(
                    server.url,
                    all_scripts,
                    customers=customers,
                    ramp_s=think_s if ramp_s is None else ramp_s,
                    think_s=think_s,
                    max_s=max_s,
                )
            )
            load_after = os.getloadavg()
            server_rss = server.rss_mb()
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = summarize(tally, customers=customers, turns=turns)
    report.update(
        {
            "llm": llm,
            "think_s": think_s,
            "ramp_s": think_s if ramp_s is None else ramp_s,
            "server_rss_mb": server_rss,
            "server_ready": ready,
            "load_average": {"before": list(load_before), "after": list(load_after)},
            "cpus": os.cpu_count(),
            "target_p95_s": TARGET_P95_S if llm == "none" else None,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    _print(console, report)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[llm] = report
    path.write_text(json.dumps(existing, indent=2))
    console.print(f"Wrote {path}")
    return report


def _print(console: Console, report: dict[str, Any]) -> None:
    table = Table("measure", "value", title=f"Load, LLM {report['llm']}")
    lat = report["latency_s"]
    conc = report["concurrency"]
    rows = [
        ("customers x turns", f"{report['customers']} x {report['turns_per_customer']}"),
        ("conversations open at once (peak)", str(conc["conversations_peak"])),
        ("requests in flight (peak)", str(conc["in_flight_peak"])),
        ("turns answered", str(report["turns_answered"])),
        ("turns/s", str(report["turns_per_s"])),
        *((f"{k} latency (s)", str(lat[k])) for k in ("p50", "p95", "p99", "max")),
        ("errors", f"{report['errors']} {report['errors_by_kind'] or ''}".strip()),
        ("server RSS (MB)", str(report["server_rss_mb"])),
        ("load average after", " ".join(f"{x:.2f}" for x in report["load_average"]["after"])),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
