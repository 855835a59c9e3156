"""The Slack app (slack-bolt) over the human agents' operations: new tickets posted to a channel with
claim / approve / reject buttons, the copilot (a slash command and a message shortcut), and replies
typed in a ticket's thread delivered into the customer's conversation.

Every request is checked (:mod:`api.slack.verify`) before bolt reads it. Listeners acknowledge at once
and do their work afterwards on the desk's executor (bolt's lazy listeners), so Slack hears back well
inside its 3 seconds. Slack's Web API is reached only through the injected ``client``.

A Slack user acts as the staff member ``CONCIERGE_SLACK_STAFF`` maps them to, through the same ticket
operations as the ``/v1/agent`` endpoints; unmapped users are told so and nothing happens.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from typing import Any, ParamSpec, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.concurrency import run_in_threadpool

from agent import HandoffError, current_state, pending_approval
from api import handoff
from api.deps import Runtime
from api.errors import APIError
from api.security import Role, Staff, staff_id
from api.slack.blocks import (
    APPROVE,
    CLAIM,
    OPEN,
    REJECT,
    TICKET_EVENT,
    briefing_blocks,
    plain_text,
    ticket_message,
)
from api.slack.copilot import BriefingError, Target, brief, parse_target
from api.slack.verify import RequestGuard
from tools import tickets

log = logging.getLogger("api.slack")

SHORTCUT = "concierge_copilot"
"""Callback id of the copilot's message shortcut."""

_P = ParamSpec("_P")
_T = TypeVar("_T")
_NAME = re.compile(r"[^\w .'-]+")


