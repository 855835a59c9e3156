"""tau2-style simulation: a simulated customer, played by an OpenAI-compatible chat model from a
tau2-bench retail task's user scenario, talks to our agent on a fresh copy of the tau2 shop; the
episode is scored as tau2 scores retail.

- **DB**: the task's expected actions are replayed on another fresh copy of the shop (a perfect agent),
  and the two end states (every product, user and order, in the ``db.json`` shape) must be equal.
- **communicate_info**: every string the task lists must appear in one of the agent's messages
  (case-insensitive, commas removed, as tau2 checks).

An episode's reward is 1 when both hold. Over ``k`` trials of each task, ``pass^k`` is the chance that
all of ``k`` trials drawn from the ``n`` run succeed (tau2's unbiased estimate, averaged over tasks).

The 8 adversarial tasks have no expected action: the shop must end unchanged. Their natural-language
assertions ("should offer to escalate") are reported beside the result, not judged: a small local
model is no judge of them. Whether the agent escalated is recorded.

Our shop pauses returns and exchanges over ``risky_amount`` for a human's approval, a rule tau2's
policy does not have; the simulation approves each such pause, as the staff following tau2's policy
would, and counts them.

The simulated customer errs too: each failed episode is put down to the agent or to the customer
(``evals.tau2_faults``), and the report counts them, so the figure says what it measures.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from agent.llm import LLM
    from classifiers import Classifier
    from tools.settings import Settings

Split = Literal["test", "train", "all"]

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
"""tau2's markers a simulated user ends the chat with: its goal met, handed to a person, or its
scenario gives it nothing more to say."""
GREETING = "Hi! How can I help you today?"
"""The agent's opening line, shown to the simulated customer only (tau2 opens the same way)."""

STUCK_AFTER = 3


def stuck(agent_messages: Sequence[str]) -> bool:
    """Whether the agent said the same thing ``STUCK_AFTER`` times running: a customer would give
    up, and the run stops spending minutes on a loop."""
    return len(agent_messages) >= STUCK_AFTER and len(set(agent_messages[-STUCK_AFTER:])) == 1


"""An episode ends when the agent sends the same message this many times in a row: a customer asked
the same question a third time would give up (and the run spends its time on conversations that
can still move)."""

LOCAL_CUSTOMER = "1.5b"
"""The packaged model that plays the customer by default. The 0.5B one cannot: asked to be the
customer, it writes as the shop's assistant ("How can I assist you today?") nearly every time."""

# What the published leaderboards report for frontier models on tau2-bench retail (rounded).
PUBLISHED_FRONTIER = {"pass^1": 0.80, "pass^4": 0.52}


class Tau2TaskError(ValueError):
    """A tau2 task file that is missing or not in the expected shape."""


@dataclass(frozen=True)
class Task:
    """One tau2 retail task, reduced to what the simulation needs."""

    id: str
    split: str
    """``train``, ``test`` or ``adversarial``."""
    reason_for_call: str
    known_info: str
    unknown_info: str
    task_instructions: str
    persona: str
    actions: list[dict[str, Any]]
    communicate_info: list[str]
    nl_assertions: list[str]
    purpose: str = ""


