"""``concierge chat`` as a person uses it: lines typed in, the agent's replies and what it made of each
turn printed, on the tau2 shop with no LLM."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from classifiers.pipeline import TrainResult
from tests.agent.conftest import QUIET, find_order, order_status
from tools.settings import get_settings
from tools.store import Store


@pytest.fixture
def chat_env(
    tiny_model: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Settings for a chat process: the session's classifier, this test's folder for var/, the
    escalation thresholds the tiny classifier is too rough for turned off (as ``QUIET``), and a wide
    terminal so that no line wraps."""
    monkeypatch.setenv("CONCIERGE_MODEL_DIR", str(Path(tiny_model.folder).parent))
    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CONCIERGE_AGENT_NEGATIVE_SENTIMENT", str(QUIET["negative_sentiment"]))
    monkeypatch.setenv("CONCIERGE_AGENT_SEVERITY_ESCALATION", str(QUIET["severity_escalation"]))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _chat(store: Store, var: Path, *lines: str) -> str:
    args = ["chat", "--llm", "none", "--no-kb", "--thread", "t1"]
    args += ["--store", str(store.engine.url), "--checkpoints", f"sqlite:///{var / 'cp.db'}"]
    result = CliRunner().invoke(app, args, input="".join(f"{line}\n" for line in lines))
    assert result.exit_code == 0, result.output
    return result.output


def test_chat_cancels_an_order_and_hands_over_to_a_human(store: Store, chat_env: Path) -> None:
    order, customer = find_order(store, "pending")
    out = _chat(
        store,
        chat_env,
        f"I want to cancel order {order.id}",
        customer.email,
        "I ordered it by mistake",
        "yes",
        "I want to talk to a human",
        "hello? is anyone there?",
        "/tickets",
        "/quit",
    )
    assert "conversation t1 (llm: none)" in out
    replies = [line for line in out.splitlines() if "concierge: " in line]
    assert len(replies) == 5
    # Each turn shows what the classifier read and where the agent went.
    assert len(re.findall(r"intent \w+ \(\d\.\d\d\)\s+severity \d\s+sentiment \w+", out)) == 6
    assert "goal cancel_order" in out and "route authenticate" in out
    assert "email" in replies[0]
    assert "yes/no" in replies[2]
    assert "cancelled" in replies[3].lower()
    # What was done is shown once, on the turn it ran: the check before the yes did nothing.
    assert len(re.findall(r"done cancel_pending_order", out)) == 1
    assert order_status(store, order.id) == "cancelled"
    assert re.search(r"escalated ticket #\d+ \(customer_asked_for_human\)", out)
    # Handed off: the agent says nothing more (five replies to six messages), and says who has it.
    assert re.search(r"with a human \(ticket #\d+\): the agent stays silent", out)
    # /tickets lists the open one, and is not sent to the agent (no sixth reply).
    ticket = re.search(r"escalated ticket #(\d+)", out)
    assert ticket is not None and re.search(rf"#{ticket.group(1)}\b.*{customer.id}", out)


def test_chat_commands_stay_in_the_terminal(store: Store, chat_env: Path) -> None:
    out = _chat(store, chat_env, "/help", "/reset", "/frobnicate", "/quit")
    assert "/tickets" in out and "/reset" in out  # the help lists the commands
    assert re.search(r"new conversation [0-9a-f]{12}", out)
    assert "unknown command /frobnicate" in out
    assert "concierge: " not in out  # none of them reached the agent


def test_chat_continues_a_conversation_from_its_checkpoint(store: Store, chat_env: Path) -> None:
    order, customer = find_order(store, "delivered")
    _chat(store, chat_env, f"where is my order {order.id}?", "/quit")
    out = _chat(store, chat_env, f"my email is {customer.email}")  # the input ends: chat ends too
    reply = next(line for line in out.splitlines() if "concierge: " in line)
    assert order.id in reply and "delivered" in reply
