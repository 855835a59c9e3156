"""Whose fault a failed tau2 episode is: the agent's, or the simulated customer's.

The simulated customer is a small local model and makes mistakes of its own; a figure that counts its
failures against the agent says less than it seems to. :func:`classify` reads a finished episode
beside its task and names the side at fault with a short reason, the first rule that applies winning:

1. ``unclear``: the episode ended in an error (nothing was measured).
2. ``customer``: it played the assistant (offered help, asked for "your" details, echoed the agent).
3. ``customer``: it leaked its instructions (spoke of its scenario, or quoted it in the second person).
4. ``customer``: it contradicted its scenario (another name, zip, e-mail, user id or order than it was
   given, or denied having one it was given).
5. ``agent``: a write the task does not expect (tool or arguments unlike the expected actions).
6. ``agent``: never verified the customer although they gave identity details matching the scenario.
7. ``customer``: withheld its identity (asked, it never gave the details it had to be verified).
8. ``customer``: left while the agent waited for an answer, with the task not done.
9. ``agent``: handed the chat to a person although the task expects no transfer.
10. ``agent``: asked the same question again and again.
11. ``agent``: ran out of turns still asking.
12. ``agent``: the end state is right but a fact the task lists was never said.

What no rule settles is ``unclear``, to be read in the transcript. Customer rules that prove a broken
simulation by the text alone come first; the agent's certain mistakes (a wrong write, an identity not
read) come before the customer's omissions, which the agent's own turns may have caused.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

from evals.tau2_sim import STUCK_AFTER, Episode, Task, asks_something, plays_the_agent

Side = Literal["customer", "agent", "unclear"]
SIDES: tuple[Side, ...] = ("agent", "customer", "unclear")


class Fault(NamedTuple):
    """The side a failed episode is put down to, a short reason (what the summary counts) and the
    evidence (a quoted message, the write made)."""

    side: Side
    reason: str
    detail: str = ""


Rule = Callable[[Episode, Task], Fault | None]

# --- reading the episode and the task ---------------------------------------------------------------

_SECOND_PERSON = frozenset({"you", "your", "you're", "you'd", "you've", "you'll", "yourself"})
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<!\w)'[^']*'(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ZIP = re.compile(r"(?<![\w#$.,])\d{5}(?![\d,.]\d)(?!\d)")
_ORDER = re.compile(r"#?\bW\d{6,8}\b", re.IGNORECASE)
_USER_ID = re.compile(r"\b([a-z]+)_([a-z]+)_\d{4}\b")
_NAME_IN_SCENARIO = re.compile(
    r"(?:[Yy]ou are|[Yy]ou're|name is|called)\s+(?:user\s+)?([A-Z][a-z]+)\s+([A-Z][a-z]+)"
)
_NAME_SAID = re.compile(
    r"\b(?:my name is|my name's|i am|i'm|this is)\s+([A-Z][a-z]+)\s+([A-Z][a-z]+)\b",
    re.IGNORECASE,
)
_IDENTITY_ASKED = re.compile(
    r"e-?mail|zip|first name|last name|user id|verify|identify", re.IGNORECASE
)


def _has(text: str, detail: str) -> bool:
    """Whether ``text`` holds ``detail`` as a whole word (case-insensitive)."""
    return re.search(rf"(?<![\w.@-]){re.escape(detail)}(?![\w@-])", text, re.IGNORECASE) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _grams(words: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    return (tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _shared_run(text: str, source: str, n: int, *, second_person: bool = False) -> str | None:
    """A run of ``n`` words ``text`` shares verbatim with ``source`` (one holding "you"/"your" if
    ``second_person``), or None."""
    theirs = set(_grams(_words(source), n))
    for gram in _grams(_words(text), n):
        if gram in theirs and (not second_person or _SECOND_PERSON.intersection(gram)):
            return " ".join(gram)
    return None


def _quote(text: str, limit: int = 160) -> str:
    return f'"{text[:limit]}{"..." if len(text) > limit else ""}"'


def scenario_text(task: Task) -> str:
    """Everything the simulated customer was told about its situation."""
    return "\n".join(
        x
        for x in (
            task.persona,
            task.reason_for_call,
            task.known_info,
            task.unknown_info,
            task.task_instructions,
        )
        if x
    )


def _exchanges(episode: Episode) -> Iterator[tuple[str, str]]:
    """Each customer message with the agent message it answered."""
    said = ""
    for line in episode.transcript:
        if line["role"] == "agent":
            said = line["text"]
        else:
            yield said, line["text"]


def _customer_said(episode: Episode) -> list[str]:
    return [t["text"] for t in episode.transcript if t["role"] == "customer"]


def _agent_said(episode: Episode) -> list[str]:
    return [t["text"] for t in episode.transcript if t["role"] == "agent"]


def _last_agent(episode: Episode) -> str:
    said = _agent_said(episode)
    return said[-1] if said else ""


class Identity(NamedTuple):
    """The identity details a task's customer has (lower case)."""

    emails: frozenset[str]
    zips: frozenset[str]
    names: frozenset[tuple[str, str]]
    user_ids: frozenset[str]

    def given_in(self, text: str) -> bool:
        """Whether ``text`` holds enough of them to verify the customer: the e-mail, or the full
        name or the user id with the zip code."""
        has_zip = any(_has(text, z) for z in self.zips)
        has_name = any(_has(text, first) and _has(text, last) for first, last in self.names)
        has_id = any(_has(text, u) for u in self.user_ids)
        return any(_has(text, e) for e in self.emails) or (has_zip and (has_name or has_id))

    @property
    def complete(self) -> bool:
        """Whether they are enough to verify the customer with."""
        return bool(self.emails or (self.zips and (self.names or self.user_ids)))


