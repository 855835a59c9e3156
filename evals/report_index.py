"""One page for every benchmark and evaluation: ``reports/index.html`` links and summarises each report
JSON found in the reports folder (``classifiers_bench.json``; ``bench.json`` with its ``agent``,
``agent_<llm>``, ``routing``, ``tools`` and ``retrieval`` parts; ``bench_load.json``;
``eval_conversations.json``; ``eval_tau2.json``), a few headline numbers each, with links to the
JSON and to the detailed HTML where one exists (``eval_conversations.html`` is rebuilt from its JSON
when older). A report that is missing is listed as not run; one that cannot be read says so; neither
stops the page."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifiers.report import _f
from evals.conversations_report import STYLE

__all__ = ["build_index", "main"]

Rows = list[tuple[str, Any]]


def _e(value: Any) -> str:
    return html.escape(str(value))


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _classifiers(data: Mapping[str, Any]) -> Rows:
    rows: Rows = []
    tasks = data.get("tasks") or {}
    onnx = "minilm_onnx_int8"
    for task, label in (("bitext", "Bitext"), ("banking77", "BANKING77")):
        value = _get(tasks, task, "results", onnx, "test", "accuracy")
        if value is not None:
            rows.append((f"{label} test accuracy (MiniLM ONNX int8)", value))
    clinc = _get(tasks, "clinc150", "results", onnx, "test") or {}
    for key, label in (("in_scope_accuracy", "in-scope accuracy"), ("oos_recall", "OOS recall")):
        if clinc.get(key) is not None:
            rows.append((f"CLINC150 {label}", clinc[key]))
    bitext = _get(tasks, "bitext", "results", onnx) or {}
    lat = bitext.get("latency_served") or bitext.get("latency") or {}
    if isinstance(lat, Mapping) and lat.get("batch1_p50_ms") is not None:
        rows.append(("served batch-1 p50 ms", lat["batch1_p50_ms"]))
    mae = _get(bitext, "severity", "tickets_heldout", "mae")
    if mae is not None:
        rows.append(("severity MAE (held-out tickets)", mae))
    if not rows:
        rows.append(("tasks", ", ".join(tasks) or "none"))
    return rows


def _agent(data: Mapping[str, Any]) -> Rows:
    rows: Rows = []
    turn = data.get("turn_ms") or {}
    for key in ("p95", "p50"):
        if turn.get(key) is not None:
            rows.append((f"turn {key} ms", turn[key]))
    if data.get("target_p95_ms") is not None:
        rows.append(("target p95 ms", data["target_p95_ms"]))
    rows.append(("LLM", data.get("llm", "none")))
    rows.append(
        ("conversations / turns timed", f"{data.get('conversations')} / {data.get('turns_timed')}")
    )
    return rows


def _routing(data: Mapping[str, Any]) -> Rows:
    rows: Rows = [("messages", data.get("messages"))]
    for group, scores in (data.get("accuracy") or {}).items():
        if isinstance(scores, Mapping) and scores.get("agent") is not None:
            rows.append((f"agent goal accuracy, {group} (n={scores.get('n')})", scores["agent"]))
    rows.append(("agent misses", len(data.get("agent_misses") or [])))
    return rows


def _tools(data: Mapping[str, Any]) -> Rows:
    rows: Rows = [("calls per tool", data.get("calls_per_tool"))]
    for backend, results in (data.get("backends") or {}).items():
        for kind in ("reads", "writes"):
            pooled = _get(results, f"all {kind}")
            if isinstance(pooled, Mapping):
                rows.append(
                    (
                        f"{backend}: all {kind} p50 / p95 ms",
                        f"{_f(pooled.get('p50_ms'))} / {_f(pooled.get('p95_ms'))}",
                    )
                )
    return rows


def _retrieval(data: Mapping[str, Any]) -> Rows:
    rows: Rows = []
    for name, target in (data.get("targets") or {}).items():
        if isinstance(target, Mapping):
            met = "met" if target.get("met") else "NOT met"
            rows.append(
                (name, f"{_f(target.get('value'))} (target {_f(target.get('target'))}, {met})")
            )
    if not rows:
        rows.append(("parts", ", ".join(k for k in data if k != "targets") or "none"))
    return rows


def _load(data: Mapping[str, Any]) -> Rows:
    rows: Rows = []
    for mode, run in data.items():
        if not isinstance(run, Mapping):
            continue
        lat = run.get("latency_s") or {}
        rows.append(
            (
                f"LLM {mode}: {run.get('customers')} customers x {run.get('turns_per_customer')} turns",
                f"{run.get('errors')} errors, p95 {_f(lat.get('p95'))} s, "
                f"{_f(run.get('turns_per_s'))} turns/s",
            )
        )
    return rows


def _conversations(data: Mapping[str, Any]) -> Rows:
    agg = data.get("aggregate") or {}
    return [
        ("turn pass rate", agg.get("turn_pass_rate")),
        ("conversation pass rate", agg.get("conversation_pass_rate")),
        ("file / LLM", f"{data.get('file')} / {data.get('llm')}"),
        ("conversations / turns", f"{agg.get('conversations')} / {agg.get('turns')}"),
        ("intent accuracy", agg.get("intent_accuracy")),
        ("escalation F1", _get(agg, "escalation", "f1")),
        ("forbidden-tool violations", agg.get("forbidden_tool_violations")),
        (
            "turn latency p50 / p95 ms",
            f"{_f(_get(agg, 'latency_ms', 'p50'))} / {_f(_get(agg, 'latency_ms', 'p95'))}",
        ),
    ]


def _tau2(data: Mapping[str, Any]) -> Rows:
    aggregate: Mapping[str, Mapping[str, Any]] = data.get("aggregate") or {}
    # The tau2 split first, the adversarial tasks after: the headline is the split's pass^k.
    splits = sorted(aggregate, key=lambda split: split == "adversarial")
    rows: Rows = []
    for split in splits:
        agg = aggregate[split]
        passes = " · ".join(
            f"{k} {_f(v)}" for k, v in agg.items() if k.startswith("pass^") and v is not None
        )
        rows.append((f"{split}: {agg.get('tasks')} tasks", passes or "-"))
    frontier = data.get("published_frontier") or {}
    if frontier:
        rows.append(
            ("published frontier (retail)", " · ".join(f"{k} ~{v}" for k, v in frontier.items()))
        )
    for split in splits:
        agg = aggregate[split]
        rows.append(
            (
                f"{split}: DB match / communicated",
                f"{_f(agg.get('db_match_rate'))} / {_f(agg.get('communicate_rate'))}",
            )
        )
    rows.append(("customer / agent LLM", f"{data.get('user_model')} / {data.get('agent_llm')}"))
    rows.append(("split / trials", f"{data.get('split')} / {data.get('trials')}"))
    return rows


# (title, JSON file, key inside it or None for the whole file, summariser, detailed HTML, command)
_Section = tuple[str, str, str | None, Callable[[Mapping[str, Any]], Rows], str | None, str]
_SECTIONS: tuple[_Section, ...] = (
    (
        "Classifiers",
        "classifiers_bench.json",
        None,
        _classifiers,
        "classifiers_bench.html",
        "concierge bench classifiers",
    ),
    (
        "Labeled conversations",
        "eval_conversations.json",
        None,
        _conversations,
        "eval_conversations.html",
        "concierge eval conversations evals/data/dev_conversations.jsonl",
    ),
    (
        "tau2 simulation",
        "eval_tau2.json",
        None,
        _tau2,
        "eval_tau2.html",
        "concierge eval tau2 --split test --trials 4 --max-turns 10",
    ),
    ("Agent latency (no LLM)", "bench.json", "agent", _agent, None, "concierge bench agent"),
    (
        "Agent latency (local LLM)",
        "bench.json",
        "agent_local",
        _agent,
        None,
        "concierge bench agent --llm local",
    ),
    (
        "Agent latency (OpenAI)",
        "bench.json",
        "agent_openai",
        _agent,
        None,
        "concierge bench agent --llm openai",
    ),
    ("Goal routing", "bench.json", "routing", _routing, None, "concierge bench routing"),
    ("Tools", "bench.json", "tools", _tools, None, "concierge bench tools"),
    (
        "Retrieval",
        "bench.json",
        "retrieval",
        _retrieval,
        "retrieval.html",
        "concierge bench retrieval",
    ),
    ("Load", "bench_load.json", None, _load, None, "concierge bench load"),
)
# Sections shown as "not run" when absent (the OpenAI agent row only when it exists).
_OPTIONAL = {"agent_openai"}


def _read(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as e:
        return None, f"cannot be read: {e}"


def _section(
    reports: Path,
    loaded: dict[str, tuple[Any, str | None]],
    section: _Section,
    anchor: str,
) -> tuple[str, str] | None:
    """The section's HTML and its row in the summary table (None: an optional part not run)."""
    title, filename, key, summarise, detail, command = section
    if filename not in loaded:
        loaded[filename] = _read(reports / filename)
    data, error = loaded[filename]
    part = data.get(key) if key is not None and isinstance(data, Mapping) else data
    links = []
    if (reports / filename).exists():
        links.append(f"<a href='{_e(filename)}'>{_e(filename)}</a>")
    if detail and (reports / detail).exists():
        links.append(f"<a href='{_e(detail)}'>detailed report</a>")
    head = f"<h2 id='{anchor}'>{_e(title)}</h2>"
    how = f"<p class='muted'>Produced by <code>{_e(command)}</code>.</p>"
    name = f"<a href='#{anchor}'>{_e(title)}</a>"
    if error:
        return (
            head + f"<p class='fail'>{_e(filename)} {_e(error)}</p>" + how,
            f"<tr><td>{name}</td><td class='fail text'>unreadable</td><td></td></tr>",
        )
    if not isinstance(part, Mapping):
        if key in _OPTIONAL:
            return None
        where = f"{filename}" + (f" (key {key!r})" if key else "")
        return (
            head + f"<p class='muted'>Not run: no {_e(where)}.</p>" + how,
            f"<tr><td>{name}</td><td class='muted text'>not run</td><td></td></tr>",
        )
    try:
        rows = summarise(part)
    except Exception as e:  # a report of an older shape must not stop the page
        rows = [("summary unavailable", f"{type(e).__name__}: {e}")]
    when = part.get("when") or (data.get("when") if isinstance(data, Mapping) else None)
    when = when or (data.get("created") if isinstance(data, Mapping) else None)
    table = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_f(v))}</td></tr>" for k, v in rows)
    meta = " · ".join([*links, *([f"run {_e(when)}"] if when else [])])
    headline = "<br>".join(f"{_e(k)}: <b>{_e(_f(v))}</b>" for k, v in rows[:2])
    return (
        head + f"<p>{meta}</p><table>{table}</table>" + how,
        f"<tr><td>{name}</td><td class='text'>{headline}</td><td class='text'>{' · '.join(links)}"
        "</td></tr>",
    )


