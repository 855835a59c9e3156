"""Tool latency benchmark: p50/p95 of reads and writes on SQLite and PostgreSQL over the tau2 shop.

Each backend gets a fresh store with the tau2 data; every call is a real tool call through
``tools.registry.invoke`` with a verified customer and, for writes, their confirmation. Writes act on
distinct orders so each one does real work (no idempotent replays).
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tools import ToolContext
from tools.models import Customer, Order, OrderItem, OrderStatus
from tools.registry import invoke, spec
from tools.settings import get_settings
from tools.store import Store
from tools.tau2 import import_tau2

TARGETS_MS = {"read": 5.0, "write": 20.0}
"""p95 targets on SQLite (the embedded default)."""

Call = tuple[str, dict[str, Any], str]
"""(tool name, arguments, customer id)."""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _plan_calls(store: Store, n: int, rng: random.Random) -> dict[str, list[Call]]:
    """Arguments for ``n`` calls of each benchmarked tool, drawn from the store's own data."""
    with store.read() as s:
        orders = s.execute(select(Order.id, Order.customer_id, Order.status)).all()
        customers = s.execute(select(Customer.id, Customer.email)).all()
        first_items = dict(
            s.execute(
                select(OrderItem.order_id, OrderItem.item_id).where(OrderItem.position == 0)
            ).all()
        )
        products = [pid for (pid,) in s.execute(select(OrderItem.product_id).distinct())]
        payment = {
            o.id: o.transactions[0].payment_method_id
            for o in s.scalars(select(Order).where(Order.status == OrderStatus.DELIVERED.value))
        }
    pending = [o for o in orders if o.status == OrderStatus.PENDING.value]
    delivered = [o for o in orders if o.status == OrderStatus.DELIVERED.value]
    rng.shuffle(pending)
    rng.shuffle(delivered)
    half = len(pending) // 2
    address = {
        "address1": "1 Benchmark Way",
        "address2": "",
        "city": "Austin",
        "state": "TX",
        "country": "USA",
        "zip": "73301",
    }

    def sample(rows: Sequence[Any]) -> list[Any]:
        return [rng.choice(rows) for _ in range(n)]

    return {
        "find_user_id_by_email": [
            ("find_user_id_by_email", {"email": c.email}, c.id) for c in sample(customers)
        ],
        "get_user_details": [
            ("get_user_details", {"user_id": c.id}, c.id) for c in sample(customers)
        ],
        "get_order_details": [
            ("get_order_details", {"order_id": o.id}, o.customer_id) for o in sample(orders)
        ],
        "track_order": [("track_order", {"order_id": o.id}, o.customer_id) for o in sample(orders)],
        "get_product_details": [
            ("get_product_details", {"product_id": rng.choice(products)}, "") for _ in range(n)
        ],
        "search_products": [
            (
                "search_products",
                {"query": rng.choice(["kettle", "red shirt", "wireless headphones"])},
                "",
            )
            for _ in range(n)
        ],
        "cancel_pending_order": [
            (
                "cancel_pending_order",
                {"order_id": o.id, "reason": "no longer needed"},
                o.customer_id,
            )
            for o in pending[:half][:n]
        ],
        "modify_pending_order_address": [
            ("modify_pending_order_address", {"order_id": o.id, **address}, o.customer_id)
            for o in pending[half:][:n]
        ],
        "return_delivered_order_items": [
            (
                "return_delivered_order_items",
                {
                    "order_id": o.id,
                    "item_ids": [first_items[o.id]],
                    "payment_method_id": payment[o.id],
                },
                o.customer_id,
            )
            for o in delivered[:n]
        ],
        "modify_user_address": [
            ("modify_user_address", {"user_id": c.id, **address, "zip": f"{10000 + i}"}, c.id)
            for i, c in enumerate(customers[:n])
        ],
    }


def _run_calls(
    store: Store, calls: list[Call], advance: Callable[[], None]
) -> tuple[list[float], int]:
    base = ToolContext(store, actor="bench")
    timings: list[float] = []
    errors = 0
    for name, arguments, customer in calls:
        ctx = base.authenticated(customer) if customer else base
        if spec(name).kind == "write":
            # Confirmed and, where the amount asks for it, approved: the bench times the write itself.
            ctx = ctx.confirm(name, arguments).approve(name, arguments, "bench")
        start = time.perf_counter()
        outcome = invoke(ctx, name, arguments)
        timings.append((time.perf_counter() - start) * 1000)
        errors += 0 if outcome.ok else 1
        advance()
    return timings, errors


def bench_backend(store: Store, n: int, progress: Progress, label: str) -> dict[str, Any]:
    store.migrate()
    import_tau2(store, get_settings().tau2_dir / "db.json")
    plan = _plan_calls(store, n, random.Random(0))
    task = progress.add_task(label, total=sum(len(c) for c in plan.values()))
    results: dict[str, Any] = {}
    pooled: dict[str, tuple[list[float], int]] = {"read": ([], 0), "write": ([], 0)}
    for name, calls in plan.items():
        kind = spec(name).kind
        if kind == "read":
            # A few untimed calls first, so pools and statement caches are warm.
            _run_calls(store, calls[:3], lambda: None)
        timings, errors = _run_calls(store, calls, lambda: progress.advance(task))
        results[name] = _summarise(kind, timings, errors)
        pooled[kind] = (pooled[kind][0] + timings, pooled[kind][1] + errors)
    for pooled_kind, (timings, errors) in pooled.items():
        results[f"all {pooled_kind}s"] = _summarise(pooled_kind, timings, errors)
    return results


def _summarise(kind: str, timings: list[float], errors: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "calls": len(timings),
        "errors": errors,
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(_percentile(timings, 0.95), 3),
        "mean_ms": round(statistics.fmean(timings), 3),
    }


def main(
    *, calls: int = 200, postgres_url: str | None = None, out: str = "reports/bench.json"
) -> dict[str, Any]:
    console = Console()
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "calls_per_tool": calls,
        "targets_p95_ms": TARGETS_MS,
        "backends": {},
    }
    with Progress(console=console) as progress, tempfile.TemporaryDirectory() as tmp:
        sqlite = Store(f"sqlite:///{tmp}/bench.db")
        report["backends"]["sqlite"] = bench_backend(sqlite, calls, progress, "SQLite")
        sqlite.dispose()
        if postgres_url:
            report["backends"]["postgresql"] = _bench_postgres(postgres_url, calls, progress)
    _print(console, report)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing["tools"] = report
    path.write_text(json.dumps(existing, indent=2))
    console.print(f"Wrote {path}")
    return report


def _bench_postgres(url: str, n: int, progress: Progress) -> dict[str, Any]:
    import psycopg

    admin = make_url(url)
    name = f"concierge_bench_{uuid.uuid4().hex[:8]}"
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    store = Store(admin.set(database=name).render_as_string(hide_password=False))
    try:
        return bench_backend(store, n, progress, "PostgreSQL")
    finally:
        store.dispose()
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _print(console: Console, report: dict[str, Any]) -> None:
    for backend, results in report["backends"].items():
        table = Table(
            "tool", "kind", "calls", "errors", "p50 ms", "p95 ms", title=f"tool latency: {backend}"
        )
        for name, r in results.items():
            target = TARGETS_MS[r["kind"]] if name.startswith("all ") else None
            p95 = f"{r['p95_ms']:.2f}"
            if target is not None:
                p95 += " ok" if r["p95_ms"] <= target else f" (target {target})"
            table.add_row(
                name, r["kind"], str(r["calls"]), str(r["errors"]), f"{r['p50_ms']:.2f}", p95
            )
        console.print(table)
