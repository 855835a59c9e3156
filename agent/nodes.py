"""The graph's nodes. Each reads the state and ``Runtime[Context]`` and returns the fields it changes.

Business rules stay in ``tools/``: flows call the tools through ``tools.registry.invoke`` with a
``ToolContext`` built from the verified identity in state, and ask the tools themselves whether a write
is allowed (an unconfirmed call is checked and refused before it needs a confirmation).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.context import Context
from agent.guardrails import agent_logger, check_grounding, order_ids
from agent.language import detect_language
from agent.resolvers import (
    IdentityClues,
    available_options,
    candidate_orders,
    named_items,
    named_payment_methods,
    names_a_payment_method,
    order_label,
    read_identity,
    read_variant_wish,
    words_of,
)
from agent.services import Services, resolve
from agent.state import Pending, State, ToolCall, Understanding
from agent.templates import render
from agent.understanding import (
    ACCOUNT_GOALS,
    cancel_reason,
    choose_goal,
    describe_options,
    fold,
    format_address,
    goal_cue,
    info_kind,
    named_option_values,
    parse_address,
    refund_choice,
    request_parts,
    suspicious,
    yes_and_more,
    yes_no,
)
from knowledge.retrieval import passage_excerpt
from tools.context import ToolContext
from tools.errors import ApprovalRequiredError, ConfirmationRequiredError, NotAuthenticatedError
from tools.registry import ToolOutcome, invoke

log = agent_logger()
Update = dict[str, Any]

_DONE_TEMPLATES = {
    "cancel_pending_order": "done_cancel",
    "return_delivered_order_items": "done_return",
    "exchange_delivered_order_items": "done_exchange",
    "modify_pending_order_address": "done_address",
    "modify_user_address": "done_user_address",
    "modify_pending_order_items": "done_modify_items",
    "modify_pending_order_payment": "done_payment",
}


def _text(message: AnyMessage) -> str:
    content = message.content
    return content if isinstance(content, str) else " ".join(str(c) for c in content)


def _last_user_text(state: State) -> str:
    for message in reversed(state.messages):
        if isinstance(message, HumanMessage):
            return _text(message)
    return ""


def _thread_id() -> str | None:
    try:
        value = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None
    return str(value) if value is not None else None


class Turn:
    """Tool calls of one node run, made with the conversation's verified identity."""

    def __init__(self, state: State, services: Services) -> None:
        self.state = state
        self.services = services
        self.calls: list[ToolCall] = list(state.tool_calls)
        self.notes: list[str] = list(state.notes)
        self._user: dict[str, Any] | None = None
        self.queued: list[dict[str, Any]] = []
        """Requests found while this one was read (the same return over two orders), queued."""
        self.ctx = ToolContext(
            services.store,
            customer_id=state.customer_id,
            actor="agent",
            conversation_id=_thread_id(),
            approval_over_cents=round(services.ctx.risky_amount * 100),
        )

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        confirm: str | None = None,
        approved_by: str | None = None,
    ) -> ToolOutcome:
        args = dict(arguments)
        ctx = self.ctx.confirm(name, args, confirm) if confirm else self.ctx
        if approved_by:
            ctx = ctx.approve(name, args, approved_by)
        outcome = invoke(ctx, name, args)
        self.calls.append(ToolCall(name=name, arguments=args, ok=outcome.ok, result=outcome.text))
        return outcome

    def value(self, name: str, arguments: Mapping[str, Any]) -> Any:
        outcome = self.call(name, arguments)
        return outcome.value if outcome.ok else None

    def user(self) -> dict[str, Any]:
        """The verified customer's details (orders, payment methods, address), read once a turn."""
        if self._user is None:
            self._user = self.value("get_user_details", {"user_id": self.state.customer_id}) or {}
        return self._user

    def payment_methods(self) -> dict[str, Any]:
        """The verified customer's payment methods by id."""
        return dict(self.user().get("payment_methods", {}))

    def pm_words(self, pm_id: str | None) -> str:
        """A payment method as the customer knows it ("your Visa ending 7183", "your PayPal
        account"), never its id."""
        lang = self.state.language
        pm = self.payment_methods().get(pm_id or "") if pm_id else None
        source = str(pm["source"]) if pm else str(pm_id or "").rsplit("_", 1)[0]
        if source == "credit_card":
            if pm and pm.get("brand") and pm.get("last_four"):
                brand = str(pm["brand"]).title() if pm["brand"].islower() else pm["brand"]
                return render("pm_card", lang, brand=brand, last_four=pm["last_four"])
            return render("pm_card_plain", lang)
        if source == "paypal":
            return render("pm_paypal", lang)
        if source == "gift_card":
            if pm and pm.get("balance") is not None:
                return render("pm_gift_card_balance", lang, balance=f"{pm['balance']:.2f}")
            return render("pm_gift_card", lang)
        return render("pm_other", lang)

    def update(self, **fields: Any) -> Update:
        return {"tool_calls": self.calls, "notes": self.notes, **fields}


# ---------------------------------------------------------------------------------------- ingest


def ingest(state: State, runtime: Runtime[Context]) -> Update:
    """Start a turn: language, channel identity, per-turn fields reset, history capped."""
    ctx = runtime.context
    text = _last_user_text(state)
    log.info("turn %s: %s", state.turn + 1, text)
    update: Update = {
        "turn": state.turn + 1,
        "tool_calls": [],
        "passages": [],
        "cited": [],
        "notes": [],
        "draft": "",
        "llm_draft": "",
        "reply": "",
        "grounded": True,
        "llm_used": False,
        "escalation_reasons": [],
        "route": None,
        "language": detect_language(text, state.language),  # type: ignore[arg-type]
    }
    if state.customer_id is None and ctx.verified_customer_id:
        update["customer_id"] = ctx.verified_customer_id
    if len(state.messages) > ctx.history_messages:
        old = list(state.messages)[: len(state.messages) - ctx.history_messages]
        update["messages"] = [RemoveMessage(id=m.id) for m in old if m.id]
        update["summary"] = _summarise(state.summary, old, resolve(ctx))
    return update


def _summarise(previous: str, messages: list[AnyMessage], services: Services) -> str:
    llm = services.llm
    written = llm.summarise(messages) if llm is not None else None
    if written is None:
        written = "\n".join(f"{m.type}: {_text(m)[:160]}" for m in messages)
    # Bounded: the newest lines of the running summary are the ones worth keeping.
    return f"{previous}\n{written}".strip()[-4000:]


# ------------------------------------------------------------------------------------ understand


def understand(state: State, runtime: Runtime[Context]) -> Update:
    """Intent, confidence, out-of-scope, severity, sentiment and entities of the latest message."""
    ctx = runtime.context
    if state.mode == "handed_off":
        return {}
    text = _last_user_text(state)
    classifier = resolve(ctx).classifier
    if classifier is not None:
        p = classifier.predict(text)
        u = Understanding(
            intent=p.intent,
            confidence=round(p.confidence, 4),
            out_of_scope=p.out_of_scope,
            severity=round(p.severity, 3),
            severity_level=p.severity_level,
            sentiment=p.sentiment,
            sentiment_score=round(p.sentiment_score, 4),
            entities=[{"type": e.type, "value": e.value} for e in p.entities],
            cue=None,
            goal=None,
        )
    else:
        from classifiers import extract_entities

        u = Understanding(
            intent="unknown",
            confidence=0.0,
            out_of_scope=False,
            severity=1.0,
            severity_level=1,
            sentiment="neutral",
            sentiment_score=0.0,
            entities=[{"type": e.type, "value": e.value} for e in extract_entities(text)],
            cue=None,
            goal=None,
        )
    cue = goal_cue(text)
    goal = choose_goal(
        cue,
        u["intent"],
        u["confidence"],
        u["out_of_scope"],
        ctx.min_confidence,
        state.language,
        text,
    )
    u["cue"], u["goal"] = cue, goal
    return {"understanding": u}


def _entity(u: Understanding | None, kind: str) -> str | None:
    entities: list[dict[str, Any]] = u["entities"] if u is not None else []
    for entity in entities:
        if entity["type"] == kind:
            return str(entity["value"])
    return None


