"""The HTML report of ``concierge eval conversations``: the aggregates, every failing turn with its
reasons, and three plots (intent confusion matrix, turn latency histogram, escalation matrix), all in
one self-contained file (PNG images embedded as base64, no external resource), written beside the
JSON report.

The plots are drawn as the classifier benchmark draws its own (:mod:`classifiers.report`): matplotlib
on the Agg backend, embedded with the same helper."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from classifiers.report import _f, _figure_png

__all__ = ["STYLE", "html_path_for", "render_html", "write_html"]

NO_INTENT = "(none)"

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;"
    "padding:4px 8px;text-align:right;vertical-align:top}td:first-child,th:first-child"
    "{text-align:left}td.text{text-align:left;max-width:520px;overflow-wrap:anywhere}"
    "img{max-width:100%}.pass{color:#1a7f37}.fail{color:#c62828}.muted{color:#666}"
)

# The aggregates in reading order, with the label shown and the number of turns behind each rate.
_ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("conversations", "conversations", None),
    ("turns", "turns", None),
    ("turn_pass_rate", "turn pass rate", "turns"),
    ("conversation_pass_rate", "conversation pass rate", "conversations"),
    ("intent_accuracy", "intent accuracy", "intent_turns"),
    ("severity_within_range", "severity within range", "severity_turns"),
    ("tool_precision", "tool-call precision", "tool_turns"),
    ("tool_recall", "tool-call recall", "tool_turns"),
    ("argument_match", "argument match", "argument_turns"),
    ("forbidden_tool_violations", "forbidden-tool violations", "forbidden_tool_turns"),
    ("answer_contains_rate", "answer contains rate", None),
    ("answer_excludes_rate", "answer excludes rate", None),
    ("citation_rate", "citation expectation met", "citation_turns"),
    ("replies_with_citations", "replies with a citation", "turns"),
)


def html_path_for(json_path: Path | str) -> Path:
    """Where the HTML report of the JSON report at ``json_path`` goes: beside it, ``.html``."""
    return Path(json_path).with_suffix(".html")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _aggregates_table(aggregate: Mapping[str, Any]) -> str:
    rows = []
    for key, label, over in _ROWS:
        if key not in aggregate:
            continue
        n = aggregate.get(over) if over else None
        rows.append(
            f"<tr><td>{_e(label)}</td><td>{_e(_f(aggregate[key]))}</td>"
            f"<td>{'' if n is None else _e(n)}</td></tr>"
        )
    esc = aggregate.get("escalation") or {}
    if esc:
        counts = ", ".join(f"{k} {esc.get(k, 0)}" for k in ("tp", "fp", "fn", "tn"))
        for key in ("precision", "recall", "f1"):
            rows.append(
                f"<tr><td>escalation {key}</td><td>{_e(_f(esc.get(key)))}</td>"
                f"<td>{_e(counts)}</td></tr>"
            )
    latency = aggregate.get("latency_ms") or {}
    for key, value in latency.items():
        rows.append(
            f"<tr><td>turn latency {_e(key)} (ms)</td><td>{_e(_f(value))}</td><td></td></tr>"
        )
    return (
        "<table><tr><th>metric</th><th>value</th><th>turns behind it</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _failures_table(turns: Sequence[Mapping[str, Any]]) -> str:
    failing = [t for t in turns if not t.get("passed", not t.get("failures"))]
    if not failing:
        return "<p class='pass'>Every turn passed.</p>"
    rows = []
    for t in failing:
        reasons = "".join(f"<li>{_e(r)}</li>" for r in t.get("failures", ()))
        rows.append(
            f"<tr><td>{_e(t.get('conversation'))}</td><td>{_e(t.get('turn'))}</td>"
            f"<td class='text'>{_e(t.get('user', ''))}</td>"
            f"<td class='text'><ul>{reasons}</ul></td>"
            f"<td class='text'>{_e(t.get('reply', ''))}</td></tr>"
        )
    return (
        f"<p class='fail'>{len(failing)} of {len(turns)} turns failed.</p>"
        "<table><tr><th>conversation</th><th>turn</th><th>customer said</th><th>reasons</th>"
        "<th>reply</th></tr>" + "".join(rows) + "</table>"
    )


def intent_confusion(
    turns: Sequence[Mapping[str, Any]],
) -> tuple[list[str], list[list[int]]]:
    """Labels and counts ``matrix[expected][actual]`` over the turns that expect an intent."""
    pairs = [
        (str(t["expect"]["intent"]), str(t.get("intent") or NO_INTENT))
        for t in turns
        if (t.get("expect") or {}).get("intent") is not None
    ]
    labels = sorted({label for pair in pairs for label in pair})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for expected, actual in pairs:
        matrix[index[expected]][index[actual]] += 1
    return labels, matrix


def escalation_matrix(turns: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Counts ``[[expected yes & escalated, expected yes & not], [expected no & escalated, ...]]``
    over the turns that state ``escalate``."""
    matrix = [[0, 0], [0, 0]]
    for t in turns:
        wanted = (t.get("expect") or {}).get("escalate")
        if wanted is None:
            continue
        matrix[0 if wanted else 1][0 if t.get("escalated") else 1] += 1
    return matrix


