"""One customer message through the agent, as a sequence of events a channel can stream or collect.

Events, in order: ``step`` (each thing the agent did, in words), ``delta`` (the reply's text, in
pieces, as it is written), ``citation`` (each passage the reply cites, as a link: before the text on
the templated path, after the sentences an LLM streamed), ``handoff`` (when a person takes over,
must approve a request, or was told), and ``done`` (the whole reply, the same body the JSON endpoint
returns). A failure ends with ``error`` instead of ``done``. Every event's data is one of the
customer-facing models of :mod:`api.replies`; the agent's own record of the turn stays on the server.

The reply's text is sent only after the agent's grounding check has passed it, sentence by sentence
where the LLM writes it, so a client never shows a claim the check would refuse. Should the whole
rewrite be withdrawn after some of it was sent (it dropped the order's number, say), a ``reset``
event (no data) comes before the reply that replaces it: the client clears the text so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from langchain_core.messages import HumanMessage

from agent import Agent, TurnResult
from api import replies
from api.errors import DATABASE_OUTAGES, InternalError, ServiceUnavailable, database_unavailable
from api.limits import Busy
from api.observability import Metrics
from api.security import Grant
from tools import tickets

log = logging.getLogger("api.turns")

_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class TurnEvent:
    event: str
    data: dict[str, Any]
    """What the customer is sent."""
    result: TurnResult | None = field(default=None, repr=False)
    """On ``done``, the agent's whole record of the turn: for the metrics, never sent."""


def run_turn(agent: Agent, grant: Grant, text: str) -> Iterator[TurnEvent]:
    """The events of the agent answering ``text`` in the granted conversation (blocking).

    The LLM's rewrite is streamed sentence by sentence as the agent's grounding check passes each
    one. In the rare turn where the check then withdraws it, a ``reset`` event tells the client to
    clear what it was sent, and the reply actually sent follows as new ``delta`` events."""
    thread = grant.conversation_id
    # The identity the channel verified reaches the agent through its documented context field.
    context = agent.context.for_turn(thread, verified_customer_id=grant.customer_id)
    message: Any = {"messages": [HumanMessage(text)]}
    seen_tools = 0
    language = "en"
    streamed = ""
    chunk: Any
    for mode, chunk in agent.graph.stream(
        message, Agent.config(thread), context=context, stream_mode=["updates", "custom"]
    ):
        if mode == "custom":
            if chunk.get("reset"):
                streamed = ""
                yield TurnEvent("reset", {})
            elif sentence := replies.strip_citation_markers(chunk.get("sentence", "")):
                streamed += sentence
                yield from _deltas(sentence)
            continue
        for values in chunk.values():
            if not isinstance(values, dict):
                continue  # an interrupt: reported below from the checkpoint
            language = values.get("language") or language
            calls = values.get("tool_calls")
            if isinstance(calls, list):
                # tool_calls has no reducer: each update is the turn's whole list so far.
                for call in calls[seen_tools:]:
                    yield TurnEvent("step", replies.step(call, language).model_dump())
                seen_tools = len(calls)
    result = record_approval(agent, thread, agent.result(thread))
    reply = replies.reply(thread, result)
    for citation in reply.citations:
        yield TurnEvent("citation", citation.model_dump())
    if reply.reply.startswith(streamed):
        yield from _deltas(reply.reply[len(streamed) :])
    elif reply.reply != streamed.rstrip():
        yield TurnEvent("reset", {})
        yield from _deltas(reply.reply)
    state = replies.handoff_state(result)
    if state is not None:
        handoff = replies.Handoff(state=state, ticket_id=result.ticket_id)
        yield TurnEvent("handoff", handoff.model_dump())
    yield TurnEvent("done", reply.model_dump(), result)


def _deltas(text: str) -> Iterator[TurnEvent]:
    for piece in _PIECES.findall(text):
        yield TurnEvent("delta", {"text": piece})


_SEVERITY_LOOKBACK = 120
"""Checkpoints read back for an approval's severity: about the conversation's last fifteen turns."""


def _severity(agent: Agent, conversation_id: str) -> int:
    """How severe the conversation's recent messages are, as the classifier read them: the most
    severe, 1 to 5 (3 when none was read). The turn that pauses for approval is the customer's
    "yes", which says nothing of it; what makes the request urgent came in the turns before."""
    levels = [
        understanding["severity_level"]
        for snapshot in agent.graph.get_state_history(
            Agent.config(conversation_id), limit=_SEVERITY_LOOKBACK
        )
        if isinstance(understanding := snapshot.values.get("understanding"), dict)
        and isinstance(understanding.get("severity_level"), int)
    ]
    return min(5, max(1, max(levels))) if levels else 3