# ----------------------------------------------------------------------------------------- route


def route(state: State, runtime: Runtime[Context]) -> Update:
    """Decide the turn: escalate, authenticate, clarify, retrieve or act (deterministic policy)."""
    ctx = runtime.context
    if state.mode == "handed_off":
        return {"route": "silent"}
    u = state.understanding
    assert u is not None
    text = _last_user_text(state)
    reasons: list[str] = []
    abuse = suspicious(text)
    if abuse:
        reasons.append(abuse)
    # A message that answers what we asked (a detail, a yes or no) is read for that answer: the
    # classifier's sentiment and intent on "I ordered it by mistake" or an e-mail address say little
    # about the customer's mood or wishes, so only their words (a request for a human) escalate it.
    answering = _answers(state, text, u)
    if u["cue"] == "human" or (u["goal"] == "human" and not answering):
        reasons.append("customer_asked_for_human")
    if u["severity_level"] >= ctx.severity_escalation:
        reasons.append(f"severity_{u['severity_level']}")
    if u["sentiment_score"] <= ctx.negative_sentiment and not answering:
        reasons.append("negative_sentiment")
    goal = state.goal
    new_goal = u["goal"]
    # While we wait for an answer, only the customer's explicit words change the subject.
    if (
        state.awaiting
        and goal
        and (_fills(state.awaiting, text, u, state.slots) or u["cue"] not in _STRONG_CUES)
    ):
        new_goal = None
    slots = dict(state.slots)
    update: Update = {}
    pending = state.pending
    order_id = _entity(u, "order_id")
    if pending is not None:
        answer = _confirms(text, pending["tool"])
        more = yes_and_more(text, action=pending["tool"])
        if answer and more:
            # "yes, and then return the backpack too": this write is confirmed, and the further
            # request waits its turn.
            update["queue"] = [*_requests(more), *state.queue]
        other_order = order_id is not None and _same_order(order_id) != _same_order(
            str(pending["arguments"].get("order_id", ""))
        )
        if answer is None and (new_goal not in (None, goal) or other_order):
            # The customer moved on ("yes, but cancel #W2 instead"): nothing is confirmed, and the
            # new request is followed from the start, its slots gathered again.
            pending = None
            update.update(pending=None, awaiting=None)
            if other_order:
                slots = {}
        elif not reasons:
            return {**update, "route": "act" if answer is not None else "clarify"}
    said = text
    parts = request_parts(text) if (new_goal or not goal) and not answering else []
    if len(parts) > 1:
        # Several requests at once ("cancel the sunglasses and return the coffee maker"): the
        # first is followed now, each with its own words, and the others wait their turn.
        new_goal, said = parts[0]
        update["queue"] = [*(_request(g, w) for g, w in parts[1:]), *state.queue]
    if new_goal is not None and new_goal != goal and new_goal != "human":
        # A new goal keeps the order the customer was talking about.
        slots = {k: v for k, v in slots.items() if k == "order_id"}
        goal = new_goal
        update.update(goal=goal, awaiting=None, clarified=False)
    if order_id and (len(parts) < 2 or _same_order(order_id) in _same_order(said)):
        slots["order_id"] = order_id
    if goal:
        # Everything said about this request, so a detail given before a question (the item, the
        # reason, where the refund goes) is not asked for again.
        slots["said"] = [*slots.get("said", []), said][-6:]
    update["slots"] = slots
    if goal == "complaint" and state.customer_id and not reasons:
        spend = state.lifetime_spend
        if spend is None:
            spend = _lifetime_spend(Turn(state, resolve(ctx)))
            update["lifetime_spend"] = spend
        if spend >= ctx.vip_spend:
            reasons.append("vip_complaint")
    if goal and state.failures.get(goal, 0) >= 2:
        reasons.append(f"repeated_failure:{goal}")
    if state.repeats >= 1 and not answering and (new_goal is None or new_goal == state.goal):
        # The same question went unanswered twice: a third time would be a loop.
        reasons.append("repeated_question")
    if reasons:
        return {**update, "route": "escalate", "escalation_reasons": reasons}
    clues = read_identity(text, expecting=state.awaiting == "identity")
    if state.customer_id is None and (
        (state.awaiting == "identity" and clues.any)
        or _verifiable(clues.merged(state.identity))
        or (clues.first_name and clues.last_name)
        or clues.user_id
    ):
        # Who they are, said before (or without) saying what they need: verify first.
        return {**update, "route": "authenticate"}
    if goal is None and order_id and state.customer_id:
        # "hi, I need help with my order #W..." : start from what the order is doing.
        goal = "track_order"
        update.update(goal=goal, awaiting=None)
        slots["said"] = [text]
    if goal is None or (new_goal is None and state.awaiting is None and pending is None):
        plan = _plan(state, resolve(ctx))
        if plan is not None:
            return {**update, "route": "act", "slots": {**slots, "plan": plan}, "clarified": False}
        if state.clarified:
            why = "out_of_scope" if u["out_of_scope"] else "low_confidence"
            return {**update, "route": "escalate", "escalation_reasons": [why]}
        return {**update, "route": "clarify", "clarified": True, "goal": None}
    if goal == "policy":
        return {**update, "route": "retrieve"}
    if goal in ACCOUNT_GOALS and state.customer_id is None:
        return {**update, "route": "authenticate"}
    if goal == "complaint":
        return {**update, "route": "clarify", "goal": None}
    return {**update, "route": "act"}


_STRONG_CUES = frozenset(
    {
        "cancel_order",
        "return_item",
        "exchange_item",
        "change_address",
        "refund_status",
        "policy",
        "account_info",
        "change_payment",
    }
)


def _confirms(text: str, tool: str) -> bool | None:
    """The answer to "shall I ...?": yes, no, or unclear; a clear yes followed by a further request
    ("yes, and then return the backpack too") is a yes."""
    answer = yes_no(text, action=tool)
    if answer is None and yes_and_more(text, action=tool) is not None:
        return True
    return answer


def _request(goal: str, said: str, order_id: str | None = None) -> dict[str, Any]:
    """A request waiting in the queue: its goal and the customer's words for it."""
    request: dict[str, Any] = {"goal": goal, "said": [said]}
    if order_id:
        request["order_id"] = order_id
    return request


def _requests(text: str) -> list[dict[str, Any]]:
    return [_request(goal, said) for goal, said in request_parts(text)]


def _same_order(order_id: str) -> str:
    return order_id.strip().lstrip("#").upper()


def _answers(state: State, text: str, u: Understanding) -> bool:
    """Whether the message answers the question the last reply asked: a slot or a confirmation."""
    if state.pending is not None:
        return yes_no(text, action=state.pending["tool"]) is not None
    return bool(state.awaiting and state.goal and _fills(state.awaiting, text, u, state.slots))


def _verifiable(clues: IdentityClues) -> bool:
    return bool(
        clues.email
        or (clues.zip and clues.user_id)
        or (clues.zip and clues.first_name and clues.last_name)
    )


def _fills(awaiting: str, text: str, u: Understanding, slots: Mapping[str, Any]) -> bool:
    """Whether the message answers the question we asked."""
    if awaiting == "identity":
        return read_identity(text, expecting=True).any or any(
            _entity(u, kind) for kind in ("email", "name", "zip_code")
        )
    if awaiting == "order_id":
        if _entity(u, "order_id") is not None:
            return True
        asked = [{"order_id": oid, "items": [{"name": n} for n in names], "status": ""}
                 for oid, names in dict(slots.get("order_candidates", {})).items()]  # fmt: skip
        return bool(asked) and len(candidate_orders(text, asked, None)) < len(asked)
    if awaiting == "reason":
        return cancel_reason(text) is not None
    if awaiting in ("refund", "payment"):
        return (
            refund_choice(text) is not None
            or names_a_payment_method(text)
            or (awaiting == "refund" and yes_no(text) is True)
        )
    if awaiting == "address":
        return parse_address(text) is not None
    return False


def _plan(state: State, services: Services) -> dict[str, Any] | None:
    llm = services.llm
    if llm is None:
        return None
    plan = llm.plan(list(state.messages), state.customer_id)
    return plan.model_dump() if plan is not None else None


