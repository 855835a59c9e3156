"""The HTML report of the labeled conversations and the reports index (no agent run: synthetic
reports in the shapes the commands write)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evals.conversations import aggregate
from evals.conversations_report import (
    escalation_matrix,
    html_path_for,
    intent_confusion,
    render_html,
    write_html,
)
from evals.report_index import build_index, main


def _turn(
    n: int,
    *,
    intent: str | None,
    expect: dict[str, Any],
    escalated: bool = False,
    failures: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "conversation": f"c{n // 2}",
        "turn": n % 2,
        "user": f"message <{n}>",
        "reply": f"reply {n}",
        "intent": intent,
        "severity": 2,
        "tools": [],
        "tool_calls": [],
        "escalated": escalated,
        "citations": [],
        "latency_ms": 10.0 + n,
        "expect": expect,
        "failures": failures or [],
        "passed": not failures,
    }


def _report() -> dict[str, Any]:
    turns = [
        _turn(0, intent="track_order", expect={"intent": "track_order", "escalate": False}),
        _turn(
            1,
            intent="cancel_order",
            expect={"intent": "track_order"},
            failures=["intent: expected 'track_order', got 'cancel_order'"],
        ),
        _turn(
            2,
            intent=None,
            expect={"intent": "complaint", "escalate": True},
            escalated=True,
            failures=["intent: expected 'complaint', got None"],
        ),
        _turn(
            3,
            intent="return_item",
            expect={"escalate": False},
            escalated=True,
            failures=["escalate: expected False, got True <script>"],
        ),
    ]
    from evals.conversations import TurnOutcome

    outcomes = [TurnOutcome(**{k: v for k, v in t.items() if k != "passed"}) for t in turns]
    return {
        "file": "dev.jsonl",
        "when": "2026-12-01T00:00:00+00:00",
        "llm": "none",
        "aggregate": aggregate(outcomes),
        "turns": turns,
    }


def _images(page: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page)


def test_the_matrices_count_expected_against_actual() -> None:
    turns = _report()["turns"]
    labels, matrix = intent_confusion(turns)
    assert labels == ["(none)", "cancel_order", "complaint", "track_order"]
    assert matrix[labels.index("track_order")][labels.index("track_order")] == 1
    assert matrix[labels.index("track_order")][labels.index("cancel_order")] == 1
    assert matrix[labels.index("complaint")][labels.index("(none)")] == 1
    # rows: expected yes / no; columns: escalated / not
    assert escalation_matrix(turns) == [[1, 0], [1, 1]]


def test_the_html_report_has_the_aggregates_failures_and_embedded_plots(tmp_path: Path) -> None:
    report = _report()
    path = write_html(report, html_path_for(tmp_path / "eval_conversations.json"))
    assert path == tmp_path / "eval_conversations.html"
    page = path.read_text()
    for heading in (
        "Aggregates",
        "Failing turns",
        "Intent confusion matrix",
        "Turn latency",
        "Escalation matrix",
    ):
        assert f">{heading}</h2>" in page
    assert "turn pass rate" in page and "escalation f1" in page
    assert "3 of 4 turns failed" in page
    assert "expected &#x27;track_order&#x27;, got &#x27;cancel_order&#x27;" in page
    # customer text and reasons are escaped; nothing is loaded from elsewhere
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "message &lt;1&gt;" in page
    assert not re.search(r"(src|href)=['\"]https?:", page)
    assert _images(page) == ["Intent confusion matrix", "Turn latency", "Escalation matrix"]


def test_a_report_without_intent_or_escalation_expectations_says_so() -> None:
    report = _report()
    for t in report["turns"]:
        t["expect"] = {}
        t["failures"], t["passed"] = [], True
    page = render_html(report)
    assert "Every turn passed." in page
    assert _images(page) == ["Turn latency"]
    assert page.count("No turn states this expectation.") == 2


def test_eval_conversations_writes_the_html_beside_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evals.conversations as conversations

    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"id": "x", "db": "demo", "turns": [{"user": "hi"}]}) + "\n")
    monkeypatch.setattr(conversations, "report_for", lambda *a, **k: _report())
    out = tmp_path / "out" / "eval_conversations.json"
    conversations.main(str(source), out=str(out), classifier=object())  # type: ignore[arg-type]
    assert out.exists()
    assert "Failing turns" in (tmp_path / "out" / "eval_conversations.html").read_text()


def test_the_index_tolerates_an_empty_folder(tmp_path: Path) -> None:
    path = main(str(tmp_path / "reports"))
    page = path.read_text()
    assert path == tmp_path / "reports" / "index.html"
    assert "0 report file(s) found" in page
    assert page.count("not run") >= 6
    assert "<a href='" not in page.replace("<a href='#", "")


def test_the_index_links_and_summarises_the_reports_that_exist(tmp_path: Path) -> None:
    (tmp_path / "eval_conversations.json").write_text(json.dumps(_report()))
    (tmp_path / "bench.json").write_text(
        json.dumps(
            {
                "agent": {
                    "when": "w",
                    "llm": "none",
                    "conversations": 9,
                    "turns_timed": 92,
                    "turn_ms": {"p50": 20.8, "p95": 43.8},
                    "target_p95_ms": 150.0,
                },
                "routing": {
                    "messages": 10,
                    "accuracy": {"all": {"n": 10, "agent": 0.9}},
                    "agent_misses": [{}],
                },
                "tools": {
                    "calls_per_tool": 5,
                    "backends": {"sqlite": {"all reads": {"p50_ms": 0.1, "p95_ms": 0.3}}},
                },
                "retrieval": {
                    "targets": {
                        "hybrid_recall@5 (test)": {"target": 0.9, "value": 0.95, "met": True}
                    }
                },
            }
        )
    )
    (tmp_path / "bench_load.json").write_text("{not json")
    page = (main(str(tmp_path))).read_text()
    # the conversations page is built from its JSON so the link has somewhere to go
    assert (tmp_path / "eval_conversations.html").exists()
    assert "<a href='eval_conversations.json'>" in page
    assert "<a href='eval_conversations.html'>detailed report</a>" in page
    assert "<a href='bench.json'>" in page
    assert "turn pass rate: <b>0.2500</b>" in page
    assert "turn p95 ms: <b>43.8</b>" in page
    assert "agent goal accuracy, all (n=10)" in page and "0.9000" in page
    assert "sqlite: all reads p50 / p95 ms" in page
    assert "0.9500 (target 0.9000, met)" in page
    assert "bench_load.json cannot be read" in page
    # absent ones: not run, and no link to a file that is not there
    assert "Not run: no classifiers_bench.json." in page
    assert "classifiers_bench.html" not in page
    assert "agent_local" in page and "Agent latency (OpenAI)" not in page
    assert build_index(tmp_path).count("<h2 id=") == page.count("<h2 id=")


def test_the_index_shows_the_tau2_pass_rates_beside_the_published_ones(tmp_path: Path) -> None:
    from evals.tau2_sim import report, summarise
    from tests.evals.test_tau2_sim import episode_for

    episodes = [episode_for("1", 0, 1.0), episode_for("1", 1, 0.0), episode_for("2", 0, 0.0)]
    episodes += [episode_for("2", 1, 0.0)]
    data = report(episodes, trials=2, split="test", user="local m", agent="none", seconds=3.0)
    assert data["aggregate"] == {"test": summarise(episodes, trials=2)["test"]}
    (tmp_path / "eval_tau2.json").write_text(json.dumps(data))
    page = main(str(tmp_path)).read_text()
    assert "tau2 simulation" in page and "<a href='eval_tau2.json'>" in page
    assert "pass^1 0.2500 · pass^2 0.0000" in page
    assert "published frontier (retail)" in page and "pass^4 ~0.52" in page
    # the detailed page is built from the JSON: each episode with its verdict and transcript
    detail = (tmp_path / "eval_tau2.html").read_text()
    assert "<a href='eval_tau2.html'>detailed report</a>" in page
    assert detail.count("<span class='pass'>pass</span>") == 1
    assert detail.count("<span class='fail'>fail</span>") == 3
    assert "orders/#W1" in detail and "where is my &lt;order&gt;?" in detail