def identity(task: Task) -> Identity:
    """What the task's customer can identify themselves with: read from the scenario's known
    information and from the look-ups in its expected actions."""
    known = task.known_info
    emails = {e.lower() for e in _EMAIL.findall(known)}
    zips = set(_ZIP.findall(known))
    names = {(f.lower(), last.lower()) for f, last in _NAME_IN_SCENARIO.findall(known)}
    user_ids = {m.group(0) for m in _USER_ID.finditer(known)}
    names |= {(f, last) for f, last in _USER_ID.findall(known)}
    lookups = [a for a in task.actions if str(a["name"]).startswith("find_user_id_by_")]
    for action in lookups:
        args = action["arguments"]
        if action["name"] == "find_user_id_by_email":
            emails.add(str(args.get("email", "")).lower())
        elif action["name"] == "find_user_id_by_name_zip":
            names.add((str(args["first_name"]).lower(), str(args["last_name"]).lower()))
            zips.add(str(args["zip"]))
        elif action["name"] == "find_user_id_by_user_id_zip":
            user_ids.add(str(args["user_id"]))
            zips.add(str(args["zip"]))
    # A look-up before the last one is one that fails: the scenario's customer makes a slip (an
    # e-mail without its dot, two digits of the zip swapped; tasks 38 and 68) and corrects it.
    # Those details verify no one, so a customer who keeps to them is not matching its scenario.
    final = {str(v).lower() for v in lookups[-1]["arguments"].values()} if lookups else set()
    slips = {
        str(v).lower()
        for action in lookups[:-1]
        for key, v in action["arguments"].items()
        if key in ("email", "zip")
    } - final
    return Identity(
        frozenset(emails - slips), frozenset(zips - slips), frozenset(names), frozenset(user_ids)
    )


def _is_write(name: str) -> bool:
    from tools import spec

    try:
        return spec(name).kind == "write"
    except KeyError:
        return False