def _lifetime_spend(turn: Turn) -> float:
    """Payments less refunds over the verified customer's orders, in dollars."""
    total = 0.0
    for order_id in turn.user().get("orders", []):
        order = turn.value("get_order_details", {"order_id": order_id}) or {}
        for t in order.get("payment_history", []):
            sign = 1 if t["transaction_type"] == "payment" else -1
            total += sign * float(t["amount"])
    return round(total, 2)


def after_route(state: State) -> str:
    return "__end__" if state.route == "silent" else str(state.route)


# ---------------------------------------------------------------------------------- authenticate


def authenticate(state: State, runtime: Runtime[Context]) -> Update:
    """Verify the customer by email, by first name, last name and zip (the tau2 policy), or by user
    id and zip, however they phrase it and across as many messages as they need."""
    turn = Turn(state, resolve(runtime.context))
    u = state.understanding
    text = _last_user_text(state)
    lang = state.language
    clues = read_identity(text, expecting=state.awaiting == "identity").merged(state.identity)
    if not clues.email and (email := _entity(u, "email")):
        clues = IdentityClues(email=email).merged(clues.as_dict())
    outcome: ToolOutcome | None = None
    if clues.email:
        outcome = turn.call("find_user_id_by_email", {"email": clues.email})
    elif clues.user_id and clues.zip:
        outcome = turn.call(
            "find_user_id_by_user_id_zip", {"user_id": clues.user_id, "zip": clues.zip}
        )
    elif clues.first_name and clues.last_name and clues.zip:
        outcome = turn.call(
            "find_user_id_by_name_zip",
            {"first_name": clues.first_name, "last_name": clues.last_name, "zip": clues.zip},
        )
    if outcome is None:
        missing = "ask_identity"
        if clues.first_name and clues.last_name or clues.user_id:
            missing = "ask_zip"
        elif clues.zip:
            missing = "ask_name"
        return turn.update(draft=render(missing, lang), awaiting="identity",
                           identity=clues.as_dict())  # fmt: skip
    if not outcome.ok:
        return _fail(state, turn, render("auth_failed", lang), counter="authenticate",
                     awaiting="identity", identity={})  # fmt: skip
    log.info("verified %s", text)
    customer_id = str(outcome.value)
    failures = {k: v for k, v in state.failures.items() if k != "authenticate"}
    resumes = state.goal in ACCOUNT_GOALS
    return turn.update(
        customer_id=customer_id,
        failures=failures,
        identity={},
        awaiting=None,
        route="act" if resumes else "authenticate",
        draft="" if resumes else render("auth_ok", lang),
    )


def after_authenticate(state: State) -> str:
    if state.route == "escalate":
        return "escalate"
    return "act" if state.route == "act" else "respond"


# --------------------------------------------------------------------------------------- clarify


def clarify(state: State, runtime: Runtime[Context]) -> Update:
    """Ask: to rephrase, to answer yes or no, or what went wrong (complaints)."""
    lang = state.language
    if state.pending is not None:
        return {"draft": render("confirm_reask", lang, summary=state.pending["summary"])}
    u = state.understanding
    if u is not None and u["goal"] == "complaint":
        return {"draft": render("complaint", lang)}
    return {"draft": render("rephrase", lang)}


# -------------------------------------------------------------------------------------- retrieve


def retrieve(state: State, runtime: Runtime[Context]) -> Update:
    """Answer a policy question from the knowledge base, quoting and citing the best passage."""
    ctx = runtime.context
    lang = state.language
    kb = resolve(ctx).kb
    text = _last_user_text(state)
    done: Update = {"goal": None, "slots": {}, "awaiting": None}
    if kb is None:
        return {**done, "draft": render("no_info", lang)}
    result = kb.search(text, k=ctx.top_k)
    passages = [
        {
            "ref": p.citation.ref,
            "title": p.citation.title,
            "text": p.text,
            "score": p.citation.score,
        }
        for p in result.passages
    ]
    if not result.covered or not passages:
        return {**done, "passages": passages, "draft": render("no_info", lang)}
    best = passages[0]
    return {
        **done,
        "passages": passages,
        # The source goes beside the reply (a citation link), never inside its text.
        "cited": [best["ref"]],
        "draft": render("policy", lang, excerpt=passage_excerpt(str(best["text"]))),
    }


# ------------------------------------------------------------------------------------------- act


def act(state: State, runtime: Runtime[Context]) -> Update:
    """Run the current goal's flow with the tools: gather slots, ask for confirmation, write."""
    ctx = runtime.context
    turn = Turn(state, resolve(ctx))
    if state.pending is not None:
        return _next_request(state, turn, _confirmed(state, turn))
    plan = state.slots.get("plan")
    if isinstance(plan, dict):
        return _planned(state, turn, plan)
    return _next_request(state, turn, _run_flow(state, turn))


def _run_flow(state: State, turn: Turn) -> Update:
    flow = _FLOWS.get(state.goal or "")
    if flow is None:
        return turn.update(draft=render("rephrase", state.language))
    return flow(state, turn)


def _next_request(state: State, turn: Turn, update: Update) -> Update:
    """When a request ends (done, declined) and the customer asked for more in the same breath,
    the next one starts at once: "Done, the order is cancelled. Now, the coffee maker: ..."."""
    queue = list(update.get("queue", state.queue)) + turn.queued
    while (
        queue
        and update.get("goal", state.goal) is None
        and update.get("route") != "escalate"
        and update.get("pending") is None
    ):
        request, queue = queue[0], queue[1:]
        slots: dict[str, Any] = {"said": list(request["said"])}
        order_id = request.get("order_id") or next(iter(order_ids(" ".join(slots["said"]))), None)
        if order_id:
            slots["order_id"] = order_id
        state = replace(
            state,
            goal=request["goal"],
            slots=slots,
            awaiting=None,
            pending=None,
            queue=queue,
            done=update.get("done", state.done),
            failures=update.get("failures", state.failures),
        )
        turn.queued = []
        following = _run_flow(state, turn)
        queue = queue + turn.queued
        draft = f"{_without_anything_else(update['draft'], state.language)} {following['draft']}"
        update = {
            **update,
            "goal": request["goal"],
            "slots": slots,
            "awaiting": None,
            "pending": None,
            **following,
            "draft": draft.strip(),
        }
    if queue or "queue" in update or state.queue:
        update["queue"] = queue
    return update


def _without_anything_else(draft: str, lang: str) -> str:
    """A finished request's reply, less its "anything else?", when another request follows."""
    for key in ("anything_else", "declined"):
        tail = render(key, lang)
        if draft.endswith(tail):
            draft = draft[: -len(tail)].rstrip()
            if key == "declined":
                draft = f"{draft} {render('declined_short', lang)}"
    return draft.strip()


def after_act(state: State) -> str:
    return "escalate" if state.route == "escalate" else "respond"


def _fail(
    state: State, turn: Turn, draft: str, *, counter: str | None = None, **fields: Any
) -> Update:
    """Say what went wrong and count it against ``counter`` (the goal by default); the second
    failure of the same kind goes to a human."""
    key = counter or state.goal or "unknown"
    failures = {**state.failures, key: state.failures.get(key, 0) + 1}
    update = turn.update(draft=draft, failures=failures, **fields)
    if failures[key] >= 2:
        update.update(route="escalate", escalation_reasons=[f"repeated_failure:{key}"])
    return update


def _done(turn: Turn, draft: str) -> Update:
    # The order stays remembered: "and can I return it?" is about the same one.
    order_id = turn.state.slots.get("order_id")
    slots = {"order_id": order_id} if order_id else {}
    return turn.update(draft=draft, goal=None, slots=slots, awaiting=None, pending=None)


def _refused(state: State, turn: Turn, outcome: ToolOutcome, **fields: Any) -> Update:
    """A tool said no: explain its reason; never look for a way around the rule."""
    if isinstance(outcome.error, NotAuthenticatedError):
        return turn.update(draft=render("ask_identity", state.language), awaiting="identity")
    if _done_key(outcome.name, outcome.arguments) in state.done:
        # Asked again for what this conversation already did: say so; it is not a failure.
        order_id = str(outcome.arguments.get("order_id", ""))
        return _done(turn, render("already_done", state.language, order_id=order_id))
    reason = outcome.error.message if outcome.error else outcome.text
    return _fail(state, turn, render("refused", state.language, reason=reason), **fields)


