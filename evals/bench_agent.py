"""Per-turn latency of the agent, broken down by node (p50/p95), and its memory: with no LLM, with the
embedded local model (``local``) or an OpenAI-compatible endpoint (``openai``).

Conversations are scripted on the tau2 shop (tracking, a cancellation, a return, an exchange question,
an address change, refund status, availability, a policy question, an escalation) and replayed on fresh
copies of the store, so every replay does the same work."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

if TYPE_CHECKING:
    from agent.llm import LLM

# Per-turn p95 targets: the templated path, and an LLM that plans and writes (the figure for
# the local 0.5B model on 2 cores); and the p95 of the time to the customer's first words.
TARGET_P95_MS = {"none": 150.0, "local": 3000.0, "openai": 3000.0}
TARGET_FIRST_WORDS_MS = {"none": 1000.0, "local": 2000.0, "openai": 2000.0}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def conversations(store: Any) -> list[list[str]]:
    """Scripted conversations over real customers and orders of the tau2 shop."""
    from tools.models import Customer, Order

    with store.read() as s:
        pending = s.scalars(
            select(Order).where(Order.status == "pending").order_by(Order.id)
        ).first()
        delivered = s.scalars(
            select(Order).where(Order.status == "delivered").order_by(Order.id)
        ).first()
        assert pending is not None and delivered is not None
        p_email = s.get(Customer, pending.customer_id).email
        d_customer = s.get(Customer, delivered.customer_id)
        assert d_customer is not None
        d_email = d_customer.email
        d_name = f"{d_customer.first_name} {d_customer.last_name}"
        d_zip = d_customer.zip
        item = delivered.items[0].name
        p_id, d_id = pending.id, delivered.id
    return [
        [f"where is my order {p_id}?", f"my email is {p_email}", "thanks, that's all"],
        [f"I want to cancel order {p_id}", f"email {p_email}", "I ordered it by mistake", "yes"],
        [
            f"I'd like to return the {item} from {d_id}",
            f"My name is {d_name}, zip {d_zip}",
            "refund to the original payment method",
            "no",
        ],  # fmt: skip
        [f"I want to exchange the {item} from order {d_id}", f"{d_email}", "no thanks"],
        [
            f"please change the shipping address of {p_id}",
            p_email,
            "123 Main St, Apt 4, Springfield, IL, 62704, USA",
            "yes",
        ],  # fmt: skip
        [f"when will I get my refund for {d_id}?", d_email],
        ["do you have the water bottle in stock?"],
        ["what is your return policy for delivered items?"],
        ["I want to talk to a human"],
    ]


def _server_rss_mb(pid: int | None) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def main(*, out: str = "reports/bench.json", repeats: int = 5, llm: str = "none") -> dict[str, Any]:
    """Replay the conversations ``repeats`` times (the first untimed) with the ``llm`` mode, print the
    table and add the report to ``out`` (under ``agent``, or ``agent_<llm>`` with an LLM)."""
    from agent.llm import make_llm
    from tools.settings import get_settings

    if llm not in TARGET_P95_MS:
        raise ValueError(f"unknown LLM mode {llm!r}: use none, local or openai")
    settings = get_settings()
    rss_start = _rss_mb()
    model = make_llm(llm, settings)
    try:
        report = _run(repeats, model)
        if model is not None and model.server is not None:
            report["memory_mb"]["llm_server_rss"] = _server_rss_mb(model.server.pid)
    finally:
        # In local mode this stops the llama.cpp server: none outlives the benchmark.
        if model is not None:
            model.close()
    report["llm"] = llm
    report["model"] = _model_name(model)
    report["target_p95_ms"] = TARGET_P95_MS[llm]
    report["target_first_words_p95_ms"] = TARGET_FIRST_WORDS_MS[llm]
    report["memory_mb"]["rss_before_loading"] = round(rss_start, 1)
    _print(report)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing["agent" if llm == "none" else f"agent_{llm}"] = report
    path.write_text(json.dumps(existing, indent=2))
    Console().print(f"Wrote {path}")
    return report


def _model_name(model: LLM | None) -> str:
    if model is None:
        return "none"
    return str(getattr(model.chat_model, "model_name", None) or model.name)


def _run(repeats: int, model: LLM | None) -> dict[str, Any]:
    from agent.checkpoint import open_checkpointer
    from agent.context import Context
    from agent.runner import Agent
    from classifiers import Classifier
    from knowledge import KnowledgeBase
    from tools.settings import Settings, get_settings
    from tools.store import Store
    from tools.tau2 import import_tau2

    settings = get_settings()
    by_node: dict[str, list[float]] = {}
    turns: list[float] = []
    first: list[float] = []  # time to the customer's first words, per turn
    rewritten = failures = ungrounded = 0
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        seed = Store(f"sqlite:///{template}")
        seed.migrate()
        import_tau2(seed, settings.tau2_dir / "db.json")
        scripts = conversations(seed)
        seed.dispose()
        kb_settings = Settings(_env_file=None, var_dir=Path(tmp) / "var", chroma_url=None)
        kb = KnowledgeBase(kb_settings)
        kb.ingest([settings.tau2_dir / "policy.md"])
        classifier = Classifier.from_pretrained()
        rss_loaded = _rss_mb()
        for repeat in range(repeats):
            db = Path(tmp) / f"run{repeat}.db"
            shutil.copy(template, db)
            store = Store(f"sqlite:///{db}")
            context = Context.from_settings(
                settings,
                store=store,
                classifier=classifier,
                kb=kb,
                llm=model,
                llm_mode=model.name if model is not None else "none",
            )
            # The first replay warms caches (lingua, BM25, onnxruntime, the LLM's prompt cache):
            # not timed.
            timed = repeat > 0 or repeats == 1
            with open_checkpointer(f"sqlite:///{tmp}/cp{repeat}.db") as checkpointer:
                agent = Agent(context, checkpointer.saver)
                for n, script in enumerate(scripts):
                    thread = f"r{repeat}-c{n}"
                    for text in script:
                        started = last = time.perf_counter()
                        first_words: float | None = None
                        message: Any = {"messages": [HumanMessage(text)]}
                        # As served: the turn's LLM budget starts now (Context.for_turn), and
                        # the customer's first words are the first sentence the writer streams,
                        # else the whole reply once the guard has passed it.
                        chunk: Any
                        for mode, chunk in agent.graph.stream(
                            message,
                            agent.config(thread),
                            context=context.for_turn(thread),
                            stream_mode=["updates", "custom"],
                        ):
                            now = time.perf_counter()
                            if mode == "custom":
                                if chunk.get("sentence") and first_words is None:
                                    first_words = now
                                continue
                            for node in chunk:
                                if timed:
                                    by_node.setdefault(node, []).append((now - last) * 1000)
                                if node == "guard" and first_words is None:
                                    first_words = now
                            last = now
                        if timed:
                            ended = time.perf_counter()
                            turns.append((ended - started) * 1000)
                            first.append(((first_words or ended) - started) * 1000)
                            rewritten += agent.state(thread).llm_used
                    if timed:
                        state = agent.state(thread)
                        failures += state.llm_failures
                        ungrounded += state.ungrounded_replies
            store.dispose()
        kb.close()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "conversations": len(scripts),
        "turns_timed": len(turns),
        "turn_ms": {
            "p50": pct(turns, 0.5),
            "p95": pct(turns, 0.95),
            "max": round(max(turns), 2),
            "mean": round(statistics.mean(turns), 2),
        },
        "first_words_ms": {
            "p50": pct(first, 0.5),
            "p95": pct(first, 0.95),
            "max": round(max(first), 2),
        },
        "nodes_ms": {
            node: {
                "p50": pct(v, 0.5),
                "p95": pct(v, 0.95),
                "max": round(max(v), 2),
                "calls": len(v),
            }
            for node, v in by_node.items()
        },
        "llm_turns": {
            "rewritten": rewritten,
            "writer_failures": failures,
            "ungrounded_replaced": ungrounded,
        },
        "memory_mb": {
            "rss_with_classifier_kb": round(rss_loaded, 1),
            "rss_after_runs": round(_rss_mb(), 1),
            "peak_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }


def _print(report: dict[str, Any]) -> None:
    console = Console()
    who = "no LLM" if report["llm"] == "none" else f"{report['llm']} LLM ({report['model']})"
    table = Table(title=f"agent, {who}: per-turn latency (ms)")
    table.add_column("node")
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("max", justify="right")
    table.add_column("calls", justify="right")
    for node, stats in report["nodes_ms"].items():
        table.add_row(
            node,
            f"{stats['p50']:.1f}",
            f"{stats['p95']:.1f}",
            f"{stats['max']:.1f}",
            str(stats["calls"]),
        )
    turn = report["turn_ms"]
    table.add_row(
        "[bold]turn[/]",
        f"{turn['p50']:.1f}",
        f"{turn['p95']:.1f}",
        f"{turn['max']:.1f}",
        str(report["turns_timed"]),
    )
    words = report["first_words_ms"]
    table.add_row(
        "[bold]first words[/]",
        f"{words['p50']:.1f}",
        f"{words['p95']:.1f}",
        f"{words['max']:.1f}",
        str(report["turns_timed"]),
    )
    console.print(table)
    if report["llm"] != "none":
        console.print(f"LLM: {report['llm_turns']}")
    console.print(f"memory: {report['memory_mb']}")
    console.print(f"load average: {report['machine']['load_average']}")
