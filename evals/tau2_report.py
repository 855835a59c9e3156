"""The HTML report of ``concierge eval tau2``: per split the pass^k figures beside the published
frontier ones, the failed episodes counted by fault (the agent's or the simulated customer's, and
why), then every episode (reward, how it ended, its fault, the records that differ from the expected
end state, the facts it had to tell) with its transcript folded under it. One self-contained file
written beside the JSON report."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from classifiers.report import _f
from evals.conversations_report import STYLE, html_path_for

__all__ = ["html_path_for", "render_html", "write_html"]


def _e(value: Any) -> str:
    return html.escape(str(value))


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "-" if value is None else _f(value) if isinstance(value, float) else str(value)


def _aggregates(report: Mapping[str, Any]) -> str:
    aggregate: Mapping[str, Mapping[str, Any]] = report.get("aggregate") or {}
    splits = list(aggregate)
    if not splits:
        return "<p>No episode has run.</p>"
    keys = list(aggregate[splits[0]])
    head = "<tr><th>metric</th>" + "".join(f"<th>{_e(s)}</th>" for s in splits) + "</tr>"
    rows = "".join(
        f"<tr><td>{_e(key)}</td>"
        + "".join(f"<td>{_e(_shown(aggregate[s].get(key)))}</td>" for s in splits)
        + "</tr>"
        for key in keys
    )
    frontier = report.get("published_frontier") or {}
    published = ", ".join(f"{k} ~{v}" for k, v in frontier.items())
    return (
        f"<table>{head}{rows}</table>"
        f"<p class='muted'>Published frontier models on tau2-bench retail: {_e(published)}.</p>"
    )


def _faults(report: Mapping[str, Any]) -> str:
    rows: list[Mapping[str, Any]] = report.get("faults") or []
    if not rows:
        return ""
    splits = [s for s in report.get("aggregate") or {} if any(s in r for r in rows)]
    head = "".join(f"<th>{_e(c)}</th>" for c in ("side", "reason", *splits, "total"))
    body = "".join(
        f"<tr><td>{_e(r['side'])}</td><td class='text'>{_e(r['reason'])}</td>"
        + "".join(f"<td>{_e(r.get(s, 0))}</td>" for s in splits)
        + f"<td>{_e(r['total'])}</td></tr>"
        for r in rows
    )
    return (
        "<h2>Failed episodes by fault</h2><p class='muted'>Each failed episode put down to the agent "
        "or the simulated customer by the first rule that applies (evals/tau2_faults.py); "
        "<i>unclear</i> ones are to be read in the transcript.</p>"
        f"<table><tr>{head}</tr>{body}</table>"
    )


def _fault(episode: Mapping[str, Any]) -> str:
    fault = episode.get("fault")
    if not fault:
        return "-"
    return f"<b>{_e(fault['side'])}</b>: {_e(fault['reason'])}" + (
        f"<br><span class='muted'>{_e(fault['detail'])}</span>" if fault.get("detail") else ""
    )


def _episode(episode: Mapping[str, Any]) -> str:
    ok = episode.get("reward") == 1.0
    verdict = "<span class='pass'>pass</span>" if ok else "<span class='fail'>fail</span>"
    told = episode.get("communicate") or {}
    facts = ", ".join(f"{k}: {'said' if v else 'not said'}" for k, v in told.items()) or "-"
    lines = "".join(
        f"<tr><td>{_e(t['role'])}</td><td class='text'>{_e(t['text'])}</td></tr>"
        for t in episode.get("transcript") or []
    )
    tools = ", ".join(
        f"{c['name']}{'' if c.get('ok') else ' (refused)'}" for c in episode.get("tool_calls") or []
    )
    assertions = "".join(f"<li>{_e(a)}</li>" for a in episode.get("nl_assertions") or [])
    return (
        f"<tr><td>{_e(episode['task'])}</td><td>{_e(episode['split'])}</td>"
        f"<td>{_e(episode['trial'])}</td><td>{verdict}</td><td>{_e(episode['ended'])}</td>"
        f"<td>{_e(episode['turns'])}</td><td>{_e(episode.get('seconds'))}</td>"
        f"<td class='text'>{_fault(episode)}</td>"
        f"<td class='text'>{_e(', '.join(episode.get('diff') or []) or '-')}</td>"
        f"<td class='text'>{_e(facts)}</td><td class='text'><details><summary>transcript"
        f"</summary><table>{lines}</table><p>tools: {_e(tools or '-')}</p>"
        + (f"<p>not judged:</p><ul>{assertions}</ul>" if assertions else "")
        + (f"<p class='fail'>{_e(episode['error'])}</p>" if episode.get("error") else "")
        + "</details></td></tr>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a ``concierge eval tau2`` report."""
    episodes = report.get("episodes") or []
    table = (
        "<table><tr><th>task</th><th>split</th><th>trial</th><th>reward</th><th>ended</th>"
        "<th>turns</th><th>s</th><th>fault</th><th>records unlike the expected end state</th>"
        "<th>facts to tell</th><th>conversation</th></tr>"
        + "".join(_episode(e) for e in episodes)
        + "</table>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>concierge: tau2 simulation</title>"
        f"<style>{STYLE}</style></head><body><h1>tau2 retail simulation</h1>"
        f"<p>customer {_e(report.get('user_model'))}, agent LLM {_e(report.get('agent_llm'))}, "
        f"split {_e(report.get('split'))}, {_e(report.get('trials'))} trial(s), "
        f"{_e(report.get('wall_seconds'))} s, {_e(report.get('when'))}</p>"
        + _aggregates(report)
        + _faults(report)
        + f"<h2>Episodes ({len(episodes)})</h2>"
        + table
        + "</body></html>"
    )


def write_html(report: Mapping[str, Any], path: Path | str) -> Path:
    """Write the page to ``path`` (beside the JSON: :func:`html_path_for`) and return it."""
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target
