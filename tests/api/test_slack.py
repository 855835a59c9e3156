"""Slack over the real app, agent and store: requests signed here as Slack signs them go through the
ASGI app, and a fake Web API client records what the desk posted. Escalations reach the channel,
buttons claim and decide tickets, the copilot briefs, thread replies reach the customer, and forged,
stale and replayed requests are refused."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from agent import Agent, Context, open_checkpointer
from api import slack
from api.app import create_app
from api.security import staff_id
from api.slack import SHORTCUT, SlackDesk
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET, find_order, order_status
from tests.api.conftest import Service, api_settings
from tests.conftest import StoreFactory
from tools import tickets

SIGNING_SECRET = "slack-signing-secret-8e2f41"
CHANNEL = "C0SUPPORT"
AGENT_A = "agent-a-key-5f0c2b9e41"
AGENT_B = "agent-b-key-93d8e6a170"
DANA, BOB, EVE = "U0DANA", "U0BOB", "U0EVE"  # EVE is in Slack but not on the staff
CONSOLE = "https://support.example/console?ticket={ticket_id}"


class FakeSlack(WebClient):
    """Slack's Web API as far as the desk uses it: records every call and keeps the messages posted
    (with their metadata) so threads can be looked up. ``gate`` holds chat calls back while clear."""

    def __init__(self) -> None:
        super().__init__(token="xoxb-test")
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.gate = threading.Event()
        self.gate.set()
        self._ts = itertools.count(1)
        self._lock = threading.Lock()

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: Any = None,
        data: Any = None,
        params: Any = None,
        json: Any = None,
        headers: Any = None,
        auth: Any = None,
    ) -> SlackResponse:
        args = {**(params or {}), **(data or {}), **(json or {})}
        if api_method.startswith("chat."):
            assert self.gate.wait(10)
        result: dict[str, Any] = {"ok": True}
        with self._lock:
            self.calls.append((api_method, args))
            if api_method == "auth.test":
                result |= {"user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0SHOP"}
            elif api_method == "chat.postMessage":
                ts = f"1700000000.{next(self._ts):06d}"
                self.messages[ts] = {"ts": ts, **args}
                result |= {"channel": args["channel"], "ts": ts}
            elif api_method == "conversations.replies":
                found = self.messages.get(args["ts"])
                result["messages"] = [found] if found else []
            elif api_method == "users.info":
                result["user"] = {"id": args["user"], "profile": {"display_name": "Dana <3"}}
        return SlackResponse(
            client=self,
            http_verb=http_verb,
            api_url=api_method,
            req_args=args,
            data=result,
            headers={},
            status_code=200,
        )

    def posted(self, method: str, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                args
                for name, args in self.calls
                if name == method and all(args.get(k) == v for k, v in match.items())
            ]


class Desk(Service):
    slack: FakeSlack

    @property
    def desk(self) -> SlackDesk:
        desk: SlackDesk = self.app.state.slack
        return desk

    def settle(self) -> None:
        assert self.desk.tasks.wait(60), "the Slack work did not finish"

    def signed(
        self, body: str, content_type: str, *, secret: str = SIGNING_SECRET, at: float | None = None
    ) -> Any:
        return self.client.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": content_type, **sign(body, secret, at)},
        )

    def command(self, text: str, user: str = DANA) -> Any:
        form = {
            "command": "/concierge",
            "text": text,
            "user_id": user,
            "channel_id": CHANNEL,
            "team_id": "T0SHOP",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
        return self.signed(urlencode(form), "application/x-www-form-urlencoded")

    def interact(self, payload: dict[str, Any]) -> Any:
        payload = {"team": {"id": "T0SHOP"}, "api_app_id": "A0CONCIERGE", **payload}
        body = urlencode({"payload": json.dumps(payload)})
        return self.signed(body, "application/x-www-form-urlencoded")

    def click(self, action_id: str, ticket_id: int, message_ts: str, user: str = DANA) -> None:
        r = self.interact(
            {
                "type": "block_actions",
                "user": {"id": user},
                "channel": {"id": CHANNEL},
                "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
                "message": {"ts": message_ts, "type": "message"},
                "trigger_id": "1.2.3",
                "actions": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "block_id": f"ticket-{ticket_id}",
                        "value": str(ticket_id),
                        "action_ts": f"{time.time():.6f}.{time.monotonic_ns()}",
                    }
                ],
            }
        )
        assert r.status_code == 200, r.text
        self.settle()

    def event(self, event: dict[str, Any]) -> Any:
        body = {
            "type": "event_callback",
            "team_id": "T0SHOP",
            "api_app_id": "A0CONCIERGE",
            "event": {"channel": CHANNEL, "channel_type": "channel", **event},
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
        }
        return self.signed(json.dumps(body), "application/json")

    def ticket_post(self, ticket_id: int) -> dict[str, Any]:
        [post] = [
            m
            for m in self.slack.messages.values()
            if m.get("metadata", {}).get("event_payload", {}).get("ticket_id") == ticket_id
        ]
        return post


def sign(body: str, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Desk]:
    """The app with Slack on, two staff members mapped to Slack users, and every return waiting
    for a human's approval."""
    tmp = tmp_path_factory.mktemp("slack")
    store = StoreFactory("sqlite", tmp)("tau2")
    checkpointer = open_checkpointer(f"sqlite:///{tmp / 'checkpoints.db'}")
    knobs: dict[str, Any] = {**QUIET, "risky_amount": 0.0}
    context = Context(store=store, classifier=api_classifier, kb=api_kb, **knobs)
    agent = Agent(context, checkpointer.saver)
    settings = api_settings(
        tmp,
        api_agent_keys=[AGENT_A, AGENT_B],
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_channel=CHANNEL,
        slack_staff={DANA: staff_id(AGENT_A), BOB: staff_id(AGENT_B)},
        slack_console_url=CONSOLE,
    )
    fake = FakeSlack()
    app = create_app(settings, agent=agent, slack_client=fake)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        service = Desk(app, client, agent, store, tmp)
        service.slack = fake
        yield service
    checkpointer.close()
    store.dispose()


