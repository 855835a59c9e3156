"""Labeled conversations: the strict loader, the per-turn checks and aggregates, and runs through the
real agent graph (real stores, knowledge base and the session's tiny classifier)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.runner import TurnResult
from classifiers import Classifier
from classifiers.pipeline import TrainResult
from evals.conversations import (
    ConversationFileError,
    Expect,
    TurnOutcome,
    aggregate,
    check_turn,
    load_conversations,
    main,
    run_conversations,
)

DEV_SET = Path(__file__).resolve().parents[2] / "evals" / "data" / "dev_conversations.jsonl"

# The design's example, comments removed: a file written to the format by someone else must load.
DESIGN_EXAMPLE: dict[str, Any] = {
    "id": "track-001",
    "db": "tau2",
    "customer": {"user_id": "noah_brown_6181"},
    "turns": [
        {
            "user": "where is my order #W7678072?",
            "expect": {
                "intent": "track_order",
                "severity": [1, 2],
                "tools": ["get_order_details"],
                "tool_args": {"get_order_details": {"order_id": "#W7678072"}},
                "forbidden_tools": ["cancel_pending_order"],
                "escalate": False,
                "answer_contains": ["delivered"],
                "answer_excludes": ["credit_card_7815826"],
                "cites": True,
            },
        }
    ],
}


def _with(change: dict[str, Any], *, expect: dict[str, Any] | None = None) -> str:
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    data.update(change)
    if expect is not None:
        data["turns"][0]["expect"].update(expect)
    return json.dumps(data)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_design_example_loads_as_written(tmp_path: Path) -> None:
    path = _write(
        tmp_path, [json.dumps(DESIGN_EXAMPLE), "", json.dumps({**DESIGN_EXAMPLE, "id": "b"})]
    )
    first, second = load_conversations(path)
    assert first.customer is not None and first.customer.user_id == "noah_brown_6181"
    assert first.turns[0].expect.severity == [1, 2]
    assert first.turns[0].expect.tool_args == {"get_order_details": {"order_id": "#W7678072"}}
    assert second.id == "b"


def test_every_expectation_is_optional(tmp_path: Path) -> None:
    line = json.dumps({"id": "x", "db": "demo", "customer": None, "turns": [{"user": "hi"}]})
    (conversation,) = load_conversations(_write(tmp_path, [line]))
    assert conversation.customer is None
    assert conversation.turns[0].expect == Expect()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_with({}, expect={"tool": ["get_order_details"]}), "turns.0.expect.tool: Extra inputs"),
        (_with({"customers": None}), "customers: Extra inputs"),
        (_with({"customer": {"user_id": "a", "email": "a@b.c"}}), "customer.email: Extra inputs"),
        (_with({}, expect={"escalate": "false"}), "turns.0.expect.escalate"),
        (_with({}, expect={"severity": [4, 2]}), "severity must be an inclusive range"),
        (_with({}, expect={"severity": [1, 2, 3]}), "severity must be an inclusive range"),
        (_with({}, expect={"answer_contains": "delivered"}), "turns.0.expect.answer_contains"),
        (_with({}, expect={"intent": "track_ordr"}), "unknown intent 'track_ordr'"),
        (
            _with({}, expect={"forbidden_tools": ["cancel_pending_orders"]}),
            "turns.0.expect.forbidden_tools: unknown tool(s) ['cancel_pending_orders']",
        ),
        (_with({}, expect={"tool_args": {"get_order": {}}}), "unknown tool(s) ['get_order']"),
        (_with({"db": "shopify"}), "db: Input should be 'tau2' or 'demo'"),
        (_with({"turns": []}), "turns: List should have at least 1 item"),
        (json.dumps({k: v for k, v in DESIGN_EXAMPLE.items() if k != "id"}), "id: Field required"),
        ('{"id": "x", "db": "tau2", "turns": [', "not valid JSON"),
        ("[1, 2]", "a conversation must be a JSON object"),
        (json.dumps(DESIGN_EXAMPLE), "duplicate id 'track-001' (first on line 1)"),
    ],
)
def test_a_malformed_line_is_an_error_naming_file_and_line(
    tmp_path: Path, bad: str, message: str
) -> None:
    path = _write(tmp_path, [json.dumps(DESIGN_EXAMPLE), "", bad])
    with pytest.raises(ConversationFileError) as raised:
        load_conversations(path)
    assert raised.value.line == 3
    assert str(raised.value).startswith(f"{path}:3: ")
    assert message in str(raised.value)


def _result(**values: Any) -> TurnResult:
    base: dict[str, Any] = {
        "reply": "Order #W7678072 has been delivered.",
        "intent": "track_order",
        "severity": 2,
        "tools": ["get_order_details"],
        "tool_calls": [
            {"name": "get_order_details", "arguments": {"order_id": "#W7678072"}, "ok": True}
        ],
        "citations": ["tau2/policy.md#order"],
    }
    return TurnResult(**{**base, **values})


def test_a_reply_with_machinery_in_it_fails_whatever_its_expectations() -> None:
    leaky = _result(reply="Refunded to paypal_5364164. [tau2/policy.md#refunds]")
    assert check_turn(Expect(), leaky) == [
        "plain_language: payment method id: paypal_5364164",
        "plain_language: document reference: [tau2/policy.md",
    ]
    assert check_turn(Expect(), _result()) == []


def test_a_citation_must_come_from_one_of_the_documents_named() -> None:
    expect = Expect(cites_from=["demo/shipping-and-delivery.md", "demo/faq.md"])
    assert check_turn(expect, _result(citations=["demo/faq.md#do-you-ship-outside-the-usa"])) == []
    assert check_turn(expect, _result(citations=["demo/exchanges.md#exchanges"])) == [
        "cites_from: none of ['demo/shipping-and-delivery.md', 'demo/faq.md'] in "
        "['demo/exchanges.md#exchanges']"
    ]
    assert check_turn(expect, _result(citations=[]))


def test_a_forbidden_write_the_tool_refused_before_running_does_not_count() -> None:
    # Asked before the customer's yes: the tool refused it, so nothing ran.
    probe = {"name": "cancel_pending_order", "arguments": {"order_id": "#W1"}, "ok": False}
    expect = Expect(forbidden_tools=["cancel_pending_order"])
    assert check_turn(expect, _result(tools=["cancel_pending_order"], tool_calls=[probe])) == []
    ran = {**probe, "ok": True}
    assert check_turn(expect, _result(tools=["cancel_pending_order"], tool_calls=[ran])) == [
        "forbidden_tools: ['cancel_pending_order'] ran"
    ]


def test_a_turn_passes_when_every_given_expectation_holds() -> None:
    expect = Expect.model_validate(DESIGN_EXAMPLE["turns"][0]["expect"])
    assert check_turn(expect, _result()) == []
    assert check_turn(Expect(answer_contains=[["shipped", "DELIVERED"]]), _result()) == []
    nested = _result(
        tool_calls=[
            {
                "name": "check_availability",
                "arguments": {"product_id": "1", "options": {"color": "red", "size": "M"}},
                "ok": True,
            }
        ]
    )
    partial = {"check_availability": {"options": {"color": "red"}}}
    assert check_turn(Expect(tool_args=partial), nested) == []
    other = {"check_availability": {"options": {"color": "blue"}}}
    assert check_turn(Expect(tool_args=other), nested)[0].startswith(
        "tool_args: check_availability"
    )


def test_each_failing_expectation_gives_its_reason() -> None:
    expect = Expect.model_validate(DESIGN_EXAMPLE["turns"][0]["expect"])
    result = _result(
        reply="I cancelled it, refund to credit_card_7815826.",
        intent="cancel_order",
        severity=4,
        tools=["get_order_details", "cancel_pending_order"],
        tool_calls=[
            {"name": "get_order_details", "arguments": {"order_id": "#W1"}, "ok": True},
            {"name": "cancel_pending_order", "arguments": {"order_id": "#W1"}, "ok": True},
        ],
        escalated=True,
        citations=[],
    )
    failures = check_turn(expect, result)
    assert [f.split(":")[0] for f in failures] == [
        "intent",
        "severity",
        "tool_args",
        "forbidden_tools",
        "escalate",
        "answer_contains",
        "answer_excludes",
        "plain_language",
        "cites",
    ]
    assert "intent: expected 'track_order', got 'cancel_order'" in failures
    assert "severity: expected 1-2, got 4" in failures
    assert "forbidden_tools: ['cancel_pending_order'] ran" in failures
    missing = check_turn(Expect(tools=["track_order"]), _result())
    assert missing == ["tools: ['track_order'] not called (called ['get_order_details'])"]


def _outcome(
    conversation: str, expect: dict[str, Any], failing: tuple[str, ...] = (), **seen: Any
) -> TurnOutcome:
    values: dict[str, Any] = {
        "turn": 0,
        "user": "u",
        "reply": "",
        "intent": None,
        "severity": None,
        "tools": [],
        "tool_calls": [],
        "escalated": False,
        "citations": [],
        "latency_ms": 10.0,
    }
    values.update(seen)
    failures = [f"{key}: wrong" for key in failing]
    return TurnOutcome(conversation=conversation, expect=expect, failures=failures, **values)


def test_aggregates_count_only_turns_that_state_the_expectation() -> None:
    outcomes = [
        _outcome("a", {"escalate": True, "tools": ["x", "y"]}, escalated=True, tools=["x", "z"]),
        _outcome("a", {"escalate": True}, failing=("escalate",), latency_ms=30.0),
        _outcome("b", {"escalate": False}, escalated=True, failing=("escalate",)),
        _outcome("c", {"escalate": False, "intent": "t"}, intent="t", latency_ms=20.0),
        _outcome(
            "c",
            {"forbidden_tools": ["z"]},
            tools=["z"],
            tool_calls=[{"name": "z", "arguments": {}, "ok": True}],
            failing=("forbidden_tools",),
        ),
        # Refused before running (awaiting the customer's yes): no violation.
        _outcome(
            "d",
            {"forbidden_tools": ["z"]},
            tools=["z"],
            tool_calls=[{"name": "z", "arguments": {}, "ok": False}],
        ),
    ]
    report = aggregate(outcomes)
    assert report["turns"] == 6 and report["conversations"] == 4
    assert report["turn_pass_rate"] == 0.5
    assert report["conversation_pass_rate"] == 0.25
    assert report["intent_accuracy"] == 1.0 and report["intent_turns"] == 1
    assert report["severity_within_range"] is None
    assert report["tool_precision"] == 0.5 and report["tool_recall"] == 0.5
    assert report["forbidden_tool_violations"] == 1
    assert report["escalation"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "tp": 1,
        "fp": 1,
        "fn": 1,
        "tn": 1,
    }
    assert report["latency_ms"] == {"p50": 10.0, "p95": 30.0}


@pytest.fixture(scope="module")
def classifier(tiny_model: TrainResult) -> Classifier:
    return Classifier(tiny_model.folder)


def test_a_wrong_expectation_fails_the_run_with_its_reason(
    tmp_path: Path, classifier: Classifier
) -> None:
    right = {
        "id": "right",
        "db": "tau2",
        "customer": {"user_id": "noah_brown_6181"},
        "turns": [
            {
                "user": "where is my order #W7678072?",
                "expect": {"tools": ["track_order"], "answer_contains": ["delivered"]},
            }
        ],
    }
    wrong = json.loads(json.dumps(right))
    wrong["id"] = "wrong"
    wrong["turns"][0]["expect"] = {
        "tools": ["cancel_pending_order"],
        "escalate": True,
        "answer_contains": ["shipped yesterday"],
    }
    path = _write(tmp_path, [json.dumps(right), json.dumps(wrong)])
    out = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exited:
        main(str(path), min_pass=1.0, out=str(out), classifier=classifier)
    assert exited.value.code == 1
    report = json.loads(out.read_text())
    right_turn, wrong_turn = report["turns"]
    assert right_turn["passed"] and right_turn["failures"] == []
    assert not wrong_turn["passed"]
    reasons = wrong_turn["failures"]
    assert any(r.startswith("tools: ['cancel_pending_order'] not called") for r in reasons)
    assert "escalate: expected True, got False" in reasons
    assert any(r.startswith("answer_contains: 'shipped yesterday' not in reply") for r in reasons)
    assert report["aggregate"]["turn_pass_rate"] == 0.5
    assert report["aggregate"]["conversation_pass_rate"] == 0.5


def test_the_dev_set_passes_without_an_llm(classifier: Classifier) -> None:
    report = run_conversations(DEV_SET, classifier=classifier)
    failing = [
        (t["conversation"], t["turn"], t["failures"]) for t in report["turns"] if not t["passed"]
    ]
    assert failing == []
    aggregate_ = report["aggregate"]
    assert aggregate_["conversations"] >= 10
    assert {"tau2", "demo"} == {c.db for c in load_conversations(DEV_SET)}
    assert aggregate_["escalation"]["tp"] >= 2 and aggregate_["citation_turns"] >= 2