def build_index(reports_dir: Path | str = "reports") -> str:
    """The HTML of the index page for the reports in ``reports_dir``."""
    reports = Path(reports_dir)
    loaded: dict[str, tuple[Any, str | None]] = {}
    parts = [
        p
        for p in (_section(reports, loaded, s, f"r{n}") for n, s in enumerate(_SECTIONS))
        if p is not None
    ]
    found = sum(1 for data, _error in loaded.values() if data is not None)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    summary = (
        "<table><tr><th>report</th><th>headline</th><th>files</th></tr>"
        + "".join(row for _, row in parts)
        + "</table>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>concierge: reports</title>"
        f"<style>{STYLE}</style></head><body><h1>concierge: benchmarks and evaluations</h1>"
        f"<p class='muted'>{found} report file(s) found in {_e(reports)}; page built {stamp}. "
        "Run <code>make bench</code> to refresh.</p>"
        + summary
        + "".join(section for section, _ in parts)
        + "</body></html>"
    )


def _refresh_html(reports: Path) -> None:
    """(Re)write ``eval_conversations.html`` and ``eval_tau2.html`` when their JSON is newer (a report
    from before the page existed, or an interrupted tau2 run), so the index's links have a page."""
    from evals import conversations_report, tau2_report
    from evals.conversations_report import html_path_for

    for name, write in (
        ("eval_conversations.json", conversations_report.write_html),
        ("eval_tau2.json", tau2_report.write_html),
    ):
        source = reports / name
        page = html_path_for(source)
        if not source.exists() or (
            page.exists() and page.stat().st_mtime >= source.stat().st_mtime
        ):
            continue
        data, error = _read(source)
        if error is None and isinstance(data, Mapping):
            write(data, page)


def main(reports_dir: str = "reports") -> Path:
    """Write ``index.html`` in ``reports_dir`` and return its path."""
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    _refresh_html(reports)
    target = reports / "index.html"
    target.write_text(build_index(reports), encoding="utf-8")
    print(f"Wrote {target}")
    return target
