"""Labeled conversations: load a JSON Lines file in the format of the design (one conversation per
line), play each conversation through the real agent graph on a fresh store, and check every turn's
expectations.

``load_conversations`` validates strictly: an unknown or misspelled field, a wrong type, an intent or
tool name that does not exist, or a line that is not JSON raises :class:`ConversationFileError`
naming the file and the line. ``run_conversations``
returns per-turn results (pass/fail with the reasons) and the aggregates; ``main`` is the command.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from agent.llm import LLM
    from agent.runner import TurnResult
    from classifiers import Classifier
    from knowledge import KnowledgeBase
    from tools.store import Store

Shop = Literal["tau2", "demo"]


class ConversationFileError(ValueError):
    """A line of a labeled-conversation file that does not follow the format."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


class _Strict(BaseModel):
    # strict: "false" is not a boolean and "3" is not a severity; a typo must not pass silently.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Expect(_Strict):
    """What must hold after one turn; every field is optional and only given fields are checked."""

    intent: str | None = None
    severity: list[int] | None = None
    """Inclusive range ``[low, high]`` of the severity level (1-5)."""
    tools: list[str] | None = None
    """Tools that must be called this turn (others may be called too)."""
    tool_args: dict[str, dict[str, Any]] | None = None
    """Per tool, arguments one of its calls this turn must have (other arguments may differ)."""
    forbidden_tools: list[str] | None = None
    escalate: bool | None = None
    answer_contains: list[str | list[str]] | None = None
    """Case-insensitive substrings of the reply; a list inside is any-of."""
    answer_excludes: list[str] | None = None
    cites: bool | None = None
    """True: the reply carries at least one citation; False: it carries none."""
    cites_from: list[str] | None = None
    """Documents (``demo/shipping-and-delivery.md``) of which the reply must cite at least one."""

    @field_validator("severity")
    @classmethod
    def _range(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return value
        if len(value) != 2 or not 1 <= value[0] <= value[1] <= 5:
            raise ValueError("severity must be an inclusive range [low, high] within 1-5")
        return value

    @field_validator("answer_contains")
    @classmethod
    def _any_of_not_empty(cls, value: list[str | list[str]] | None) -> list[str | list[str]] | None:
        if value is not None and any(isinstance(v, list) and not v for v in value):
            raise ValueError("an any-of list in answer_contains must not be empty")
        return value


class Turn(_Strict):
    user: str = Field(min_length=1)
    expect: Expect = Expect()


class CustomerIdentity(_Strict):
    user_id: str = Field(min_length=1)


class Conversation(_Strict):
    id: str = Field(min_length=1)
    db: Shop
    """Which store is seeded for it: the tau2 retail shop or the demo shop."""
    customer: CustomerIdentity | None = None
    """An identity the channel already verified; None: the agent must authenticate the customer."""
    turns: list[Turn] = Field(min_length=1)
    note: str | None = None
    """For a reviewer: the facts the expectations were computed from (prices compared, the variant
    chosen); never read by the scoring."""


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "conversation"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def _unknown_names(conversation: Conversation, intents: set[str], tools: set[str]) -> str | None:
    """A misspelled intent or tool name would make an expectation fail (or, forbidden, pass) for
    the wrong reason: name it instead."""
    for n, turn in enumerate(conversation.turns):
        expect = turn.expect
        if expect.intent is not None and expect.intent not in intents:
            return f"turns.{n}.expect.intent: unknown intent {expect.intent!r}"
        for key, names in (
            ("tools", expect.tools or ()),
            ("tool_args", expect.tool_args or {}),
            ("forbidden_tools", expect.forbidden_tools or ()),
        ):
            unknown = sorted(set(names) - tools)
            if unknown:
                return f"turns.{n}.expect.{key}: unknown tool(s) {unknown}"
    return None


def load_conversations(path: Path | str) -> list[Conversation]:
    """The conversations of a JSON Lines file (blank lines skipped), validated strictly: fields,
    types, and the intent and tool names (against the shipped taxonomy and the registered tools)."""
    from classifiers import load_taxonomy
    from tools import all_specs

    intents = set(load_taxonomy().intents)
    tools = {s.name for s in all_specs()}
    path = Path(path)
    conversations: list[Conversation] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConversationFileError(path, number, f"not valid JSON ({e.msg})") from e
            if not isinstance(data, dict):
                raise ConversationFileError(path, number, "a conversation must be a JSON object")
            try:
                conversation = Conversation.model_validate(data)
            except ValidationError as e:
                raise ConversationFileError(path, number, _describe(e)) from e
            unknown = _unknown_names(conversation, intents, tools)
            if unknown:
                raise ConversationFileError(path, number, unknown)
            if conversation.id in seen:
                raise ConversationFileError(
                    path,
                    number,
                    f"duplicate id {conversation.id!r} (first on line {seen[conversation.id]})",
                )
            seen[conversation.id] = number
            conversations.append(conversation)
    if not conversations:
        raise ConversationFileError(path, 1, "the file holds no conversation")
    return conversations


@dataclass
class TurnOutcome:
    """One turn as played: what the agent did and whether the expectations held."""

    conversation: str
    turn: int
    user: str
    reply: str
    intent: str | None
    severity: int | None
    tools: list[str]
    tool_calls: list[dict[str, Any]]
    escalated: bool
    citations: list[str]
    latency_ms: float
    expect: dict[str, Any]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _contains(reply: str, needle: str) -> bool:
    return needle.casefold() in reply.casefold()


def _matches(actual: Any, wanted: Any) -> bool:
    """Partial match: every key ``wanted`` names matches in ``actual``, recursively; other values
    are equal."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(actual[k], v) for k, v in wanted.items()
        )
    return bool(actual == wanted)


def check_turn(expect: Expect, result: TurnResult) -> list[str]:
    """Why the turn fails its expectations (empty when they all hold)."""
    from agent.guardrails import internal_text

    failures: list[str] = []
    called = {c["name"] for c in result.tool_calls}
    if expect.intent is not None and result.intent != expect.intent:
        failures.append(f"intent: expected {expect.intent!r}, got {result.intent!r}")
    if expect.severity is not None:
        low, high = expect.severity
        if result.severity is None or not low <= result.severity <= high:
            failures.append(f"severity: expected {low}-{high}, got {result.severity}")
    if expect.tools is not None:
        missing = [t for t in expect.tools if t not in called]
        if missing:
            failures.append(f"tools: {missing} not called (called {sorted(called)})")
    for tool, wanted in (expect.tool_args or {}).items():
        calls = [c["arguments"] for c in result.tool_calls if c["name"] == tool]
        if not calls:
            failures.append(f"tool_args: {tool} not called")
        elif not any(_matches(args, wanted) for args in calls):
            failures.append(f"tool_args: {tool} called with {calls}, expected {wanted}")
    # As the format says: a call the tool refused before running (awaiting the customer's yes, not
    # their order) did not run, so it breaks no prohibition.
    ran = {c["name"] for c in result.tool_calls if c["ok"]}
    forbidden = sorted(ran & set(expect.forbidden_tools or ()))
    if forbidden:
        failures.append(f"forbidden_tools: {forbidden} ran")
    if expect.escalate is not None and result.escalated != expect.escalate:
        failures.append(f"escalate: expected {expect.escalate}, got {result.escalated}")
    for item in expect.answer_contains or ():
        options = item if isinstance(item, list) else [item]
        if not any(_contains(result.reply, o) for o in options):
            shown = options[0] if len(options) == 1 else f"any of {options}"
            failures.append(f"answer_contains: {shown!r} not in reply {result.reply!r}")
    for needle in expect.answer_excludes or ():
        if _contains(result.reply, needle):
            failures.append(f"answer_excludes: {needle!r} in reply {result.reply!r}")
    # Every reply, whatever its expectations: no internal id, document reference or field dump.
    failures.extend(f"plain_language: {leak}" for leak in internal_text(result.reply))
    if expect.cites is not None and bool(result.citations) != expect.cites:
        failures.append(
            f"cites: expected {'a citation' if expect.cites else 'none'}, got {result.citations}"
        )
    if expect.cites_from and not any(
        c.partition("#")[0] in expect.cites_from for c in result.citations
    ):
        failures.append(f"cites_from: none of {expect.cites_from} in {result.citations}")
    return failures


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def aggregate(outcomes: Sequence[TurnOutcome]) -> dict[str, Any]:
    """Rates over the turns that state the matching expectation (None where no turn does)."""
    by_conversation: dict[str, bool] = {}
    for o in outcomes:
        by_conversation[o.conversation] = by_conversation.get(o.conversation, True) and o.passed

    def given(key: str) -> list[TurnOutcome]:
        return [o for o in outcomes if o.expect.get(key) is not None]

    intent = given("intent")
    severity = given("severity")
    tools = given("tools")
    hit = sum(len(set(o.expect["tools"]) & set(o.tools)) for o in tools)
    expected_tools = sum(len(set(o.expect["tools"])) for o in tools)
    called_tools = sum(len(set(o.tools)) for o in tools)
    args = given("tool_args")
    forbidden = given("forbidden_tools")
    escalate = given("escalate")
    tp = sum(o.expect["escalate"] and o.escalated for o in escalate)
    fp = sum(not o.expect["escalate"] and o.escalated for o in escalate)
    fn = sum(o.expect["escalate"] and not o.escalated for o in escalate)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = (
        round(2 * precision * recall / (precision + recall), 4)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    contains, excludes, cites = given("answer_contains"), given("answer_excludes"), given("cites")

    def holds(turns: list[TurnOutcome], key: str) -> float | None:
        return _ratio(
            sum(not any(f.startswith(f"{key}:") for f in o.failures) for o in turns), len(turns)
        )

    latencies = [o.latency_ms for o in outcomes]
    return {
        "conversations": len(by_conversation),
        "turns": len(outcomes),
        "turn_pass_rate": _ratio(sum(o.passed for o in outcomes), len(outcomes)),
        "conversation_pass_rate": _ratio(sum(by_conversation.values()), len(by_conversation)),
        "intent_accuracy": holds(intent, "intent"),
        "intent_turns": len(intent),
        "severity_within_range": holds(severity, "severity"),
        "severity_turns": len(severity),
        "tool_precision": _ratio(hit, called_tools),
        "tool_recall": _ratio(hit, expected_tools),
        "tool_turns": len(tools),
        "argument_match": holds(args, "tool_args"),
        "argument_turns": len(args),
        # As in check_turn: a forbidden tool counts when it ran, not when it was refused.
        "forbidden_tool_violations": sum(
            len({c["name"] for c in o.tool_calls if c["ok"]} & set(o.expect["forbidden_tools"]))
            for o in forbidden
        ),
        "forbidden_tool_turns": len(forbidden),
        "escalation": {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": len(escalate) - tp - fp - fn,
        },
        "answer_contains_rate": holds(contains, "answer_contains"),
        "answer_excludes_rate": holds(excludes, "answer_excludes"),
        "plain_language_rate": holds(list(outcomes), "plain_language"),
        "citation_rate": holds(cites, "cites"),
        "citation_turns": len(cites),
        "replies_with_citations": _ratio(sum(bool(o.citations) for o in outcomes), len(outcomes)),
        "latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)},
    }


class Shops:
    """A seeded template store and a knowledge base per shop, built on first use; each conversation
    gets its own copy of the template."""

    def __init__(self, workdir: Path, stack: ExitStack) -> None:
        self.workdir = workdir
        self._stack = stack
        self._templates: dict[str, Path] = {}
        self._kbs: dict[str, KnowledgeBase] = {}

    def _template(self, shop: Shop) -> Path:
        if shop not in self._templates:
            from tools.demo import seed_demo_shop
            from tools.settings import get_settings
            from tools.store import Store
            from tools.tau2 import import_tau2

            path = self.workdir / f"template-{shop}.db"
            store = Store(f"sqlite:///{path}")
            store.migrate()
            if shop == "tau2":
                import_tau2(store, get_settings().tau2_dir / "db.json")
            else:
                seed_demo_shop(store, get_settings().demo_seed)
            store.dispose()
            self._templates[shop] = path
        return self._templates[shop]

    def store(self, shop: Shop, name: str) -> Store:
        from tools.store import Store

        path = self.workdir / f"{name}.db"
        shutil.copy(self._template(shop), path)
        return Store(f"sqlite:///{path}")

    def kb(self, shop: Shop) -> KnowledgeBase:
        if shop not in self._kbs:
            from knowledge import KnowledgeBase
            from tools.demo import demo_docs_dir
            from tools.settings import Settings, get_settings

            settings = Settings(
                _env_file=None,
                var_dir=self.workdir / f"var-{shop}",
                chroma_url=None,
                chroma_dir=None,
            )
            kb = KnowledgeBase(settings)
            docs = (
                [get_settings().tau2_dir / "policy.md"]
                if shop == "tau2"
                else sorted(demo_docs_dir().glob("*.md"))
            )
            kb.ingest(docs)
            self._stack.callback(kb.close)
            self._kbs[shop] = kb
        return self._kbs[shop]


def play(
    conversations: Sequence[Conversation],
    *,
    classifier: Classifier,
    llm: LLM | None = None,
    overrides: dict[str, Any] | None = None,
) -> Iterator[TurnOutcome]:
    """Play each conversation on a fresh store of its shop and yield every turn's outcome.

    ``overrides`` replaces agent knobs of the configured :class:`~agent.context.Context`."""
    from agent.checkpoint import open_checkpointer
    from agent.context import Context
    from agent.runner import Agent
    from tools.settings import get_settings

    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        shops = Shops(Path(tmp), stack)
        for n, conversation in enumerate(conversations):
            store = shops.store(conversation.db, f"c{n}")
            try:
                context = Context.from_settings(
                    settings,
                    store=store,
                    classifier=classifier,
                    kb=shops.kb(conversation.db),
                    llm=llm,
                    llm_mode=llm.name if llm is not None else "none",
                    llm_turn_budget_s=None,  # quality is measured without the serving budget
                    verified_customer_id=conversation.customer.user_id
                    if conversation.customer
                    else None,
                    **(overrides or {}),
                )
                with open_checkpointer(f"sqlite:///{tmp}/checkpoints-{n}.db") as checkpointer:
                    agent = Agent(context, checkpointer.saver)
                    for index, turn in enumerate(conversation.turns):
                        started = time.perf_counter()
                        result = agent.send(conversation.id, turn.user)
                        latency = (time.perf_counter() - started) * 1000
                        yield TurnOutcome(
                            conversation=conversation.id,
                            turn=index,
                            user=turn.user,
                            reply=result.reply,
                            intent=result.intent,
                            severity=result.severity,
                            tools=result.tools,
                            tool_calls=[
                                {"name": c["name"], "arguments": c["arguments"], "ok": c["ok"]}
                                for c in result.tool_calls
                            ],
                            escalated=result.escalated,
                            citations=result.citations,
                            latency_ms=round(latency, 2),
                            expect=turn.expect.model_dump(exclude_none=True),
                            failures=check_turn(turn.expect, result),
                        )
            finally:
                store.dispose()


def run_conversations(
    path: Path | str,
    *,
    classifier: Classifier,
    llm: LLM | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report for the file at ``path``: aggregates and every turn's outcome."""
    return report_for(
        path, load_conversations(path), classifier=classifier, llm=llm, overrides=overrides
    )


def report_for(
    path: Path | str,
    conversations: Sequence[Conversation],
    *,
    classifier: Classifier,
    llm: LLM | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report for ``conversations`` (loaded from ``path``)."""
    outcomes = list(play(conversations, classifier=classifier, llm=llm, overrides=overrides))
    return {
        "file": str(path),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "llm": llm.name if llm is not None else "none",
        "aggregate": aggregate(outcomes),
        "turns": [{**asdict(o), "passed": o.passed} for o in outcomes],
    }


def main(
    path: str,
    llm: str = "none",
    min_pass: float | None = None,
    out: str = "reports/eval_conversations.json",
    *,
    classifier: Classifier | None = None,
) -> dict[str, Any]:
    """Run the file with the ``llm`` mode, print the failures and the aggregates, write the JSON report
    to ``out`` and the HTML report beside it (``.html``), and raise ``SystemExit(1)`` when the turn
    pass rate is below ``min_pass``.

    ``classifier`` defaults to the trained one (``concierge train``)."""
    from agent.llm import make_llm
    from classifiers import Classifier as _Classifier
    from tools.settings import get_settings

    if llm not in ("none", "local", "openai"):
        raise ValueError(f"unknown LLM mode {llm!r}: use none, local or openai")
    if min_pass is not None and not 0.0 <= min_pass <= 1.0:
        raise ValueError(f"--min-pass must be between 0 and 1, not {min_pass}")
    conversations = load_conversations(path)  # a bad file fails before any model loads
    model = make_llm(llm, get_settings())
    try:
        report = report_for(
            path,
            conversations,
            classifier=classifier or _Classifier.from_pretrained(),
            llm=model,
        )
    finally:
        # In local mode this stops the llama.cpp server: none outlives the run.
        if model is not None:
            model.close()
    _print(report)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2))
    Console().print(f"Wrote {target}")
    from evals.conversations_report import html_path_for, write_html

    Console().print(f"Wrote {write_html(report, html_path_for(target))}")
    rate = report["aggregate"]["turn_pass_rate"] or 0.0
    if min_pass is not None and rate < min_pass:
        Console().print(f"[red]turn pass rate {rate:.3f} is below --min-pass {min_pass:.3f}[/]")
        raise SystemExit(1)
    return report


def _print(report: dict[str, Any]) -> None:
    console = Console()
    for turn in report["turns"]:
        if not turn["passed"]:
            console.print(
                f"[red]FAIL[/] {escape(turn['conversation'])} turn {turn['turn']}: "
                f"{escape(repr(turn['user']))}"
            )
            for reason in turn["failures"]:
                console.print(f"    {reason}", markup=False)
    table = Table(title=f"labeled conversations ({report['llm']} LLM)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report["aggregate"].items():
        shown = (
            ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        )
        table.add_row(key, "-" if shown is None else str(shown))
    console.print(table)