def _request_text(state: State) -> str:
    """Everything the customer said about the current request, this message included."""
    said = state.slots.get("said") or [_last_user_text(state)]
    return " ".join(str(t) for t in said)


def _order(state: State, turn: Turn) -> tuple[dict[str, Any] | None, Update | None]:
    """The order the customer means, with its details: the one their words and the request fit
    (an item it holds, its status, what the goal can act on); when several fit, they are asked
    once which, each named by its contents."""
    lang = state.language
    order_id = state.slots.get("order_id")
    if not order_id:
        ids = list(turn.user().get("orders", []))
        asked = dict(state.slots.get("order_candidates", {}))
        orders = [
            o
            for oid in ids
            if (not asked or oid in asked)
            and isinstance(o := turn.value("get_order_details", {"order_id": oid}), dict)
        ]
        # An answer to "which order?" is read on its own; a first request with all it said.
        text = _last_user_text(state) if asked else _request_text(state)
        listed = [o for oid in asked for o in orders if o["order_id"] == oid]
        if listed and (picked := _ordinal(text, listed)) is not None:
            return dict(picked), None  # "the first one"
        fits = candidate_orders(text, orders, state.goal)
        # After "I couldn't find #W...", a "yes" must not act on an order never mentioned.
        after_not_found = state.awaiting == "order_id" and not asked
        if len(fits) == 1 and not (after_not_found and len(orders) == 1 and fits == orders):
            order: dict[str, Any] = dict(fits[0])
            return order, None
        spread = _spread_over_orders(text, fits) if state.goal in _ITEM_GOALS and not asked else []
        if spread:
            # "return the headphones and the earbuds", bought in two orders: one request per
            # order, this one first, the others queued.
            first, *others = spread
            turn.queued.extend(_request(str(state.goal), text, o["order_id"]) for o in others)
            return dict(first), None
        if not orders:
            return None, turn.update(draft=render("ask_order_id", lang, orders=""),
                                     awaiting="order_id")  # fmt: skip
        labels = [order_label(o) for o in fits or orders]
        listed = ", ".join(labels[:-1]) + render("or", lang) + labels[-1]
        slots = {
            **state.slots,
            "order_candidates": {
                o["order_id"]: [i["name"] for i in o["items"]] for o in fits or orders
            },
        }
        return None, turn.update(draft=render("which_order", lang, orders=listed), slots=slots,
                                 awaiting="order_id")  # fmt: skip
    outcome = turn.call("get_order_details", {"order_id": order_id})
    if not outcome.ok:
        slots = {k: v for k, v in state.slots.items() if k != "order_id"}
        if isinstance(outcome.error, NotAuthenticatedError):
            return None, turn.update(draft=render("ask_identity", lang), awaiting="identity")
        draft = render("order_not_found", lang, order_id=order_id)
        return None, _fail(state, turn, draft, slots=slots, awaiting="order_id")
    found: dict[str, Any] = outcome.value
    return found, None


_ITEM_GOALS: Final = frozenset({"return_item", "exchange_item"})