def record_approval(agent: Agent, conversation_id: str, result: TurnResult) -> TurnResult:
    """A run paused on a risky write gets a ticket, so the human agents' queue shows it, as
    severe as the conversation's most severe recent message."""
    approval = result.awaiting_approval
    store = agent.context.store
    if approval is None or store is None:
        return result
    amount = float(approval.get("amount") or 0.0)
    summary = (
        f"Approval needed: {approval.get('tool')} for ${amount:.2f} "
        f"(customer {result.customer_id or 'not verified'}). {approval.get('summary', '')}"
    )
    order_id = approval.get("arguments", {}).get("order_id")
    ticket_id = tickets.request_approval(
        store,
        conversation_id,
        customer_id=result.customer_id,
        summary=summary,
        order_id=str(order_id) if order_id else None,
        severity=_severity(agent, conversation_id),
    )
    return replace(result, ticket_id=ticket_id)


def _record(metrics: Metrics, channel: str, result: TurnResult, seconds: float) -> None:
    metrics.turn_seconds.labels(channel).observe(seconds)
    metrics.turns.labels(channel, "ok").inc()
    if result.intent:
        metrics.intents.labels(result.intent).inc()
    if result.escalated:
        for reason in result.escalation_reasons or ["unspecified"]:
            metrics.escalations.labels(reason).inc()
    for call in result.tool_calls:
        ok = bool(call.get("ok", True))
        metrics.tool_calls.labels(call["name"], str(ok).lower()).inc()
        if not ok:
            metrics.tool_errors.labels(call["name"]).inc()


async def turn_events(
    agent: Agent,
    grant: Grant,
    text: str,
    *,
    busy: Busy,
    metrics: Metrics,
    channel: str,
    on_ticket: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[TurnEvent]:
    """:func:`run_turn` in a worker thread, its events delivered as they come.

    The caller has acquired ``busy`` for the conversation; it is released when the turn ends. The turn
    runs to its end even if the client goes away, so a write is never cut off halfway. A reply that
    carries a ticket is also handed to ``on_ticket`` (which must return quickly).

    A failed turn ends with an ``error`` event: ``{"code": "turn_failed", "message": ...}``, or,
    while a database is unreachable, ``{"code": "service_unavailable", "message": ...,
    "retry_after": seconds}``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[TurnEvent | None] = asyncio.Queue()

    def put(item: TurnEvent | None) -> None:
        # RuntimeError: the client's loop is gone; the turn is checkpointed all the same.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        started = time.perf_counter()
        try:
            for event in run_turn(agent, grant, text):
                if event.event == "done" and event.result is not None:
                    _record(metrics, channel, event.result, time.perf_counter() - started)
                    if on_ticket is not None and event.data["ticket_id"] is not None:
                        on_ticket(event.data)
                put(event)
        except DATABASE_OUTAGES as exc:
            # Expected during a failover or restart: one line, not a traceback.
            log.warning(
                "turn in conversation %s not answered: database unavailable: %s",
                grant.conversation_id,
                exc,
            )
            metrics.turns.labels(channel, "unavailable").inc()
            put(_outage_event())
        except Exception:
            log.exception("turn failed in conversation %s", grant.conversation_id)
            metrics.turns.labels(channel, "error").inc()
            put(
                TurnEvent(
                    "error",
                    {"code": "turn_failed", "message": "The agent could not answer; try again."},
                )
            )
        finally:
            busy.release(grant.conversation_id)
            put(None)

    worker = loop.run_in_executor(None, work)
    while (event := await queue.get()) is not None:
        yield event
    await worker


def _outage_event() -> TurnEvent:
    """The ``error`` event of a turn a database outage stopped."""
    error = database_unavailable()
    seconds = int(error.headers()["Retry-After"])
    return TurnEvent(
        "error", {"code": error.code, "message": error.message, "retry_after": seconds}
    )


def raise_for_error(event: TurnEvent) -> NoReturn:
    """An ``error`` event as what a JSON endpoint answers: a 503 with Retry-After for an outage,
    else a 500 (the turn's failure is logged already, by :func:`turn_events`)."""
    if event.data["code"] == ServiceUnavailable.code:
        raise ServiceUnavailable(event.data["message"], event.data["retry_after"])
    raise InternalError(event.data["message"], code=event.data["code"])


def history(agent: Agent, conversation_id: str) -> dict[str, Any]:
    """The conversation as the customer sees it (:class:`api.replies.History`, as JSON)."""
    values = agent.graph.get_state(Agent.config(conversation_id)).values
    shown = replies.history(
        conversation_id,
        values.get("messages", []),
        handed_off=values.get("mode") == "handed_off",
    )
    return shown.model_dump(mode="json")