def _norm_args(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments compared as tau2 replays them: lists of ids in any order (an exchange's old and new
    items kept in pairs)."""
    args = dict(arguments)
    if isinstance(args.get("item_ids"), list) and isinstance(args.get("new_item_ids"), list):
        args["item_ids"] = sorted(zip(args.pop("item_ids"), args.pop("new_item_ids"), strict=False))
    return {k: sorted(map(str, v)) if isinstance(v, list) else v for k, v in args.items()}


def writes_made(episode: Episode) -> list[dict[str, Any]]:
    """The agent's writes that went through."""
    return [c for c in episode.tool_calls if c.get("ok") and _is_write(c["name"])]


def expected_writes(task: Task) -> list[dict[str, Any]]:
    return [a for a in task.actions if _is_write(a["name"])]


def _matches(call: dict[str, Any], action: dict[str, Any]) -> bool:
    return call["name"] == action["name"] and _norm_args(call["arguments"]) == _norm_args(
        action["arguments"]
    )


def _verified(episode: Episode) -> bool:
    return any(c.get("ok") and c["name"].startswith("find_user_id_by_") for c in episode.tool_calls)


_COURTESY = re.compile(
    r"[^.!?]*\banything else\b[^.!?]*\?|[^.!?]*\bhow can i help\b[^.!?]*\?", re.IGNORECASE
)


def _waits(agent_message: str) -> bool:
    """Whether the agent waits for an answer: a question or request beyond the courtesy of "is there
    anything else I can help with?"."""
    return asks_something(_COURTESY.sub(" ", agent_message))


def _asked_identity(agent_message: str) -> bool:
    return bool(_IDENTITY_ASKED.search(agent_message)) and asks_something(agent_message)


# --- the rules --------------------------------------------------------------------------------------


def episode_error(episode: Episode, task: Task) -> Fault | None:
    """A broken episode measures neither side."""
    if episode.error:
        return Fault("unclear", "episode error", episode.error[:200])
    return None


_ASSISTANT_VOICE = re.compile(
    r"\b(could|can|would) you (please )?(provide|give|confirm|tell me|share) (me )?your "
    r"(e-?mail|zip|name|order|user|full name|account)"
    r"|\bi('d| would) be (happy|glad) to (help|assist)"
    r"|\bthank you for (contacting|reaching out)"
    r"|\bis there anything else (i|we) can (help|do)",
    re.IGNORECASE,
)


def played_the_assistant(episode: Episode, task: Task) -> Fault | None:
    """The customer wrote as the shop's assistant: offered help, asked for the customer's ("your")
    details, or repeated the agent's words back (a run of 8 words with "you" in it)."""
    for agent_message, message in _exchanges(episode):
        if (
            plays_the_agent(message, "")
            or _ASSISTANT_VOICE.search(message)
            or _shared_run(message, agent_message, 8, second_person=True)
        ):
            return Fault("customer", "played the assistant", _quote(message))
    return None


_META = re.compile(
    r"\b(my|the) (instructions|scenario)\b|\bknown info|\bunknown info|\breason for (the )?call"
    r"|\btask instructions\b|\bpersona\b|\brole-?play|\bas a customer\b|\bthe agent (asks|says)\b"
    r"|\bif the agent\b|\bi am (playing|simulating|pretending)\b",
    re.IGNORECASE,
)
_SELF_IN_SECOND_PERSON = re.compile(
    r"\byour (name|zip|zip code|e-?mail|email address|user id) is\b", re.IGNORECASE
)


def leaked_instructions(episode: Episode, task: Task) -> Fault | None:
    """The customer spoke of its instructions ("my scenario", "known info", "if the agent asks"),
    or quoted them in their second person ("you are a private person that...": a run of 6 words
    with "you" in it, quoted lines the scenario gives it to say left aside), or told its own
    details as "your name is ..."."""
    scenario = scenario_text(task)
    unquoted = _QUOTED.sub(" | ", scenario)
    for message in _customer_said(episode):
        meta = _META.search(message)
        if meta and meta.group(0).lower() not in scenario.lower():
            return Fault("customer", "leaked its instructions", _quote(message))
        run = _shared_run(message, unquoted, 6, second_person=True)
        if run or _SELF_IN_SECOND_PERSON.search(message):
            return Fault("customer", "leaked its instructions", _quote(message))
    return None


_DENIALS = {
    "email": re.compile(
        r"\b(don't|do not|can't|cannot|never) (remember|recall|know|have|had|use)( (my|an|any|the))?"
        r" e-?mail|\bno e-?mail\b",
        re.IGNORECASE,
    ),
    "zip": re.compile(
        r"\b(don't|do not|can't|cannot) (remember|recall|know)( (my|the))? zip", re.IGNORECASE
    ),
    "order": re.compile(
        r"\b(don't|do not|never) (have|had|made|placed) (an|any) orders?\b(?!\s*(number|id))"
        r"|\bno such order\b|\bhaven't (placed|made) any orders?\b",
        re.IGNORECASE,
    ),
}


def _made_up(episode: Episode, task: Task) -> Iterator[tuple[str, str]]:
    """(what, message) for each detail a customer message gives that its scenario does not, and the
    agent did not say first."""
    scenario = scenario_text(task)
    known = scenario.lower() + " " + str(task.actions).lower()
    agent = " ".join(_agent_said(episode)).lower()
    allowed = known + " " + agent
    who = identity(task)
    for agent_message, message in _exchanges(episode):
        for email in _EMAIL.findall(message):
            if email.lower().rstrip(".") not in allowed:
                yield f"e-mail {email}", message
        if re.search(r"zip|postal", f"{agent_message} {message}", re.IGNORECASE):
            for code in _ZIP.findall(message):
                if code not in allowed:
                    yield f"zip code {code}", message
        for order in _ORDER.findall(message):
            if order.lstrip("#").lower() not in allowed:
                yield f"order {order}", message
        for user_id in _USER_ID.finditer(message.lower()):
            if user_id.group(0) not in allowed:
                yield f"user id {user_id.group(0)}", message
        real = {f for f, _ in who.names} | {last for _, last in who.names}
        for first, last in _NAME_SAID.findall(message):
            if (
                who.names
                and first[0].isupper()
                and last[0].isupper()
                and not {first.lower(), last.lower()} <= real
                and f"{first} {last}".lower() not in allowed
            ):
                yield f"name {first} {last}", message


def _denied(episode: Episode, task: Task) -> Iterator[tuple[str, str]]:
    """(what, message) for each detail the customer says it lacks though its scenario gives it."""
    who = identity(task)
    has = {
        "email": bool(_EMAIL.search(task.known_info)),
        "zip": bool(who.zips),
        "order": "order" in scenario_text(task).lower(),
    }
    for message in _customer_said(episode):
        for what, pattern in _DENIALS.items():
            if has[what] and pattern.search(message):
                yield f"denied having its {what}", message


def contradicted_scenario(episode: Episode, task: Task) -> Fault | None:
    """The customer gave a name, zip code, e-mail, user id or order its scenario does not hold (and
    the agent had not said), or denied having an e-mail, a zip code or an order it was given. Not
    judged on the adversarial tasks, whose scenarios ask for false claims."""
    if task.split == "adversarial":
        return None
    for what, message in (*_made_up(episode, task), *_denied(episode, task)):
        return Fault("customer", "contradicted its scenario", f"{what}: {_quote(message)}")
    return None


def unexpected_write(episode: Episode, task: Task) -> Fault | None:
    """The agent made a write that none of the task's expected actions is (same tool, same
    arguments); on an adversarial task, any write."""
    expected = expected_writes(task)
    for call in writes_made(episode):
        if not any(_matches(call, action) for action in expected):
            wanted = [a["name"] for a in expected] or ["none"]
            return Fault(
                "agent",
                "unexpected write",
                f"{call['name']} {call['arguments']}; expected: {', '.join(wanted)}",
            )
    return None


def never_verified(episode: Episode, task: Task) -> Fault | None:
    """The customer gave identity details matching its scenario (the e-mail, or the name or user id
    with the zip code) and the agent never verified them."""
    said = " ".join(_customer_said(episode))
    if _verified(episode) or not identity(task).given_in(said):
        return None
    return Fault("agent", "never verified a matching identity", _quote(said, 200))


def withheld_identity(episode: Episode, task: Task) -> Fault | None:
    """Asked who they are, and answering at least once, the customer never gave the details its
    scenario holds (the e-mail, or the name or user id with the zip code); the agent could not
    verify them."""
    who = identity(task)
    if not who.complete or _verified(episode):
        return None
    asked = [a for a, _ in _exchanges(episode) if _asked_identity(a)]
    if asked and not who.given_in(" ".join(_customer_said(episode))):
        return Fault("customer", "withheld its identity", f"asked {len(asked)} time(s)")
    return None


def _task_done(episode: Episode, task: Task) -> bool:
    made = writes_made(episode)
    writes = all(any(_matches(c, a) for c in made) for a in expected_writes(task))
    return writes and all(episode.communicate.values())


def left_while_asked(episode: Episode, task: Task) -> Fault | None:
    """The customer ended the chat while the agent's last message waited for an answer (a
    confirmation, a detail; "anything else?" is no such wait), before the task's writes were made
    or its facts told."""
    if episode.ended != "customer" or _task_done(episode, task):
        return None
    last = _last_agent(episode)
    if _waits(last):
        return Fault("customer", "left while the agent waited", _quote(last))
    return None


def unwanted_handoff(episode: Episode, task: Task) -> Fault | None:
    """The agent handed the chat to a person; the task expects no transfer."""
    expects = any(a["name"] == "transfer_to_human_agents" for a in task.actions)
    if episode.ended == "handoff" and not expects:
        last = _last_agent(episode)
        return Fault("agent", "unwanted handoff", _quote(last))
    return None


def _questions(message: str) -> list[str]:
    asked = _COURTESY.sub(" ", message)
    return [q.strip().lower() for q in re.findall(r"[^.!?]*\?", asked) if q.strip()]


def repeated_question(episode: Episode, task: Task) -> Fault | None:
    """The agent was stuck (the same message ``STUCK_AFTER`` times running) or asked the same
    question (not "anything else?") in ``STUCK_AFTER`` of its messages."""
    if episode.ended == "stuck":
        return Fault("agent", "repeated a question", _quote(_last_agent(episode)))
    counts = Counter(q for m in _agent_said(episode) for q in set(_questions(m)))
    question, n = counts.most_common(1)[0] if counts else ("", 0)
    if n >= STUCK_AFTER:
        return Fault("agent", "repeated a question", f"{n} times: {_quote(question)}")
    return None


def out_of_turns_asking(episode: Episode, task: Task) -> Fault | None:
    """The episode reached its turn limit with the agent still asking."""
    last = _last_agent(episode)
    if episode.ended == "max_turns" and _waits(last):
        return Fault("agent", "ran out of turns asking", _quote(last))
    return None


def untold_fact(episode: Episode, task: Task) -> Fault | None:
    """The shop ended as expected but the agent never said a fact the task lists."""
    missing = [info for info, said in episode.communicate.items() if not said]
    if episode.db_match and missing:
        return Fault("agent", "did not tell a fact", ", ".join(missing))
    return None


RULES: tuple[Rule, ...] = (
    episode_error,
    played_the_assistant,
    leaked_instructions,
    contradicted_scenario,
    unexpected_write,
    never_verified,
    withheld_identity,
    left_while_asked,
    unwanted_handoff,
    repeated_question,
    out_of_turns_asking,
    untold_fact,
)
"""Most certain first: the first that applies is the episode's fault."""

NO_RULE = Fault("unclear", "no rule applies", "read the transcript")


def classify(episode: Episode, task: Task) -> Fault | None:
    """The fault of a failed ``episode`` of ``task`` (None for one that passed)."""
    if episode.reward == 1.0:
        return None
    for rule in RULES:
        fault = rule(episode, task)
        if fault is not None:
            return fault
    return NO_RULE


def fault_table(episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """Failed episodes counted per side and reason, and per split: ``[{"side", "reason", "total",
    <split>: n, ...}]``, by side then most frequent first."""
    counts: Counter[tuple[str, str, str]] = Counter()
    splits: list[str] = []
    for e in episodes:
        if e.split not in splits:
            splits.append(e.split)
        if e.fault:
            counts[(e.fault["side"], e.fault["reason"], e.split)] += 1
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (side, reason, split), n in counts.items():
        row = rows.setdefault(
            (side, reason), {"side": side, "reason": reason, "total": 0, **dict.fromkeys(splits, 0)}
        )
        row[split] += n
        row["total"] += n
    order = {s: i for i, s in enumerate(SIDES)}
    return sorted(rows.values(), key=lambda r: (order.get(r["side"], 9), -r["total"], r["reason"]))


def sides(episodes: Iterable[Episode]) -> dict[str, int]:
    """Failed episodes per side."""
    counted = Counter(e.fault["side"] for e in episodes if e.fault)
    return {side: counted[side] for side in SIDES}