def _task(raw: dict[str, Any], split: str, where: str) -> Task:
    try:
        scenario = raw["user_scenario"]
        instructions = scenario["instructions"]
        criteria = raw["evaluation_criteria"]
        return Task(
            id=str(raw["id"]),
            split=split,
            reason_for_call=instructions.get("reason_for_call") or "",
            known_info=instructions.get("known_info") or "",
            unknown_info=instructions.get("unknown_info") or "",
            task_instructions=instructions.get("task_instructions") or "",
            persona=scenario.get("persona") or "",
            actions=[
                {"name": a["name"], "arguments": dict(a.get("arguments") or {})}
                for a in criteria.get("actions") or []
            ],
            communicate_info=[str(i) for i in criteria.get("communicate_info") or []],
            nl_assertions=[str(a) for a in criteria.get("nl_assertions") or []],
            purpose=(raw.get("description") or {}).get("purpose") or "",
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise Tau2TaskError(f"{where}: task {raw.get('id')!r} lacks {e}") from e


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise Tau2TaskError(
            f"{path} not found: set CONCIERGE_TAU2_DIR to the tau2-bench retail folder"
        ) from None
    except json.JSONDecodeError as e:
        raise Tau2TaskError(f"{path}: not JSON ({e})") from e


def load_tasks(tau2_dir: Path, split: Split = "test", *, adversarial: bool = True) -> list[Task]:
    """The tasks of ``split`` (tau2's official split; ``all`` is the 114), then the adversarial ones."""
    if split not in ("test", "train", "all"):
        raise Tau2TaskError(f"unknown split {split!r}: use test, train or all")
    tasks_path = tau2_dir / "tasks.json"
    by_id = {str(t["id"]): t for t in _read_json(tasks_path)}
    splits = _read_json(tau2_dir / "split_tasks.json")
    chosen: list[Task] = []
    names = ("train", "test") if split == "all" else (split,)
    for name in names:
        for task_id in splits[name]:
            if str(task_id) not in by_id:
                raise Tau2TaskError(
                    f"split_tasks.json names task {task_id!r}, absent from tasks.json"
                )
            chosen.append(_task(by_id[str(task_id)], name, str(tasks_path)))
    if split == "all":
        chosen.sort(key=lambda t: int(t.id) if t.id.isdigit() else 0)
    if adversarial:
        path = tau2_dir / "tasks_adversarial.json"
        chosen += [_task(raw, "adversarial", str(path)) for raw in _read_json(path)]
    return chosen


# --- the simulated customer -------------------------------------------------------------------------

USER_PROMPT = """You play a customer who writes to an online shop's support chat. Speak as the \
customer, in the first person, one message at a time, in one or two short sentences. You are not \
the agent: never offer help, never ask the agent what it needs.

Your situation (for you alone: never mention it, and never copy its wording except words it tells \
you to say; say what you need in your own words, as a customer would):
- Why you write: {reason}
- What you know: {known}
- What you don't know: {unknown}
{behaviour}
Rules:
- Keep to your situation. What it does not tell you, you do not know: if the agent asks for it, \
say you don't know. Never invent a name, zip code, e-mail, order number or item.
- Tell things bit by bit: give a detail only when the agent asks for it. To verify you, the agent \
asks for your e-mail, or for your first name, last name and zip code.
- Say yes when the agent describes exactly what you want; otherwise say what you want instead.
- Go on until everything you came for is settled. The agent saying it cannot do something ends \
nothing while your situation tells you what to ask next.
- Set done when everything you came for is settled, when the agent hands you to a person, or when \
your situation leaves you nothing to say next. (Writing plain text, end it with {stop} for the \
first, {transfer} for the second, {out_of_scope} for the third.)"""


def _said(text: str) -> str:
    """A scenario field, or nothing for an empty one (some tasks' instructions are just ".")."""
    return text.strip() if re.search(r"\w", text) else ""


def user_prompt(task: Task) -> str:
    """The simulated customer's instructions for ``task``. Its rules are tau2-bench's for its
    simulated user, in our words: keep to the scenario, invent nothing, never repeat the scenario's
    wording, one detail at a time when asked, and the end markers for done, transfer and out of
    scope. Ours adds how the agent verifies a customer and the reminder not to act as the agent,
    which the small local models need."""
    behaviour = "".join(
        f"- {label}: {text}\n"
        for label, text in (
            ("Who you are", _said(task.persona)),
            ("How you go about it", _said(task.task_instructions)),
        )
        if text
    )
    return USER_PROMPT.format(
        reason=task.reason_for_call.strip(),
        known=_said(task.known_info) or "(nothing else)",
        unknown=_said(task.unknown_info) or "(nothing in particular)",
        behaviour=behaviour,
        stop=STOP,
        transfer=TRANSFER,
        out_of_scope=OUT_OF_SCOPE,
    )


class CustomerTurn(BaseModel):
    """The customer's next message to the support agent."""

    message: str = Field(
        description="What the customer writes next, in the customer's own words (first person)."
    )
    done: bool = Field(
        description="True only when everything the customer came for is settled, or the agent "
        "handed the chat to a human, or the customer's situation leaves nothing more to say."
    )


_SPEAKER = re.compile(r"^\s*(customer|user|me|you)\s*:\s*", re.IGNORECASE)
_OTHER_SPEAKER = re.compile(r"^\s*(agent|assistant|support|concierge)\s*:", re.IGNORECASE)


def clean_customer_text(text: str) -> tuple[str, bool]:
    """The customer's message in a model's output, and whether the customer ended the chat.

    Small models prefix a speaker ("Customer: ...") or go on to write the agent's side too; the message
    is what comes before the agent's first line. Any of tau2's markers (``###STOP###``,
    ``###TRANSFER###``, ``###OUT-OF-SCOPE###``) ends the chat."""
    markers = (STOP, TRANSFER, OUT_OF_SCOPE)
    stop = any(m in text for m in markers)
    for marker in markers:
        text = text.split(marker)[0]
    kept: list[str] = []
    for line in text.strip().splitlines():
        if _OTHER_SPEAKER.match(line):
            break
        kept.append(_SPEAKER.sub("", line).strip())
    message = " ".join(x for x in kept if x).strip().strip('"').strip()
    return message[:600], stop


_REQUEST = re.compile(
    r"\?|yes/no|\bplease (give|tell|confirm|send|provide|choose|pick|let me know|share)\b",
    re.IGNORECASE,
)


def asks_something(agent_message: str) -> bool:
    """Whether the agent's message waits for an answer (a question, a request for a detail, a yes/no
    confirmation)."""
    return bool(_REQUEST.search(agent_message))


@dataclass
class TokenCount:
    input: int = 0
    output: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.input += int(usage.get("input_tokens") or 0)
            self.output += int(usage.get("output_tokens") or 0)


def _with_knobs(chat_model: BaseChatModel, **knobs: Any) -> BaseChatModel:
    """A copy of ``chat_model`` with the sampling knobs it has (seed, temperature, max_tokens) set."""
    fields = type(chat_model).model_fields
    return chat_model.model_copy(update={k: v for k, v in knobs.items() if k in fields})


class SimulatedCustomer:
    """A customer played by a chat model; the agent's messages are its "user" turns.

    The model answers through a forced function call (``message``, ``done``): the packaged small
    models keep the customer's role far better that way than in free text, where they drift into
    playing the agent. A reply that is not a valid call is read as free text instead."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        task: Task,
        *,
        seed: int,
        temperature: float = 0.7,
        max_tokens: int = 120,
    ) -> None:
        from langchain_core.messages import AnyMessage, SystemMessage

        self._chat = _with_knobs(
            chat_model, seed=seed, temperature=temperature, max_tokens=max_tokens
        )
        self._turn = self._chat.with_structured_output(
            CustomerTurn, method="function_calling", include_raw=True
        )
        self._messages: list[AnyMessage] = [SystemMessage(user_prompt(task))]
        self.tokens = TokenCount()
        self.seconds = 0.0
        self.retries = 0
        """Replies asked for again because they were in the agent's voice."""

    def _ask(self, messages: list[Any]) -> tuple[str, bool]:
        from langchain_core.messages import AIMessage

        out = self._turn.invoke(messages)
        raw, parsed = (out.get("raw"), out.get("parsed")) if isinstance(out, dict) else (None, out)
        if isinstance(raw, AIMessage):
            self.tokens.add(dict(raw.usage_metadata) if raw.usage_metadata else None)
        if isinstance(parsed, CustomerTurn):
            message, done = clean_customer_text(parsed.message)
            return message, done or parsed.done
        text = raw.content if isinstance(raw, AIMessage) else ""
        return clean_customer_text(text if isinstance(text, str) else "")

    def respond(self, agent_message: str) -> tuple[str, bool]:
        """The customer's answer to ``agent_message``, and whether they ended the chat. A customer
        does not end the chat while the agent waits for an answer.

        A reply in the agent's voice (an echo of the agent, or "how can I help you?") is asked for
        once more with a reminder of the role."""
        from langchain_core.messages import AIMessage, HumanMessage

        self._messages.append(HumanMessage(f"Agent: {agent_message or '(no answer)'}"))
        started = time.perf_counter()
        message, done = self._ask(self._messages)
        if plays_the_agent(message, agent_message):
            self.retries += 1
            message, done = self._ask([*self._messages, HumanMessage(ROLE_REMINDER)])
        self.seconds += time.perf_counter() - started
        if done and asks_something(agent_message) and message:
            done = False
        self._messages.append(AIMessage(message or STOP))
        return message, done


ROLE_REMINDER = (
    "(You are the customer, not the agent. Write the customer's next message: say what you want, "
    "or answer the agent's question.)"
)
_AGENT_VOICE = re.compile(
    r"how (can|may) i (help|assist) you|what can i (do|help) (for|with)|as a customer writing",
    re.IGNORECASE,
)


def plays_the_agent(message: str, agent_message: str) -> bool:
    """Whether the simulated customer's ``message`` is in the agent's voice: it repeats the agent's
    message, or offers help."""
    if not message:
        return False
    words = set(re.findall(r"\w+", message.lower()))
    theirs = set(re.findall(r"\w+", agent_message.lower()))
    echo = bool(words) and len(words & theirs) / len(words) > 0.8 and len(words) > 3
    return echo or bool(_AGENT_VOICE.search(message))


# --- scoring ----------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return text.lower().replace(",", "")


def communicated(info: str, agent_messages: Sequence[str]) -> bool:
    """Whether an agent message says ``info`` (tau2's check: case-insensitive, commas removed)."""
    return any(_norm(info) in _norm(m) for m in agent_messages)


def state_diff(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Which records differ between two exported shops (``orders/#W..``, ``users/..``)."""
    diff = []
    for table in ("products", "users", "orders"):
        a, e = actual.get(table, {}), expected.get(table, {})
        diff += [f"{table}/{key}" for key in sorted(set(a) | set(e)) if a.get(key) != e.get(key)]
    return diff


def pass_hat_k(runs: Sequence[tuple[int, int]], k: int) -> float | None:
    """tau2's pass^k: the mean over tasks of C(c, k) / C(n, k), for a task's ``(n, c)``: c successes
    in n trials. Tasks with fewer than k trials (an interrupted run) are left out; None if all are."""
    counted = [(n, c) for n, c in runs if n >= k]
    if not counted:
        return None
    return sum(math.comb(c, k) / math.comb(n, k) for n, c in counted) / len(counted)


# --- episodes ---------------------------------------------------------------------------------------


@dataclass
class Episode:
    task: str
    split: str
    trial: int
    reward: float
    db_match: bool
    communicate: dict[str, bool]
    ended: str
    """``customer`` (the simulated customer stopped), ``handoff`` (our agent handed off),
    ``stuck`` (the agent said the same thing ``STUCK_AFTER`` times running), ``max_turns`` or
    ``error``."""
    turns: int
    escalated: bool
    approvals: int
    diff: list[str]
    tool_calls: list[dict[str, Any]]
    transcript: list[dict[str, str]]
    user_tokens: dict[str, int]
    agent_tokens: dict[str, int]
    user_seconds: float
    agent_seconds: float
    seconds: float
    error: str | None = None
    nl_assertions: list[str] = field(default_factory=list)
    fault: dict[str, str] | None = None
    """A failed episode's fault (``evals.tau2_faults``): ``side`` (``agent``, ``customer`` or
    ``unclear``), ``reason`` and ``detail``; None for one that passed."""


class _Expected:
    """The end state of each task's expected actions on a fresh shop (replayed once per task)."""

    def __init__(self, new_store: Callable[[str], Any]) -> None:
        self._new_store = new_store
        self._states: dict[str, dict[str, Any]] = {}

    def __call__(self, task: Task) -> dict[str, Any]:
        from tools.tau2 import export_tau2, replay_actions

        if task.id not in self._states:
            store = self._new_store(f"expected-{task.id}")
            try:
                replay_actions(store, task.actions)
                self._states[task.id] = export_tau2(store)
            finally:
                store.dispose()
        return self._states[task.id]


@contextmanager
def _agent_usage(llm: LLM | None) -> Iterator[TokenCount]:
    """Count the agent model's tokens while the generator is open (none without a model)."""
    tokens = TokenCount()
    if llm is None:
        yield tokens
        return
    from langchain_core.callbacks import UsageMetadataCallbackHandler

    handler = UsageMetadataCallbackHandler()
    previous = llm.chat_model.callbacks
    llm.chat_model.callbacks = [handler]
    try:
        yield tokens
    finally:
        llm.chat_model.callbacks = previous
        for usage in handler.usage_metadata.values():
            tokens.add(dict(usage))


def play_episode(
    task: Task,
    trial: int,
    *,
    store: Any,
    expected: dict[str, Any],
    agent_factory: Callable[[Any, str], Any],
    user_model: BaseChatModel,
    llm: LLM | None,
    max_turns: int = 12,
    seed: int = 0,
    temperature: float = 0.7,
) -> Episode:
    """One conversation between the simulated customer of ``task`` and the agent on ``store``; a
    failed one carries its fault (:func:`evals.tau2_faults.classify`)."""
    from evals.tau2_faults import classify
    from tools.tau2 import export_tau2

    started = time.perf_counter()
    customer = SimulatedCustomer(user_model, task, seed=seed, temperature=temperature)
    thread = f"tau2-{task.id}-{trial}"
    transcript = [{"role": "agent", "text": GREETING}]
    agent_messages: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    ended, error, escalated, approvals, agent_seconds = "max_turns", None, False, 0, 0.0
    agent_tokens = TokenCount()
    try:
        with _agent_usage(llm) as agent_tokens, agent_factory(store, thread) as agent:
            said = GREETING
            for _ in range(max_turns):
                message, done = customer.respond(said)
                if done or not message:
                    # As in tau2, the customer's closing words are not sent.
                    ended = "customer"
                    break
                transcript.append({"role": "customer", "text": message})
                t0 = time.perf_counter()
                result = agent.send(thread, message)
                while result.awaiting_approval is not None:
                    approvals += 1
                    result = agent.resume(thread, {"action": "approve"})
                agent_seconds += time.perf_counter() - t0
                said = result.reply
                transcript.append({"role": "agent", "text": said})
                agent_messages.append(said)
                tool_calls += [
                    {"name": c["name"], "arguments": c["arguments"], "ok": c["ok"]}
                    for c in result.tool_calls
                ]
                escalated = escalated or result.escalated or result.handed_off
                if result.escalated or result.handed_off:
                    ended = "handoff"
                    break
                if stuck(agent_messages):
                    ended = "stuck"
                    break
    except Exception as e:  # one broken episode is a failed episode, not a lost run
        ended, error = "error", f"{type(e).__name__}: {e}"
    turns = sum(t["role"] == "customer" for t in transcript)
    actual = export_tau2(store)
    diff = state_diff(actual, expected)
    told = {info: communicated(info, agent_messages) for info in task.communicate_info}
    ok = not diff and all(told.values()) and error is None
    episode = Episode(
        task=task.id,
        split=task.split,
        trial=trial,
        reward=1.0 if ok else 0.0,
        db_match=not diff,
        communicate=told,
        ended=ended,
        turns=turns,
        escalated=escalated,
        approvals=approvals,
        diff=diff[:20],
        tool_calls=tool_calls,
        transcript=transcript,
        user_tokens=asdict(customer.tokens),
        agent_tokens=asdict(agent_tokens),
        user_seconds=round(customer.seconds, 3),
        agent_seconds=round(agent_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
        error=error,
        nl_assertions=task.nl_assertions if task.split == "adversarial" else [],
    )
    fault = classify(episode, task)
    episode.fault = fault._asdict() if fault is not None else None
    return episode


def summarise(episodes: Sequence[Episode], trials: int) -> dict[str, Any]:
    """Per split: pass^1..pass^k, DB and communicate rates, failed episodes by the side at fault,
    turns, cost in tokens and time."""
    from evals.tau2_faults import sides

    out: dict[str, Any] = {}
    for split in sorted({e.split for e in episodes}):
        group = [e for e in episodes if e.split == split]
        by_task: dict[str, list[Episode]] = {}
        for e in group:
            by_task.setdefault(e.task, []).append(e)
        runs = {t: (len(es), sum(int(e.reward) for e in es)) for t, es in by_task.items()}
        n = len(group)
        infos = [v for e in group for v in e.communicate.values()]
        out[split] = {
            "tasks": len(by_task),
            "episodes": n,
            **{
                f"pass^{k}": _round(pass_hat_k(list(runs.values()), k))
                for k in range(1, trials + 1)
            },
            "db_match_rate": _round(sum(e.db_match for e in group) / n),
            "communicate_rate": _round(sum(infos) / len(infos)) if infos else None,
            "escalation_rate": _round(sum(e.escalated for e in group) / n),
            "ended": {
                reason: sum(e.ended == reason for e in group)
                for reason in ("customer", "handoff", "stuck", "max_turns", "error")
            },
            "failed_by": sides(group),
            "approvals": sum(e.approvals for e in group),
            "mean_turns": _round(sum(e.turns for e in group) / n),
            "mean_seconds": _round(sum(e.seconds for e in group) / n),
            "mean_agent_seconds_per_turn": _round(
                sum(e.agent_seconds for e in group) / max(1, sum(e.turns for e in group))
            ),
            "user_tokens": {
                "input": sum(e.user_tokens["input"] for e in group),
                "output": sum(e.user_tokens["output"] for e in group),
            },
            "agent_tokens": {
                "input": sum(e.agent_tokens["input"] for e in group),
                "output": sum(e.agent_tokens["output"] for e in group),
            },
        }
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Models:
    """The simulated customer's model and the agent's (None: templates), with what to close."""

    user: BaseChatModel
    user_name: str
    agent: LLM | None
    stack: ExitStack


CUSTOMER_TIMEOUT_S: Final = 300.0
"""How long the simulated customer's model may take for one message."""


@contextmanager
def open_models(
    settings: Settings, *, user: str, agent: str, user_model: str | None
) -> Iterator[Models]:
    """The customer's model (``local``: the embedded llama.cpp server, ``openai``: the configured
    endpoint) and the agent's LLM; one local server serves both when both are local."""
    from agent.llm import make_llm, openai_chat_model
    from agent.local_llm import LocalLLMServer, LocalServerError, model_path

    if user not in ("local", "openai"):
        raise ValueError(f"unknown user model {user!r}: use local or openai")
    if agent not in ("none", "local", "openai"):
        raise ValueError(f"unknown agent LLM mode {agent!r}: use none, local or openai")
    if user == "local":
        key = user_model or LOCAL_CUSTOMER
        settings = settings.model_copy(update={"llm_local_model": key})
        if not model_path(key, settings).is_file():
            raise LocalServerError(
                f"the {key} model is not assembled yet: run `concierge llm fetch --model {key}`"
            )
    # The simulated customer may take its time: on a busy 2-core machine its first message took
    # over 20 s, and a timeout there would end the episode as an error that says nothing of the agent.
    patient = settings.model_copy(
        update={"llm_timeout_s": max(settings.llm_timeout_s, CUSTOMER_TIMEOUT_S)}
    )
    with ExitStack() as stack:
        if user == "local":
            server = stack.enter_context(LocalLLMServer(settings).start())
            chat = openai_chat_model(patient, base_url=server.base_url, model=server.model_name)
            name = f"local {server.model_name}"
            # The agent's local LLM talks to the same server rather than starting a second one
            # (through its own client: its token count must not pick up the customer's).
            own = openai_chat_model(settings, base_url=server.base_url, model=server.model_name)
            agent_llm = make_llm(agent, settings, chat_model=own if agent == "local" else None)
        else:
            chat = openai_chat_model(patient, model=user_model)
            name = f"openai {user_model or settings.llm_model}"
            agent_llm = make_llm(agent, settings)
        if agent_llm is not None:
            stack.callback(agent_llm.close)
        yield Models(user=chat, user_name=name, agent=agent_llm, stack=stack)


def run_tau2(
    tasks: Sequence[Task],
    *,
    trials: int,
    classifier: Classifier,
    user_model: BaseChatModel,
    llm: LLM | None = None,
    max_turns: int = 12,
    temperature: float = 0.7,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Every task ``trials`` times, each on a fresh copy of the tau2 shop."""
    from agent.checkpoint import open_checkpointer
    from agent.context import Context
    from agent.runner import Agent
    from evals.conversations import Shops
    from tools.settings import get_settings

    if trials < 1:
        raise ValueError("--trials must be at least 1")
    settings = get_settings()
    episodes: list[Episode] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        shops = Shops(Path(tmp), stack)
        kb = shops.kb("tau2")
        expected = _Expected(lambda name: shops.store("tau2", name))

        @contextmanager
        def agent_factory(store: Any, thread: str) -> Iterator[Agent]:
            context = Context.from_settings(
                settings,
                store=store,
                classifier=classifier,
                kb=kb,
                llm=llm,
                llm_mode=llm.name if llm is not None else "none",
                llm_turn_budget_s=None,  # the agent is measured without the serving budget
            )
            with open_checkpointer(f"sqlite:///{tmp}/checkpoints-{thread}.db") as checkpointer:
                yield Agent(context, checkpointer.saver)

        for trial in range(trials):
            for index, task in enumerate(tasks):
                store = shops.store("tau2", f"{task.id}-{trial}")
                try:
                    episode = play_episode(
                        task,
                        trial,
                        store=store,
                        expected=expected(task),
                        agent_factory=agent_factory,
                        user_model=user_model,
                        llm=llm,
                        max_turns=max_turns,
                        seed=1000 * trial + index,
                        temperature=temperature,
                    )
                finally:
                    store.dispose()
                    (Path(tmp) / f"{task.id}-{trial}.db").unlink(missing_ok=True)
                episodes.append(episode)
                if on_episode is not None:
                    on_episode(episode)
    return episodes


def report(
    episodes: Sequence[Episode], *, trials: int, split: str, user: str, agent: str, seconds: float
) -> dict[str, Any]:
    """The run's JSON report: settings, the aggregate per split, the failed episodes counted by
    fault (side and reason) and every episode."""
    from evals.tau2_faults import fault_table

    return {
        "kind": "tau2",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "split": split,
        "trials": trials,
        "user_model": user,
        "agent_llm": agent,
        "wall_seconds": round(seconds, 1),
        "published_frontier": PUBLISHED_FRONTIER,
        "aggregate": summarise(episodes, trials),
        "faults": fault_table(episodes),
        "episodes": [asdict(e) for e in episodes],
    }


def main(
    split: Split = "test",
    trials: int = 1,
    *,
    user: str = "local",
    user_model: str | None = None,
    agent: str = "none",
    adversarial: bool = True,
    limit: int | None = None,
    max_turns: int = 12,
    temperature: float = 0.7,
    out: str = "reports/eval_tau2.json",
    classifier: Classifier | None = None,
) -> dict[str, Any]:
    """Run the simulation, print the table and write the JSON report to ``out`` (rewritten after
    every episode, so an interrupted run keeps what it measured)."""
    from classifiers import Classifier as _Classifier
    from tools.settings import get_settings

    settings = get_settings()
    tasks = load_tasks(settings.tau2_dir, split, adversarial=adversarial)
    if limit is not None:
        # The first ``limit`` tasks of the split, and of the adversarial ones.
        tasks = [t for t in tasks if t.split != "adversarial"][:limit] + [
            t for t in tasks if t.split == "adversarial"
        ][:limit]
    target = Path(out)
    console = Console()
    started = time.perf_counter()
    # The models first: a missing one is reported before the classifier loads.
    with open_models(settings, user=user, agent=agent, user_model=user_model) as models:
        classifier = classifier or _Classifier.from_pretrained()
        target.parent.mkdir(parents=True, exist_ok=True)
        episodes: list[Episode] = []

        with Progress(
            TextColumn("[bold]tau2[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress:
            bar = progress.add_task("episodes", total=len(tasks) * trials)

            def current() -> dict[str, Any]:
                return report(
                    episodes,
                    trials=trials,
                    split=split,
                    user=models.user_name,
                    agent=agent,
                    seconds=time.perf_counter() - started,
                )

            def done(episode: Episode) -> None:
                episodes.append(episode)
                progress.update(
                    bar, advance=1, description=f"task {episode.task} trial {episode.trial}"
                )
                target.write_text(json.dumps(current(), indent=2))
                if not console.is_terminal:
                    fault = episode.fault
                    console.print(
                        f"task {episode.task} trial {episode.trial}: reward {episode.reward:.0f} "
                        f"({episode.ended}, {episode.turns} turns, {episode.seconds:.1f} s)"
                        + (f"; fault: {fault['side']}, {fault['reason']}" if fault else "")
                    )

            run_tau2(
                tasks,
                trials=trials,
                classifier=classifier,
                user_model=models.user,
                llm=models.agent,
                max_turns=max_turns,
                temperature=temperature,
                on_episode=done,
            )
            final = current()
    target.write_text(json.dumps(final, indent=2))
    _print(console, final)
    from evals.tau2_report import html_path_for, write_html

    console.print(f"Wrote {target} and {write_html(final, html_path_for(target))}")
    return final


def _print(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"tau2 retail: customer {result['user_model']}, agent LLM {result['agent_llm']}, "
        f"{result['trials']} trial(s)"
    )
    aggregate = result["aggregate"]
    splits = list(aggregate)
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    keys = list(aggregate[splits[0]]) if splits else []
    for key in keys:
        row = []
        for split in splits:
            value = aggregate[split].get(key)
            row.append(
                ", ".join(f"{k} {v}" for k, v in value.items())
                if isinstance(value, dict)
                else "-"
                if value is None
                else str(value)
            )
        table.add_row(key, *row)
    console.print(table)
    console.print(
        "published frontier models, retail: "
        + ", ".join(f"{k} ~{v:.2f}" for k, v in result["published_frontier"].items())
    )
    faults = result.get("faults") or []
    if faults:
        by_fault = Table(title="failed episodes by fault (rules in evals/tau2_faults.py)")
        for column in ("side", "reason", *splits, "total"):
            by_fault.add_column(column, justify="right" if column in (*splits, "total") else "left")
        for row in faults:
            by_fault.add_row(
                row["side"], row["reason"], *(str(row.get(s, 0)) for s in splits), str(row["total"])
            )
        console.print(by_fault)