def _annotated(ax: Any, matrix: Sequence[Sequence[int]]) -> None:
    peak = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > peak / 2 else "black",
                )


def plots(report: Mapping[str, Any]) -> dict[str, str]:
    """Base64 PNGs by name (``intent``, ``latency``, ``escalation``), each only when there is data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    turns: Sequence[Mapping[str, Any]] = report.get("turns") or []
    images: dict[str, str] = {}
    labels, matrix = intent_confusion(turns)
    if labels:
        size = max(4.0, 0.38 * len(labels) + 2)
        fig, ax = plt.subplots(figsize=(size + 1, size))
        im = ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("intent the agent found")
        ax.set_ylabel("expected intent")
        ax.set_title("Intent confusion (turns that expect an intent)")
        _annotated(ax, matrix)
        fig.colorbar(im, ax=ax, fraction=0.03)
        images["intent"] = _figure_png(fig)
        plt.close(fig)
    latencies = [float(t["latency_ms"]) for t in turns if t.get("latency_ms") is not None]
    if latencies:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(latencies, bins=min(40, max(5, len(latencies) // 3)), color="#4a7ab7")
        p = (report.get("aggregate") or {}).get("latency_ms") or {}
        for key, style in (("p50", "--"), ("p95", ":")):
            if p.get(key) is not None:
                ax.axvline(p[key], color="#c62828", ls=style, lw=1, label=f"{key} {p[key]:g} ms")
        ax.set_xlabel("turn latency (ms)")
        ax.set_ylabel("turns")
        ax.set_title(f"Turn latency ({len(latencies)} turns)")
        if p:
            ax.legend(fontsize=8)
        images["latency"] = _figure_png(fig)
        plt.close(fig)
    esc = escalation_matrix(turns)
    if any(any(row) for row in esc):
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
        ax.imshow(esc, cmap="Oranges")
        ax.set_xticks([0, 1], ["escalated", "not escalated"])
        ax.set_yticks([0, 1], ["expected", "not expected"])
        ax.set_xlabel("what the agent did")
        ax.set_ylabel("escalation")
        ax.set_title("Escalation: expected vs actual")
        peak = max(max(row) for row in esc)
        for i in range(2):
            for j in range(2):
                dark = esc[i][j] > peak / 2
                ax.text(
                    j,
                    i,
                    str(esc[i][j]),
                    ha="center",
                    va="center",
                    fontsize=12,
                    color="white" if dark else "black",
                )
        images["escalation"] = _figure_png(fig)
        plt.close(fig)
    return images


_FIGURES = (
    ("intent", "Intent confusion matrix"),
    ("latency", "Turn latency"),
    ("escalation", "Escalation matrix"),
)


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a report of :func:`evals.conversations.report_for`."""
    aggregate = report.get("aggregate") or {}
    turns = report.get("turns") or []
    images = plots(report)
    figures = "".join(
        f'<h2>{_e(title)}</h2><img alt="{_e(title)}" src="data:image/png;base64,{images[key]}">'
        if key in images
        else f"<h2>{_e(title)}</h2><p class='muted'>No turn states this expectation.</p>"
        for key, title in _FIGURES
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>concierge: labeled conversations</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Labeled conversations</h1>"
        f"<p>File <code>{_e(report.get('file', '?'))}</code>, LLM <b>{_e(report.get('llm', '?'))}"
        f"</b>, run {_e(report.get('when', '?'))}.</p>"
        "<h2>Aggregates</h2>" + _aggregates_table(aggregate) + "<h2>Failing turns</h2>"
        "" + _failures_table(turns) + figures + "</body></html>"
    )


def write_html(report: Mapping[str, Any], path: Path | str) -> Path:
    """Write :func:`render_html` of ``report`` to ``path`` and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target