class Tasks(Executor):
    """An executor that knows what it still runs, so a caller can wait for the work acknowledged
    requests left behind (at shutdown, in tests)."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future = self._inner.submit(fn, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout: float = 30.0) -> bool:
        """Whether everything submitted (and whatever that submitted) finished within ``timeout``."""
        while True:
            with self._lock:
                pending = set(self._pending)
            if not pending:
                return True
            _, not_done = wait(pending, timeout=timeout)
            if not_done:
                return False

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


class SlackDesk:
    """The Slack side of the human handoff, for one app."""

    def __init__(
        self, runtime: Runtime, client: WebClient, *, executor: Executor | None = None
    ) -> None:
        settings = runtime.settings
        if settings.slack_signing_secret is None:
            raise ValueError("the Slack integration needs CONCIERGE_SLACK_SIGNING_SECRET")
        self.runtime = runtime
        self.client = client
        self.channel = settings.slack_channel
        self.guard = RequestGuard(settings.slack_signing_secret.get_secret_value())
        self.tasks = Tasks(executor or ThreadPoolExecutor(4, thread_name_prefix="slack"))
        self._threads: dict[tuple[str, str], int] = {}
        """(channel, thread ts) -> ticket, for the messages this process posted or looked up."""
        self._posted: set[int] = set()
        self._lock = threading.Lock()
        self._identity: AuthorizeResult | None = None
        self.bolt = App(
            name="concierge",
            logger=log,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # Checked by self.guard (which also refuses replays) before bolt sees the request.
            request_verification_enabled=False,
            # A closure: bolt injects arguments by name and reads a bound method's "self" as one.
            authorize=lambda enterprise_id, team_id: self._authorize(),
            # The ack runs before the response is sent; the slow part runs in lazy listeners.
            process_before_response=True,
            listener_executor=self.tasks,
        )
        self._listen(settings.slack_command)
        self.router = APIRouter(tags=["slack"])
        self.router.add_api_route(
            "/slack/events", self.handle, methods=["POST"], include_in_schema=False
        )

    # ------------------------------------------------------------------------------- plumbing

    async def handle(self, request: Request) -> Response:
        """Slack's single request URL: events, interactivity and the slash command."""
        body = await request.body()
        self.guard.check(request.headers, body)
        response = await run_in_threadpool(self.bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    def _authorize(self) -> AuthorizeResult:
        # Bolt's own authorisation would call auth.test with a client of its making, not ours.
        with self._lock:
            if self._identity is None:
                self._identity = AuthorizeResult.from_auth_test_response(
                    auth_test_response=self.client.auth_test(),
                    bot_token=self.client.token,
                    user_token=None,
                )
            return self._identity

    def close(self) -> None:
        self.tasks.wait()
        self.tasks.shutdown()

    def staff(self, slack_user: str) -> Staff | None:
        """Whom ``slack_user`` acts as (None: nobody, they may not act on tickets)."""
        settings = self.runtime.settings
        member = settings.slack_staff.get(slack_user)
        if member is None:
            return None
        admins = {staff_id(k.get_secret_value()) for k in settings.api_admin_keys}
        return Staff(member, Role.ADMIN if member in admins else Role.AGENT)

    def _tell(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """A message only ``user`` sees."""
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except SlackApiError as exc:
            log.warning("could not tell %s in %s: %s", user, channel, exc.response.get("error"))

    def _acting(self, user: str, channel: str, thread_ts: str | None = None) -> Staff | None:
        staff = self.staff(user)
        if staff is None:
            self._tell(
                channel,
                user,
                "Your Slack account is not linked to a staff id (CONCIERGE_SLACK_STAFF), so you "
                "cannot act on tickets from Slack.",
                thread_ts,
            )
        return staff

    # ------------------------------------------------------------------ new tickets to the channel

    def notify(self, body: dict[str, Any]) -> None:
        """After a turn (its reply body): post the ticket it opened, once. Returns at once."""
        ticket_id = body.get("ticket_id")
        if self.channel is None or ticket_id is None:
            return
        if not (body.get("escalated") or body.get("awaiting_approval")):
            return
        with self._lock:
            if ticket_id in self._posted:
                return
            self._posted.add(ticket_id)
        self.tasks.submit(self._post_ticket, int(ticket_id))

    def _ticket_message(
        self, ticket_id: int, outcome: str | None = None
    ) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
        store = self.runtime.agent.context.store
        assert store is not None  # a ticket came from it
        ticket = tickets.get_ticket(store, ticket_id)
        package = approval = None
        conversation_id = ticket["conversation_id"]
        if conversation_id is not None:
            graph = self.runtime.agent.graph
            with contextlib.suppress(HandoffError):
                escalation: dict[str, Any] = dict(
                    current_state(graph, conversation_id).escalation or {}
                )
                if escalation.get("ticket_id") == ticket_id:
                    package = dict(escalation["handoff"])
            approval = pending_approval(graph, conversation_id)
        url = self.runtime.settings.slack_console_url
        text, blocks = ticket_message(
            ticket,
            package,
            approval,
            console_url=url.replace("{ticket_id}", str(ticket_id)) if url else None,
            outcome=outcome,
        )
        return ticket, text, blocks

    def _post_ticket(self, ticket_id: int) -> None:
        try:
            ticket, text, blocks = self._ticket_message(ticket_id)
            posted = self.client.chat_postMessage(
                channel=str(self.channel),
                text=text,
                blocks=blocks,
                unfurl_links=False,
                metadata={
                    "event_type": TICKET_EVENT,
                    "event_payload": {
                        "ticket_id": ticket_id,
                        "conversation_id": ticket["conversation_id"] or "",
                    },
                },
            )
        except Exception:
            log.exception("could not post ticket %s to Slack", ticket_id)
            with self._lock:
                self._posted.discard(ticket_id)
            return
        with self._lock:
            self._threads[(str(posted["channel"]), str(posted["ts"]))] = ticket_id

    def ticket_of_thread(self, channel: str, thread_ts: str) -> int | None:
        """The ticket whose message starts the thread: remembered, or read from the message's
        metadata (so any replica finds it)."""
        with self._lock:
            known = self._threads.get((channel, thread_ts))
        if known is not None:
            return known
        try:
            found = self.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=1, include_all_metadata=True
            )
        except SlackApiError as exc:
            log.warning("could not read thread %s: %s", thread_ts, exc.response.get("error"))
            return None
        for message in found.get("messages") or []:
            metadata = message.get("metadata") or {}
            if message.get("ts") == thread_ts and metadata.get("event_type") == TICKET_EVENT:
                ticket_id = int(metadata["event_payload"]["ticket_id"])
                with self._lock:
                    self._threads[(channel, thread_ts)] = ticket_id
                return ticket_id
        return None

    # ------------------------------------------------------------------------------- listeners

    def _listen(self, command: str) -> None:
        app = self.bolt

        def ack_only(ack: Ack) -> None:
            ack()

        def ack_command(ack: Ack, command: dict[str, Any]) -> None:
            target = parse_target(command.get("text", ""))
            if target is None:
                ack(f"Usage: {command['command']} <ticket number | conversation id>")
            else:
                ack("Gathering the briefing…")

        def copilot_command(command: dict[str, Any]) -> None:
            target = parse_target(command.get("text", ""))
            if target is not None:
                self._brief(target, command["user_id"], command["channel_id"])

        def copilot_shortcut(shortcut: dict[str, Any]) -> None:
            user, channel = shortcut["user"]["id"], shortcut["channel"]["id"]
            message = shortcut.get("message") or {}
            thread_ts = message.get("thread_ts") or message.get("ts")
            ticket_id = self.ticket_of_thread(channel, thread_ts) if thread_ts else None
            target = (
                Target(ticket_id=ticket_id)
                if ticket_id is not None
                else parse_target(message.get("text", ""))
            )
            if target is None:
                self._tell(
                    channel, user, "That message names no ticket or conversation.", thread_ts
                )
                return
            self._brief(target, user, channel, thread_ts)

        def claim(body: dict[str, Any], action: dict[str, Any]) -> None:
            self._claim(body, int(action["value"]))

        def approve(body: dict[str, Any], action: dict[str, Any]) -> None:
            self._decide(body, int(action["value"]), "approve")

        def reject(body: dict[str, Any], action: dict[str, Any]) -> None:
            self._decide(body, int(action["value"]), "reject")

        def thread_reply(event: dict[str, Any]) -> None:
            self._thread_reply(event)

        app.command(command)(ack=ack_command, lazy=[copilot_command])
        app.shortcut(SHORTCUT)(ack=ack_only, lazy=[copilot_shortcut])
        app.action(CLAIM)(ack=ack_only, lazy=[claim])
        app.action(APPROVE)(ack=ack_only, lazy=[approve])
        app.action(REJECT)(ack=ack_only, lazy=[reject])
        app.action(OPEN)(ack_only)  # a link button: the browser opens it; Slack still tells us
        app.event("message")(ack=ack_only, lazy=[thread_reply])

    def _brief(self, target: Target, user: str, channel: str, thread_ts: str | None = None) -> None:
        try:
            briefing = brief(self.runtime.agent, target)
        except BriefingError as exc:
            self._tell(channel, user, str(exc), thread_ts)
            return
        except Exception:
            log.exception("copilot failed for %s", target)
            self._tell(channel, user, "The copilot could not gather that briefing.", thread_ts)
            return
        text, blocks = briefing_blocks(briefing)
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            )
        except SlackApiError as exc:
            log.warning("could not post the briefing: %s", exc.response.get("error"))

    def _claim(self, body: dict[str, Any], ticket_id: int) -> None:
        user, channel = body["user"]["id"], body["channel"]["id"]
        message_ts = body["container"]["message_ts"]
        staff = self._acting(user, channel, message_ts)
        if staff is None:
            return
        try:
            handoff.claim_ticket(self.runtime, staff, ticket_id)
        except APIError as exc:
            self._tell(channel, user, f"Not claimed: {exc.message}", message_ts)
            return
        self.client.chat_postMessage(
            channel=channel, thread_ts=message_ts, text=f"<@{user}> claimed ticket #{ticket_id}."
        )

    def _decide(self, body: dict[str, Any], ticket_id: int, action: str) -> None:
        user, channel = body["user"]["id"], body["channel"]["id"]
        message_ts = body["container"]["message_ts"]
        staff = self._acting(user, channel, message_ts)
        if staff is None:
            return
        try:
            result = handoff.decide(
                self.runtime, staff, ticket_id, handoff.Decision.model_validate({"action": action})
            )
        except APIError as exc:
            self._tell(channel, user, f"Nothing decided: {exc.message}", message_ts)
            return
        verdict = "Approved" if action == "approve" else "Rejected"
        _, text, blocks = self._ticket_message(ticket_id, outcome=f"{verdict} by <@{user}>.")
        with contextlib.suppress(SlackApiError):
            self.client.chat_update(channel=channel, ts=message_ts, text=text, blocks=blocks)
        told = "\n".join(f"> {line}" for line in (result.reply or "").splitlines())
        self.client.chat_postMessage(
            channel=channel,
            thread_ts=message_ts,
            text=f"{verdict} by <@{user}>. The customer was told:\n{told}",
        )

    def _thread_reply(self, event: dict[str, Any]) -> None:
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        # Only people's new replies inside a thread: not edits, bots (us included) or top-level posts.
        if not thread_ts or thread_ts == ts or event.get("subtype") or event.get("bot_id"):
            return
        channel, user = event["channel"], event.get("user", "")
        ticket_id = self.ticket_of_thread(channel, thread_ts)
        if ticket_id is None or not user:
            return
        staff = self._acting(user, channel, thread_ts)
        if staff is None:
            return
        text = plain_text(event.get("text", ""))
        try:
            reply = handoff.HumanReply(text=text or " ", name=self._name(user))
            handoff.reply(self.runtime, staff, ticket_id, reply)
        except (APIError, ValidationError) as exc:
            reason = exc.message if isinstance(exc, APIError) else "the reply is empty"
            self._tell(channel, user, f"Not sent to the customer: {reason}", thread_ts)
            return
        with contextlib.suppress(SlackApiError):
            self.client.reactions_add(channel=channel, timestamp=str(ts), name="incoming_envelope")

    def _name(self, user: str) -> str:
        """The name the customer sees a Slack user's replies signed with."""
        try:
            profile = self.client.users_info(user=user)["user"]["profile"]
        except (SlackApiError, KeyError, TypeError):
            return "support"
        name = profile.get("display_name") or profile.get("real_name") or ""
        return _NAME.sub("", name).strip()[:40] or "support"


def mount(
    runtime: Runtime, client: WebClient | None = None, executor: Executor | None = None
) -> SlackDesk | None:
    """The desk when Slack is configured (bot token and signing secret), else None. ``client``
    replaces the Web API client made from the bot token (tests pass a fake)."""
    settings = runtime.settings
    if settings.slack_signing_secret is None or (
        client is None and settings.slack_bot_token is None
    ):
        return None
    if client is None:
        assert settings.slack_bot_token is not None
        client = WebClient(token=settings.slack_bot_token.get_secret_value())
    return SlackDesk(runtime, client, executor=executor)


__all__ = ["SHORTCUT", "SlackDesk", "Tasks", "mount"]