def _spread_over_orders(text: str, orders: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The orders, in the order the customer named their items, when the items named are spread
    over them, each order holding items the others do not ("the headphones and the earbuds");
    empty when an item could be in more than one of them (two orders with a puzzle: ask)."""
    names: list[set[str]] = []
    for order in orders:
        named = {str(i["name"]) for i in named_items(text, order["items"])}
        if not named or any(named & other for other in names):
            return []
        names.append(named)
    folded = fold(text)

    def first_mention(named: set[str]) -> int:
        positions = [folded.find(w) for n in named for w in words_of(n) if w in folded]
        return min(positions, default=len(folded))

    ranked = sorted(zip(orders, names, strict=True), key=lambda pair: first_mention(pair[1]))
    return [order for order, _ in ranked]


def _ask_confirmation(
    state: State,
    turn: Turn,
    tool: str,
    arguments: dict[str, Any],
    summary: str,
    slots: dict[str, Any] | None = None,
) -> Update:
    """Check the write with the tools first; only an allowed one is put to the customer. The money it
    moves and whether a staff member must approve it are the tool's own answer (it knows the
    prices), whoever proposed the write. ``slots``, when given, are what the flow gathered, kept
    whether the tools allow the write or not."""
    probe = turn.call(tool, arguments)
    if not isinstance(probe.error, ConfirmationRequiredError):
        update = _refused(state, turn, probe)
    else:
        pending = Pending(
            tool=tool,
            arguments=arguments,
            confirmation_id=uuid.uuid4().hex,
            summary=summary,
            amount=round(probe.error.amount_cents / 100, 2),
            needs_approval=probe.error.needs_approval,
            approved=False,
        )
        update = turn.update(draft=summary, pending=pending, awaiting="confirmation")
    return update if slots is None else {"slots": slots, **update}


def _confirmed(state: State, turn: Turn) -> Update:
    """The customer answered a confirmation question (and, for a write over the approval amount, a
    human decided)."""
    lang = state.language
    pending = state.pending
    assert pending is not None
    if _confirms(_last_user_text(state), pending["tool"]) is not True:
        return _done(turn, render("declined", lang))
    approver = pending.get("approved_by") if pending["approved"] else None
    if pending.get("needs_approval") and not pending["approved"]:
        decided = _human_decision(state, turn, pending, pending["amount"])
        if not isinstance(decided, str):
            return decided
        approver = decided
    outcome = turn.call(
        pending["tool"],
        pending["arguments"],
        confirm=pending["confirmation_id"],
        approved_by=approver,
    )
    if isinstance(outcome.error, ApprovalRequiredError) and approver is None:
        # The tool's rule is the one that counts, even where the confirmation question did not
        # foresee it: a human decides before anything is written.
        decided = _human_decision(state, turn, pending, outcome.error.amount_cents / 100)
        if not isinstance(decided, str):
            return decided
        outcome = turn.call(
            pending["tool"],
            pending["arguments"],
            confirm=pending["confirmation_id"],
            approved_by=decided,
        )
    if not outcome.ok:
        return _refused(state, turn, outcome, pending=None, awaiting=None)
    draft = f"{_done_text(state, turn, pending, outcome.value)} {render('anything_else', state.language)}"
    done = [*state.done, _done_key(pending["tool"], pending["arguments"])]
    return {**_done(turn, draft), "done": done}


def _done_key(tool: str, arguments: Mapping[str, Any]) -> str:
    return f"{tool}:{arguments.get('order_id') or arguments.get('user_id', '')}"


def _human_decision(state: State, turn: Turn, pending: Pending, amount: float) -> str | Update:
    """Pause the run until a staff member decides on ``pending``: who approved it, or the turn's
    update when they rejected or edited it.

    Nothing before the ``interrupt`` has side effects: the node runs again from the start when the
    run resumes."""
    lang = state.language
    decision = interrupt(
        {
            "kind": "approval",
            "tool": pending["tool"],
            "arguments": pending["arguments"],
            "amount": round(amount, 2),
            "summary": pending["summary"],
            "customer_id": state.customer_id,
        }
    )
    verdict = (
        str((decision or {}).get("action", "reject"))
        if isinstance(decision, dict)
        else str(decision)
    )
    if verdict == "reject":
        why = str(decision.get("reason", "")) if isinstance(decision, dict) else ""
        return _done(turn, render("approval_rejected", lang, reason=f" ({why})" if why else ""))
    approver = str(decision.get("by") or "staff") if isinstance(decision, dict) else "staff"
    if verdict == "edit":
        edits = dict(decision.get("arguments", {})) if isinstance(decision, dict) else {}
        arguments = {**pending["arguments"], **edits}
        summary = _describe_write(state, turn, pending["tool"], arguments)
        update = _ask_confirmation(state, turn, pending["tool"], arguments, summary)
        if update.get("pending"):
            # The edited call is approved as edited; the customer confirms it once more.
            approved = {**update["pending"], "approved": True, "approved_by": approver}
            update["pending"] = Pending(**approved)  # type: ignore[typeddict-item]
            update["draft"] = render("approval_edited", lang, summary=summary)
        return update
    if verdict != "approve":
        return _done(turn, render("approval_rejected", lang, reason=""))
    return approver


def _done_text(state: State, turn: Turn, pending: Pending, result: Any) -> str:
    lang = state.language
    args = pending["arguments"]
    key = _DONE_TEMPLATES.get(pending["tool"])
    order_id = args.get("order_id", "")
    if key == "done_cancel":
        refunds = [
            render(
                "refund_note",
                lang,
                amount=f"{t['amount']:.2f}",
                pm=turn.pm_words(t["payment_method_id"]),
            )
            for t in result.get("payment_history", [])
            if t["transaction_type"] == "refund"
        ]
        return render(key, lang, order_id=order_id, refunds=" ".join(refunds))
    if key == "done_return":
        items = ", ".join(state.slots.get("item_names", [])) or ", ".join(args["item_ids"])
        turn.notes.append(f"refund total {pending['amount']:.2f}")
        return render(
            key, lang, order_id=order_id, items=items, amount=f"{pending['amount']:.2f}",
            pm=turn.pm_words(args["payment_method_id"]),
        )  # fmt: skip
    if key in ("done_address", "done_user_address"):
        return render(key, lang, order_id=order_id, address=format_address(args))
    if key in ("done_exchange", "done_modify_items"):
        return render(key, lang, order_id=order_id)
    if key == "done_payment":
        return render(key, lang, order_id=order_id, pm=turn.pm_words(args["payment_method_id"]))
    return _brief(turn, result) if key is None else ""


# Flows ----------------------------------------------------------------------------------------


def _track(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    tracked = turn.value("track_order", {"order_id": order["order_id"]}) or {}
    text = render("order_status", lang, order_id=order["order_id"], status=order["status"])
    for shipment in tracked.get("shipments", []):
        tracking = ", ".join(shipment.get("tracking_ids", []))
        if shipment.get("shipped_on") and shipment.get("carrier"):
            text += render(
                "shipment", lang, carrier=shipment["carrier"], tracking=tracking,
                shipped=shipment["shipped_on"],
            )  # fmt: skip
        elif tracking:
            text += render("tracking_only", lang, tracking=tracking)
        if shipment.get("delivered_on"):
            text += render("delivered_on", lang, date=shipment["delivered_on"])
        elif shipment.get("estimated_delivery"):
            text += render("eta", lang, date=shipment["estimated_delivery"])
    if not tracked.get("shipments") and order["status"] == "pending":
        text += render("not_shipped", lang)
    text += render("order_items", lang, items=_item_lines(order["items"]))
    return _done(turn, text)


def _refund_status(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    result = turn.value("get_refund_status", {"order_id": order["order_id"]}) or {}
    refunds = result.get("refunds", [])
    if not refunds:
        return _done(
            turn, render("no_refund", lang, order_id=order["order_id"], status=order["status"])
        )
    lines = "; ".join(
        render(
            "refund_line",
            lang,
            amount=f"{r['amount']:.2f}",
            pm=turn.pm_words(r["payment_method_id"]),
            status=r["status"],
            date=r.get("expected_by") or r["requested_on"],
        )  # fmt: skip
        for r in refunds
    )
    return _done(turn, render("refunds", lang, order_id=order["order_id"], lines=lines))


def _items_text(items: list[Mapping[str, Any]]) -> str:
    return "; ".join(f"{i['name']} ({describe_options(i.get('options', {}))})" for i in items)


def _cancel(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    reason = cancel_reason(_request_text(state)) or slots.get("reason")
    if reason is None:
        # Ask the tools whether this order can be cancelled at all before asking why.
        probe = turn.call(
            "cancel_pending_order", {"order_id": order_id, "reason": "no longer needed"}
        )
        if not isinstance(probe.error, ConfirmationRequiredError):
            return _refused(state, turn, probe)
        return turn.update(
            draft=render("ask_cancel_reason", lang, order_id=order_id),
            slots=slots,
            awaiting="reason",
        )
    slots["reason"] = reason
    items = ", ".join(i["name"] for i in order["items"])
    summary = render("confirm_cancel", lang, order_id=order_id, items=items, reason=reason)
    args = {"order_id": order_id, "reason": reason}
    return _ask_confirmation(state, turn, "cancel_pending_order", args, summary, slots)


def _original_pm(order: Mapping[str, Any]) -> str | None:
    for t in order.get("payment_history", []):
        if t["transaction_type"] == "payment":
            return str(t["payment_method_id"])
    return None


def _refund_target(
    state: State, turn: Turn, order: Mapping[str, Any], text: str, *, any_method: bool = False
) -> str | None:
    """The payment method the customer's words name for the money, among those the request may
    use: for a refund the original method or a gift card, for a price difference (``any_method``)
    any of theirs. None when they named none."""
    original = _original_pm(order)
    methods = turn.payment_methods()
    named = named_payment_methods(text, methods, original)
    allowed = [
        pid
        for pid in named
        if any_method or pid == original or methods.get(pid, {}).get("source") == "gift_card"
    ]
    if allowed:
        return allowed[0]
    if named:
        return None  # a method the money may not go to: the customer is told, not overruled
    if state.awaiting == "refund" and yes_no(text) is True:
        return original  # "yes please" to "should it go to the original payment method?"
    choice = refund_choice(text)
    if choice == "gift_card":
        cards = [pid for pid, pm in turn.payment_methods().items() if pm["source"] == "gift_card"]
        return cards[0] if cards else original
    if choice == "original":
        return original
    gift_cards = {pid for pid, pm in methods.items() if pm["source"] == "gift_card"}
    if not any_method and original and gift_cards <= {original}:
        # Nowhere else the money could go: the confirmation says where, nothing to ask.
        return original
    return None


def _chosen_items(text: str, items: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items of the order the text names: by item id, else by name ("both helmets")."""
    by_id = [i for i in items if str(i["item_id"]) in text]
    return by_id or named_items(text, items)


def _return(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    text = _last_user_text(state)
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    if order["status"] != "delivered":
        # Let the tool state the rule (only delivered orders are returned).
        probe = turn.call(
            "return_delivered_order_items",
            {"order_id": order_id, "item_ids": [order["items"][0]["item_id"]],
             "payment_method_id": _original_pm(order) or ""},
        )  # fmt: skip
        return _refused(state, turn, probe, slots={})
    asked_items = state.awaiting == "items"
    chosen = _chosen_items(text if asked_items else _request_text(state), order["items"])
    if chosen and (asked_items or not slots.get("item_ids")):
        slots["item_ids"] = [i["item_id"] for i in chosen]
        slots["item_names"] = [i["name"] for i in chosen]
        slots["amount"] = round(sum(float(i["price"]) for i in chosen), 2)
    if not slots.get("item_ids"):
        if len(order["items"]) == 1:
            only = order["items"][0]
            slots.update(
                item_ids=[only["item_id"]], item_names=[only["name"]], amount=float(only["price"])
            )
        else:
            ask = render("ask_items", lang, order_id=order_id, action=render("verb_return", lang),
                         items=_items_text(order["items"]))  # fmt: skip
            return turn.update(draft=ask, slots=slots, awaiting="items")
    turn.notes.append(f"refund total {slots['amount']:.2f}")
    said = text if state.awaiting == "refund" else _request_text(state)
    target = _refund_target(state, turn, order, said) or slots.get("refund")
    if target is None:
        cards = [pid for pid, pm in turn.payment_methods().items() if pm["source"] == "gift_card"]
        gift = render("or_gift_card", lang, gift=turn.pm_words(cards[0])) if cards else ""
        # A method the refund cannot go to ("to my PayPal" for a card payment) is answered with
        # the rule, not silently replaced.
        named = named_payment_methods(said, turn.payment_methods(), _original_pm(order))
        key = "refund_not_allowed" if named else "ask_refund_method"
        ask = render(key, lang, original=turn.pm_words(_original_pm(order)), gift=gift,
                     items=", ".join(slots["item_names"]), order_id=order_id,
                     amount=f"{slots['amount']:.2f}")  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="refund")
    slots["refund"] = target
    summary = render(
        "confirm_return", lang, items=", ".join(slots["item_names"]), order_id=order_id,
        amount=f"{slots['amount']:.2f}", pm=turn.pm_words(target),
    )  # fmt: skip
    args = {"order_id": order_id, "item_ids": slots["item_ids"], "payment_method_id": target}
    return _ask_confirmation(state, turn, "return_delivered_order_items", args, summary, slots)