def _buttons(post: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


def _escalate(desk: Desk, *, question: str | None = None) -> tuple[str, dict[str, str], int, str]:
    order, customer = find_order(desk.store, "pending")
    cid, auth = desk.start(customer.id)
    if question:
        desk.say(cid, auth, question)
    reply = desk.say(cid, auth, "I want to talk to a human")
    assert reply["escalated"] and reply["handed_off"], reply
    desk.settle()
    return cid, auth, reply["ticket_id"], customer.id


def test_a_new_escalation_is_posted_once_and_claimed_from_its_button(desk: Desk) -> None:
    cid, auth, ticket_id, customer_id = _escalate(desk)
    post = desk.ticket_post(ticket_id)
    assert post["channel"] == CHANNEL
    assert post["metadata"]["event_payload"] == {"ticket_id": ticket_id, "conversation_id": cid}
    shown = json.dumps(post["blocks"])
    assert f"Ticket #{ticket_id}: handoff" in shown and customer_id in shown
    assert "customer_asked_for_human" in shown
    buttons = _buttons(post)
    assert set(buttons) == {"concierge_claim", "concierge_open"}  # no write waits for approval
    assert buttons["concierge_open"]["url"] == CONSOLE.format(ticket_id=ticket_id)

    # The customer's next message in the handed-off conversation posts nothing new.
    before = len(desk.slack.posted("chat.postMessage"))
    desk.say(cid, auth, "hello? anyone there?")
    desk.settle()
    assert len(desk.slack.posted("chat.postMessage")) == before

    desk.click("concierge_claim", ticket_id, post["ts"], user=EVE)
    [refusal] = desk.slack.posted("chat.postEphemeral", user=EVE)
    assert "not linked to a staff id" in refusal["text"]
    assert tickets.get_ticket(desk.store, ticket_id)["status"] == "open"

    desk.click("concierge_claim", ticket_id, post["ts"], user=DANA)
    assert tickets.get_ticket(desk.store, ticket_id)["claimed_by"] == staff_id(AGENT_A)
    [note] = desk.slack.posted("chat.postMessage", thread_ts=post["ts"])
    assert note["text"] == f"<@{DANA}> claimed ticket #{ticket_id}."

    desk.click("concierge_claim", ticket_id, post["ts"], user=BOB)
    [taken] = desk.slack.posted("chat.postEphemeral", user=BOB)
    assert taken["text"].startswith("Not claimed:") and staff_id(AGENT_A) in taken["text"]
    assert tickets.get_ticket(desk.store, ticket_id)["claimed_by"] == staff_id(AGENT_A)


def test_a_reply_in_the_thread_reaches_the_customer(desk: Desk) -> None:
    cid, auth, ticket_id, _ = _escalate(desk)
    post = desk.ticket_post(ticket_id)
    # Another replica posted the ticket: this one finds the thread from the message's metadata.
    desk.desk._threads.clear()
    r = desk.event(
        {
            "type": "message",
            "user": DANA,
            "text": "Hi, Dana here &amp; on it: see <https://shop.example/returns|our returns page>",
            "ts": "1700000200.000100",
            "thread_ts": post["ts"],
        }
    )
    assert r.status_code == 200, r.text
    desk.settle()
    assert desk.slack.posted("conversations.replies", ts=post["ts"])
    history = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    last = history["messages"][-1]
    assert (last["role"], last["agent"]) == ("agent", "Dana 3")
    assert last["text"] == (
        "Hi, Dana here & on it: see our returns page (https://shop.example/returns)"
    )
    assert desk.slack.posted("reactions.add", timestamp="1700000200.000100")
    assert tickets.get_ticket(desk.store, ticket_id)["claimed_by"] == staff_id(AGENT_A)

    # Our own bot's posts, edits, top-level messages and strangers' replies never reach the customer.
    ignored = [
        {"user": "U0BOT", "bot_id": "B0BOT", "thread_ts": post["ts"]},
        {"user": DANA, "subtype": "message_changed", "thread_ts": post["ts"]},
        {"user": DANA},
        {"user": EVE, "thread_ts": post["ts"]},
    ]
    for n, extra in enumerate(ignored):
        event = {"type": "message", "text": f"internal {n}", "ts": f"1700000300.00000{n}", **extra}
        assert desk.event(event).status_code == 200
    desk.settle()
    after = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    assert after["messages"] == history["messages"]
    [told] = desk.slack.posted("chat.postEphemeral", user=EVE, thread_ts=post["ts"])
    assert "not linked" in told["text"]


@pytest.mark.parametrize(
    ("index", "action", "status", "verdict"),
    [(0, "approve", "return requested", "Approved"), (1, "reject", "delivered", "Rejected")],
)
def test_a_paused_refund_is_decided_from_slack(
    desk: Desk, index: int, action: str, status: str, verdict: str
) -> None:
    cid, auth, order_id, ticket_id = desk.pause_a_return(index)
    desk.settle()
    post = desk.ticket_post(ticket_id)
    assert set(_buttons(post)) == {
        "concierge_claim",
        "concierge_approve",
        "concierge_reject",
        "concierge_open",
    }
    shown = json.dumps(post["blocks"])
    assert "return_delivered_order_items" in shown and order_id in shown

    desk.click(f"concierge_{action}", ticket_id, post["ts"], user=BOB)
    assert order_status(desk.store, order_id) == status
    ticket = tickets.get_ticket(desk.store, ticket_id)
    assert (ticket["status"], ticket["claimed_by"]) == ("resolved", staff_id(AGENT_B))
    [update] = desk.slack.posted("chat.update", ts=post["ts"])
    assert set(_buttons(update)) == {"concierge_claim", "concierge_open"}
    assert f"{verdict} by <@{BOB}>." in json.dumps(update["blocks"])
    told = desk.client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    [note] = desk.slack.posted("chat.postMessage", thread_ts=post["ts"])
    assert note["text"].startswith(f"{verdict} by <@{BOB}>.")
    assert told["messages"][-1]["text"] in note["text"]

    desk.click(f"concierge_{action}", ticket_id, post["ts"], user=BOB)
    [again] = desk.slack.posted("chat.postEphemeral", user=BOB, thread_ts=post["ts"])
    assert again["text"].startswith("Nothing decided:")


def test_the_copilot_briefs_on_a_ticket_or_a_conversation(desk: Desk) -> None:
    cid, _, ticket_id, customer_id = _escalate(
        desk, question="Can I get a refund if I return an item?"
    )
    r = desk.command(str(ticket_id))
    assert r.status_code == 200 and r.text == "Gathering the briefing…"
    desk.settle()
    [briefing] = desk.slack.posted("chat.postEphemeral", user=DANA, thread_ts=None)
    shown = json.dumps(briefing["blocks"])
    assert f"Ticket #{ticket_id} (handoff, open)" in shown and "customer_asked_for_human" in shown
    reply = next(
        b for b in briefing["blocks"] if "Suggested reply" in b.get("text", {}).get("text", "")
    )
    [cited] = [b for b in briefing["blocks"] if b["type"] == "context" and "Cites" in json.dumps(b)]
    ref = cited["elements"][0]["text"].removeprefix("Cites `").removesuffix("`")
    assert "returns-and-refunds" in ref and f"[{ref}]" in reply["text"]["text"]
    assert "*Knowledge*" in shown and ref in shown
    orders = next(b for b in briefing["blocks"] if "Orders of" in b.get("text", {}).get("text", ""))
    assert customer_id in orders["text"]["text"] and "pending" in orders["text"]["text"]

    # By conversation id, through the message shortcut on the ticket's post, and wrong targets.
    assert desk.command(cid, user=BOB).status_code == 200
    desk.settle()
    [by_conversation] = desk.slack.posted("chat.postEphemeral", user=BOB, thread_ts=None)
    assert f"Ticket #{ticket_id}" in json.dumps(by_conversation["blocks"])

    post = desk.ticket_post(ticket_id)
    r = desk.interact(
        {
            "type": "message_action",
            "callback_id": SHORTCUT,
            "user": {"id": EVE},
            "channel": {"id": CHANNEL},
            "message": {"type": "message", "ts": post["ts"], "text": post["text"]},
            "trigger_id": "1.2.3",
        }
    )
    assert r.status_code == 200, r.text
    desk.settle()
    [shortcut] = desk.slack.posted("chat.postEphemeral", user=EVE, thread_ts=post["ts"])
    assert f"Ticket #{ticket_id}" in json.dumps(shortcut["blocks"])

    usage = desk.command("")
    assert usage.status_code == 200 and usage.text.startswith("Usage: /concierge")
    desk.command("#999999", user="U0CAROL")
    desk.settle()
    [missing] = desk.slack.posted("chat.postEphemeral", user="U0CAROL")
    assert missing["text"] == "Ticket 999999 was not found."


def test_slack_hears_back_before_the_slow_work_is_done(desk: Desk) -> None:
    _, _, ticket_id, _ = _escalate(desk)
    desk.slack.gate.clear()
    try:
        started = time.perf_counter()
        r = desk.command(str(ticket_id), user="U0FRANK")
        assert r.status_code == 200 and time.perf_counter() - started < 3
        assert not desk.slack.posted("chat.postEphemeral", user="U0FRANK")
    finally:
        desk.slack.gate.set()
    desk.settle()
    assert desk.slack.posted("chat.postEphemeral", user="U0FRANK")


def test_forged_stale_and_replayed_requests_are_refused(desk: Desk) -> None:
    challenge = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aB", "token": "x"})
    ok = desk.signed(challenge, "application/json")
    assert ok.status_code == 200 and ok.json() == {"challenge": "3eZbrw1aB"}

    body = urlencode(
        {"command": "/concierge", "text": "1", "user_id": "U0MALLORY", "channel_id": CHANNEL}
    )
    forms = "application/x-www-form-urlencoded"
    cases: list[tuple[Any, str]] = [
        (desk.signed(body, forms, secret="not-the-secret"), "slack_signature"),
        (desk.signed(body, forms, at=time.time() - 301), "slack_stale"),
        (desk.signed(body, forms, at=time.time() + 400), "slack_stale"),
        (
            desk.client.post("/slack/events", content=body, headers={"Content-Type": forms}),
            "slack_unsigned",
        ),
    ]
    headers = {"Content-Type": forms, **sign(body)}
    assert desk.client.post("/slack/events", content=body, headers=headers).status_code == 200
    cases.append((desk.client.post("/slack/events", content=body, headers=headers), "slack_replay"))
    tampered = {**headers, **sign(body)}  # a genuine signature over another body
    cases.append(
        (
            desk.client.post("/slack/events", content=body + "&x=1", headers=tampered),
            "slack_signature",
        )
    )
    for response, code in cases:
        assert response.status_code == 401, (code, response.text)
        assert response.json()["error"]["code"] == code
    desk.settle()
    assert len(desk.slack.posted("chat.postEphemeral", user="U0MALLORY")) == 1  # the genuine one


def test_slack_stays_off_without_its_settings(desk: Desk) -> None:
    runtime = desk.desk.runtime
    off = runtime.settings.model_copy(update={"slack_signing_secret": None})
    assert slack.mount(replace(runtime, settings=off), desk.slack) is None
    no_token = runtime.settings.model_copy(update={"slack_bot_token": None})
    assert slack.mount(replace(runtime, settings=no_token)) is None
    assert runtime.on_ticket == desk.desk.notify