def _exchange(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    text = _last_user_text(state)
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    items = order["items"]
    if slots.get("item_id") is None:
        chosen = _chosen_items(_request_text(state), items) if len(items) > 1 else items
        if len(chosen) != 1:
            ask = render("ask_items", lang, order_id=order_id, action=render("verb_exchange", lang),
                         items=_items_text(items))  # fmt: skip
            return turn.update(draft=ask, slots=slots, awaiting="items")
        slots["item_id"] = chosen[0]["item_id"]
    item = next((i for i in items if i["item_id"] == slots["item_id"]), None)
    if item is None:
        return _fail(state, turn, render("rephrase", lang), slots={})
    product = turn.value("get_product_details", {"product_id": item["product_id"]}) or {}
    variants = list(product.get("variants", {}).values())
    option_text = text if state.awaiting == "variant" else _request_text(state)
    offered = [v for v in variants if v["item_id"] in slots.get("offered", [])]
    wish = read_variant_wish(option_text, item, variants)
    if offered and state.awaiting == "variant":
        # An answer to "which of these?": read against what was offered, by its options or
        # its place in the list ("the second one").
        picked = _ordinal(text, offered)
        fits = [picked] if picked else (wish.fits(offered) if wish.stated else [])
        fits = fits or (wish.fits(variants) if wish.stated else [])
    else:
        fits = wish.fits(variants) if wish.stated else []
    if not wish.stated and not fits:
        others = [v for v in variants if v["item_id"] != item["item_id"] and v.get("available")]
        example = describe_options(others[0]["options"]) if others else ""
        ask = render("ask_variant", lang, item=item["name"],
                     options=describe_options(item["options"]), example=example)  # fmt: skip
        return turn.update(draft=ask, slots=slots, awaiting="variant")
    if not fits:
        available = "; ".join(
            f"{k}: {', '.join(vs)}" for k, vs in available_options(variants).items()
        )
        draft = render("no_variant", lang, item=item["name"], available=available or "-")
        return _fail(state, turn, draft, slots=slots, awaiting="variant")
    if len(fits) > 1:
        # Several fit: offered once, with their prices, for the customer to choose.
        choices = "\n".join(
            f"{n}. {describe_options(v['options'])} (${float(v['price']):.2f})"
            for n, v in enumerate(fits[:5], 1)
        )
        draft = render("choose_variant", lang, item=item["name"], choices=choices)
        slots["offered"] = [v["item_id"] for v in fits[:5]]
        return turn.update(draft=draft, slots=slots, awaiting="variant")
    variant = fits[0]
    target = (
        _refund_target(state, turn, order, _request_text(state), any_method=True)
        or _original_pm(order)
        or ""
    )
    diff = round(float(variant["price"]) - float(item["price"]), 2)
    turn.notes.append(f"price difference {diff:.2f} {abs(diff):.2f}")
    difference = _difference(turn, diff, target)
    old, new = describe_options(item["options"]), describe_options(variant["options"])
    args = {
        "order_id": order_id,
        "item_ids": [item["item_id"]],
        "new_item_ids": [variant["item_id"]],
        "payment_method_id": target,
    }
    if str(order["status"]).startswith("pending"):
        # Not shipped yet: the item is changed on the order itself, not exchanged after delivery.
        changes = f"{item['name']} ({old} -> {new})"
        summary = render("confirm_modify_items", lang, order_id=order_id, changes=changes,
                         difference=difference)  # fmt: skip
        return _ask_confirmation(state, turn, "modify_pending_order_items", args, summary, slots)
    summary = render("confirm_exchange", lang, item=item["name"], old=old, new=new,
                     order_id=order_id, difference=difference)  # fmt: skip
    return _ask_confirmation(state, turn, "exchange_delivered_order_items", args, summary, slots)


_ORDINALS: Final = (
    r"\b(first|1st|primer[oa]?|premier|premiere)\b|^\s*1\s*[.)]?\s*$",
    r"\b(second|2nd|segund[oa]|deuxieme|seconde?)\b|^\s*2\s*[.)]?\s*$",
    r"\b(third|3rd|tercer[oa]?|troisieme)\b|^\s*3\s*[.)]?\s*$",
    r"\b(fourth|4th|cuart[oa]|quatrieme)\b|^\s*4\s*[.)]?\s*$",
    r"\b(fifth|5th|quint[oa]|cinquieme)\b|^\s*5\s*[.)]?\s*$",
)


def _ordinal(text: str, offered: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The variant a customer picks by its place in the list offered: "the second one", "2"."""
    folded = fold(text)
    if re.search(r"\b(last|ultim[oa]|dernier|derniere)\b", folded):
        return offered[-1]
    found = [n for n, rx in enumerate(_ORDINALS) if n < len(offered) and re.search(rx, folded)]
    return offered[found[0]] if len(found) == 1 else None


def _change_order_address(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    said = [_last_user_text(state), *reversed(state.slots.get("said", []))]
    address = next((a for t in said if (a := parse_address(str(t)))), None) or slots.get("address")
    if address is None:
        # Ask the tools whether this order's address can change at all before asking for one.
        current = {k: str(v) for k, v in dict(order.get("address", {})).items()}
        probe = turn.call("modify_pending_order_address", {"order_id": order_id, **current})
        if current and not isinstance(probe.error, ConfirmationRequiredError):
            return _refused(state, turn, probe, slots={})
        return turn.update(draft=render("ask_address", lang, order_id=order_id), slots=slots,
                           awaiting="address")  # fmt: skip
    slots["address"] = address
    summary = render("confirm_address", lang, order_id=order_id, address=format_address(address))
    args = {"order_id": order_id, **address}
    return _ask_confirmation(state, turn, "modify_pending_order_address", args, summary, slots)


def _availability(state: State, turn: Turn) -> Update:
    lang = state.language
    text = _last_user_text(state)
    found = turn.value("search_products", {"query": text, "limit": 3}) or []
    if not found:
        return _done(turn, render("no_product", lang))
    product_id = found[0]["product_id"]
    product = turn.value("get_product_details", {"product_id": product_id}) or {}
    wanted = named_option_values(text, list(product.get("variants", {}).values()))
    result = turn.value("check_availability", {"product_id": product_id, "options": wanted}) or {}
    name = result.get("name", found[0]["name"])
    matching = render("matching", lang, options=describe_options(wanted)) if wanted else ""
    in_stock = result.get("in_stock", [])
    if not in_stock:
        return _done(turn, render("out_of_stock", lang, name=name, matching=matching))
    examples = "; ".join(
        f"{describe_options(v['options'])} (${v['price']:.2f})" for v in in_stock[:3]
    )
    return _done(turn, render("in_stock", lang, name=name, count=len(in_stock), matching=matching,
                              examples=examples))  # fmt: skip


_ACCOUNT_ADDRESS = re.compile(
    r"\b(default|my address|account|profile|moved|on file|home address|dirección de mi cuenta|"
    r"direccion de mi cuenta|me mudé|me mude|adresse de mon compte|j'ai déménagé|j'ai demenage)\b",
    re.IGNORECASE,
)


def _change_address(state: State, turn: Turn) -> Update:
    """An address change: the account's default address when the customer speaks of their
    address, profile or a move and names no order; else one order's shipping address."""
    text = _request_text(state)
    names_an_order = bool(state.slots.get("order_id")) or "order" in text.lower()
    if _ACCOUNT_ADDRESS.search(text) and not names_an_order:
        return _change_user_address(state, turn)
    return _about_an_order(_change_order_address)(state, turn)


def _change_user_address(state: State, turn: Turn) -> Update:
    lang = state.language
    slots = dict(state.slots)
    said = [_last_user_text(state), *reversed(state.slots.get("said", []))]
    address = next((a for t in said if (a := parse_address(str(t)))), None) or slots.get("address")
    if address is None:
        return turn.update(draft=render("ask_user_address", lang), slots=slots, awaiting="address")
    slots["address"] = address
    summary = render("confirm_user_address", lang, address=format_address(address))
    args = {"user_id": state.customer_id, **address}
    return _ask_confirmation(state, turn, "modify_user_address", args, summary, slots)


def _change_payment(state: State, turn: Turn, order: dict[str, Any]) -> Update:
    """Pay a pending order with another of the customer's payment methods."""
    lang = state.language
    order_id = order["order_id"]
    slots = {**state.slots, "order_id": order_id}
    methods = turn.payment_methods()
    current = _original_pm(order)
    text = _last_user_text(state) if state.awaiting == "payment" else _request_text(state)
    # "my gift card instead of the mastercard": the method after "instead of" is the one left.
    wanted = re.split(r"\b(?:instead of|rather than|not (?:on )?(?:the|my)|don'?t want it on)\b",
                      text, maxsplit=1, flags=re.IGNORECASE)[0]  # fmt: skip
    named = [p for p in named_payment_methods(wanted, methods) if p != current]
    if len(named) != 1:
        others = [turn.pm_words(pid) for pid in methods if pid != current]
        ask = render("ask_payment_method", lang, order_id=order_id, methods=", ".join(others))
        return turn.update(draft=ask, slots=slots, awaiting="payment")
    summary = render("confirm_payment_change", lang, order_id=order_id, pm=turn.pm_words(named[0]))
    args = {"order_id": order_id, "payment_method_id": named[0]}
    return _ask_confirmation(state, turn, "modify_pending_order_payment", args, summary, slots)


def _account_info(state: State, turn: Turn) -> Update:
    """A fact of the customer's own account: gift card balance, payment methods, the address on
    file, or an order's total, an item's price, what a return would refund, its contents."""
    lang = state.language
    kind = info_kind(_request_text(state))
    methods = turn.payment_methods()
    if kind == "balance":
        cards = [pm for pm in methods.values() if pm["source"] == "gift_card"]
        if not cards:
            return _done(turn, render("info_no_gift_card", lang))
        balances = " ".join(
            render("info_balance", lang, balance=f"{float(c.get('balance', 0)):.2f}") for c in cards
        )
        return _done(turn, balances)
    if kind == "methods":
        listed = ", ".join(turn.pm_words(pid) for pid in methods)
        return _done(turn, render("info_methods", lang, methods=listed or "-"))
    if kind == "address":
        address = format_address(turn.user().get("address", {}))
        return _done(turn, render("info_address", lang, address=address))
    order, asked = _order(state, turn)
    if asked is not None:
        return asked
    assert order is not None
    order_id = order["order_id"]
    named = _chosen_items(_request_text(state), order["items"])
    if kind == "total":
        paid = [t for t in order.get("payment_history", []) if t["transaction_type"] == "payment"]
        total = sum(float(t["amount"]) for t in paid)
        turn.notes.append(f"order total {total:.2f}")
        pm = turn.pm_words(paid[0]["payment_method_id"] if paid else None)
        return _done(
            turn, render("info_total", lang, order_id=order_id, total=f"{total:.2f}", pm=pm)
        )
    if kind == "price" and named:
        prices = ", ".join(f"${float(i['price']):.2f} for the {i['name']}" for i in named)
        return _done(turn, render("info_price", lang, order_id=order_id, prices=prices))
    if kind == "refund_estimate" and named:
        amount = sum(float(i["price"]) for i in named)
        turn.notes.append(f"refund total {amount:.2f}")
        cards = [pid for pid, pm in methods.items() if pm["source"] == "gift_card"]
        gift = render("or_gift_card", lang, gift=turn.pm_words(cards[0])) if cards else ""
        return _done(turn, render("info_refund_estimate", lang, items=_item_lines(named),
                                  order_id=order_id, amount=f"{amount:.2f}",
                                  original=turn.pm_words(_original_pm(order)), gift=gift))  # fmt: skip
    items = "; ".join(
        f"{line} (${float(i['price']):.2f})"
        for i, line in zip(order["items"], _item_lines(order["items"]).split("; "), strict=True)
    )
    return _done(turn, render("info_contents", lang, order_id=order_id, status=order["status"],
                              items=items))  # fmt: skip


OrderFlow = Callable[[State, Turn, dict[str, Any]], Update]


def _about_an_order(flow: OrderFlow) -> Callable[[State, Turn], Update]:
    """A goal about one order: the order the customer means is looked up first (or asked for, or
    refused when not theirs), then ``flow`` runs with its details."""

    def run(state: State, turn: Turn) -> Update:
        order, asked = _order(state, turn)
        if asked is not None:
            return asked
        assert order is not None
        slots = {k: v for k, v in state.slots.items() if k != "order_candidates"}
        return flow(replace(state, slots={**slots, "order_id": order["order_id"]}), turn, order)

    return run


_FLOWS: dict[str, Callable[[State, Turn], Update]] = {
    "track_order": _about_an_order(_track),
    "refund_status": _about_an_order(_refund_status),
    "cancel_order": _about_an_order(_cancel),
    "return_item": _about_an_order(_return),
    "exchange_item": _about_an_order(_exchange),
    "change_address": _change_address,
    "availability": _availability,
    "account_info": _account_info,
    "change_payment": _about_an_order(_change_payment),
}


def _brief(turn: Turn, value: Any) -> str:
    """A read's result in plain words: what the customer would want to hear of it, without ids
    or field names."""
    lang = turn.state.language
    if isinstance(value, dict) and {"order_id", "status", "items"} <= value.keys():
        text = render("order_status", lang, order_id=value["order_id"], status=value["status"])
        items = _item_lines(value["items"])
        return text + (render("order_items", lang, items=items) if items else "")
    if isinstance(value, dict) and "payment_methods" in value and "name" in value:
        name = value["name"].get("first_name", "") if isinstance(value["name"], dict) else ""
        return render("account_found", lang, name=name, orders=len(value.get("orders", [])))
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        names = ", ".join(str(v["name"]) for v in value[:5])
        return render("products_found", lang, names=names or "-")
    if isinstance(value, dict) and "name" in value:
        return render("products_found", lang, names=str(value["name"]))
    if isinstance(value, str | int | float):
        return render("found", lang, summary=str(value))
    return render("found", lang, summary="-")


def _item_lines(items: list[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{i['name']} ({describe_options(i.get('options', {}))})" if i.get("options") else i["name"]
        for i in items
    )


def _difference(turn: Turn, diff: float, pm_id: str | None) -> str:
    """What a price difference means for the customer, in words: paid, refunded or nothing."""
    lang = turn.state.language
    if abs(diff) < 0.005:
        return render("diff_none", lang)
    key = "diff_pay" if diff > 0 else "diff_refund"
    return render(key, lang, amount=f"{abs(diff):.2f}", pm=turn.pm_words(pm_id))


def _describe_write(state: State, turn: Turn, tool: str, arguments: Mapping[str, Any]) -> str:
    """The confirmation question for a write someone else worded (the LLM planner, a staff member's
    edit), in the same plain words as the flows' own: items by name, payment methods as the
    customer knows them, no ids."""
    lang = state.language
    order_id = str(arguments.get("order_id", ""))
    if tool == "modify_user_address":
        return render("confirm_user_address", lang, address=format_address(arguments))
    if tool == "modify_pending_order_address":
        return render("confirm_address", lang, order_id=order_id, address=format_address(arguments))
    order = turn.value("get_order_details", {"order_id": order_id}) if order_id else None
    if not isinstance(order, dict):
        return render("confirm_change", lang, order_id=order_id)
    items = {i["item_id"]: i for i in order["items"]}
    named = [items[i] for i in arguments.get("item_ids", []) if i in items]
    pm = turn.pm_words(arguments.get("payment_method_id"))
    if tool == "cancel_pending_order":
        names = ", ".join(i["name"] for i in order["items"])
        reason = str(arguments.get("reason", ""))
        return render("confirm_cancel", lang, order_id=order_id, items=names, reason=reason)
    if tool == "return_delivered_order_items":
        amount = sum(float(i["price"]) for i in named)
        return render("confirm_return", lang, items=_item_lines(named), order_id=order_id,
                      amount=f"{amount:.2f}", pm=pm)  # fmt: skip
    if tool == "modify_pending_order_payment":
        return render("confirm_payment_change", lang, order_id=order_id, pm=pm)
    if tool in ("exchange_delivered_order_items", "modify_pending_order_items"):
        pairs = []
        for old, new_id in zip(named, arguments.get("new_item_ids", []), strict=False):
            product = turn.value("get_product_details", {"product_id": old["product_id"]}) or {}
            variant = product.get("variants", {}).get(new_id)
            if variant is None:
                return render("confirm_change", lang, order_id=order_id)
            pairs.append((old, variant))
        diff = round(sum(float(v["price"]) - float(o["price"]) for o, v in pairs), 2)
        turn.notes.append(f"price difference {diff:.2f} {abs(diff):.2f}")
        difference = _difference(turn, diff, arguments.get("payment_method_id"))
        if tool == "exchange_delivered_order_items" and len(pairs) == 1:
            ((old, variant),) = pairs
            return render("confirm_exchange", lang, item=old["name"],
                          old=describe_options(old["options"]),
                          new=describe_options(variant["options"]), order_id=order_id,
                          difference=difference)  # fmt: skip
        changes = "; ".join(
            f"{o['name']} ({describe_options(o['options'])} -> {describe_options(v['options'])})"
            for o, v in pairs
        )
        return render("confirm_modify_items", lang, order_id=order_id, changes=changes,
                      difference=difference)  # fmt: skip
    return render("confirm_change", lang, order_id=order_id)


def _planned(state: State, turn: Turn, plan: dict[str, Any]) -> Update:
    """Carry out an LLM's validated plan: reads run, writes are put to the customer to confirm."""
    lang = state.language
    slots = {k: v for k, v in state.slots.items() if k != "plan"}
    if plan["action"] == "reply":
        return turn.update(
            slots=slots, draft=render("rephrase", lang), llm_draft=plan["reply"] or ""
        )
    tool, arguments = str(plan["tool"]), dict(plan["arguments"])
    from tools.registry import spec

    if spec(tool).kind == "write":
        summary = _describe_write(state, turn, tool, arguments)
        return _ask_confirmation(state, turn, tool, arguments, summary, slots)
    outcome = turn.call(tool, arguments)
    if not outcome.ok:
        return _refused(state, turn, outcome, slots=slots)
    return turn.update(slots=slots, draft=_brief(turn, outcome.value))


# -------------------------------------------------------------------------------------- escalate


def escalate(state: State, runtime: Runtime[Context]) -> Update:
    """Hand the conversation to a human: transfer tool + ticket carrying everything they need."""
    ctx = runtime.context
    turn = Turn(state, resolve(ctx))
    reasons = list(state.escalation_reasons) or ["unspecified"]
    u = state.understanding
    mentioned = {
        str(c["arguments"]["order_id"])
        for c in turn.calls
        if c["ok"] and "order_id" in c["arguments"]
    }
    if state.slots.get("order_id"):
        mentioned.add(str(state.slots["order_id"]))
    orders = []
    for order_id in sorted(mentioned):
        # Only the verified customer's own orders travel with the ticket.
        view = (
            turn.value("get_order_details", {"order_id": order_id}) if state.customer_id else None
        )
        if view is not None:
            orders.append(view)
    classification = dict(u) if u is not None else {}
    summary = (
        f"Escalated ({', '.join(reasons)}). Goal: {state.goal or 'none'}. "
        f"Intent: {classification.get('intent', '?')} ({classification.get('confidence', 0):.2f}), "
        f"severity {classification.get('severity_level', '?')}, "
        f"sentiment {classification.get('sentiment', '?')}. "
        f"Customer: {state.customer_id or 'not verified'}. "
        f"Orders: {', '.join(o['order_id'] for o in orders) or 'none'}."
    )
    outcome = turn.call("transfer_to_human_agents", {"summary": summary})
    if not outcome.ok:
        return turn.update(draft=render("escalation_failed", state.language))
    ticket_id = int(outcome.value["ticket_id"])
    transcript = [
        {
            "role": "customer" if isinstance(m, HumanMessage) else (m.name or "agent"),
            "text": _text(m),
        }
        for m in state.messages
    ]
    handoff = {
        "ticket_id": ticket_id,
        "summary": summary,
        "history_summary": state.summary,
        "transcript": transcript,
        "customer_id": state.customer_id,
        "orders": orders,
        "classification": classification,
        "reasons": reasons,
        "language": state.language,
    }
    log.info("escalated to ticket %s: %s", ticket_id, ", ".join(reasons))
    return turn.update(
        mode="handed_off",
        escalation={
            "reasons": reasons,
            "ticket_id": ticket_id,
            "summary": summary,
            "handoff": handoff,
        },
        escalation_reasons=reasons,
        draft=render("escalated", state.language, ticket_id=ticket_id),
        pending=None,
        awaiting=None,
    )


# ----------------------------------------------------------------------------- respond and guard


def _evidence(state: State) -> list[str]:
    return [
        *(c["result"] for c in state.tool_calls),
        *(json.dumps(c["arguments"]) for c in state.tool_calls),
        *(p["text"] for p in state.passages),
        *(p["ref"] for p in state.passages),
        *state.notes,
        _last_user_text(state),
        state.customer_id or "",
    ]


def respond(state: State, runtime: Runtime[Context]) -> Update:
    """With an LLM, rewrite the templated draft in the customer's language.

    The writer runs where the draft reports something (an order's status, a refund, stock, a policy,
    a tool's answer). It is skipped where it can add nothing: a draft that asks the customer for
    something (to rephrase, a missing detail, their identity, a yes or no to a write) or tells them
    a human takes over is a fixed template, written out in each language the agent speaks, so a
    rewrite could only change what is asked, and for a confirmation what the customer agrees to.
    A rewrite that drops the draft's order number (which of their orders the answer is about) is not
    used either: the draft is sent."""
    llm = resolve(runtime.context).llm
    if llm is None or state.route == "silent" or not state.draft or state.llm_draft:
        return {"llm_used": bool(state.llm_draft)}
    if _asks_or_hands_off(state):
        return {}
    started = time.perf_counter()
    written = llm.write(state.draft, state.language)
    log.info("writer took %.0f ms", (time.perf_counter() - started) * 1000)
    if written is None:
        return {"llm_failures": state.llm_failures + 1}
    if not order_ids(state.draft) <= order_ids(written):
        log.warning("the rewrite dropped an order number: the draft is sent")
        return {}
    return {"llm_draft": written, "llm_used": True}


def _asks_or_hands_off(state: State) -> bool:
    """Whether the turn ends on a templated question or handoff notice (see ``respond``)."""
    return (
        state.route == "clarify"
        or state.awaiting is not None
        or state.pending is not None
        or state.mode == "handed_off"
    )


def guard(state: State, runtime: Runtime[Context]) -> Update:
    """Send only what the evidence supports: an ungrounded draft is replaced by the templated one."""
    if state.route == "silent":
        return {}
    candidate = state.llm_draft or state.draft
    evidence = [*_evidence(state), state.draft]
    check = check_grounding(candidate, evidence)
    update: Update = {"grounded": check.ok}
    if not check.ok:
        log.warning("ungrounded reply replaced: %s", ", ".join(check.unsupported))
        update["ungrounded_replies"] = state.ungrounded_replies + 1
        fallback = state.draft if check_grounding(state.draft, evidence).ok else ""
        candidate = fallback or render("safe_fallback", state.language)
        if not fallback:
            update["cited"] = []  # the quoted passage is not what is sent
    same = bool(candidate) and candidate == state.last_reply and state.mode != "handed_off"
    update["last_reply"] = candidate
    update["repeats"] = state.repeats + 1 if same else 0
    if same:
        candidate = render("said_again", state.language) + candidate
    update["reply"] = candidate
    update["messages"] = [AIMessage(candidate, name="concierge")]
    return update
