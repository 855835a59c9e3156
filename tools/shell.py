"""An interactive terminal over the tools: type ``get_order_details #W2611340`` and see the result.

The person at the keyboard plays the customer: they verify themselves with ``find_user_id_by_email`` (or by
name and zip) exactly as the agent would make them, and every write asks them to confirm first. A write
over the shop's approval amount is not done here: it needs a staff member's approval, which the agent
console and Slack give.
"""

from __future__ import annotations

import inspect
import json
import shlex
import sys
from collections.abc import Callable
from typing import Any, TextIO, get_args, get_origin, get_type_hints

from rich.console import Console
from rich.table import Table

from tools.context import ToolContext
from tools.errors import ApprovalRequiredError, ConfirmationRequiredError
from tools.registry import all_specs, describe, invoke, spec
from tools.store import Store

_HELP = """Type a tool call: the tool's name, then its arguments in order or as name=value.
  get_order_details #W2611340
  find_user_id_by_email noah.brown7922@example.com
  return_delivered_order_items #W7678072 2323972008,2193628750 paypal_5727330
  check_availability 1075968781 color=black
Lists are comma-separated (or JSON). Other commands: tools, help TOOL, whoami, logout, quit."""


class ShellError(ValueError):
    """A line the shell cannot turn into a tool call."""


def _convert(raw: str, annotation: Any) -> Any:
    origin = get_origin(annotation)
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise ShellError(f"'{raw}' is not a whole number") from None
    if origin is list or annotation is list:
        if raw.startswith("["):
            return json.loads(raw)
        return [part.strip() for part in raw.split(",") if part.strip()]
    if origin is dict or annotation is dict:
        return json.loads(raw)
    if type(None) in get_args(annotation):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _convert(raw, inner[0]) if inner else raw
    return raw


def _is_dict(annotation: Any) -> bool:
    return get_origin(annotation) is dict or any(
        get_origin(a) is dict for a in get_args(annotation)
    )


def parse_call(line: str) -> tuple[str, dict[str, Any]]:
    """``name arg1 key=value ...`` -> (tool name, arguments) using the tool's signature."""
    try:
        tokens = shlex.split(line, comments=False)
    except ValueError as exc:
        raise ShellError(str(exc)) from None
    if not tokens:
        raise ShellError("empty line")
    name, rest = tokens[0], tokens[1:]
    try:
        func = spec(name).func
    except KeyError:
        raise ShellError(f"unknown tool '{name}' (type 'tools' for the list)") from None
    hints = get_type_hints(func)
    params = list(inspect.signature(func).parameters.values())[1:]
    names = [p.name for p in params]
    dict_param = next((p.name for p in params if _is_dict(hints[p.name])), None)
    arguments: dict[str, Any] = {}
    positional = iter(names)
    for token in rest:
        key, sep, value = token.partition("=")
        if sep and key in names:
            arguments[key] = _convert(value, hints[key])
        elif sep and dict_param is not None:
            arguments.setdefault(dict_param, {})[key] = value
        else:
            param = next((n for n in positional if n not in arguments), None)
            if param is None:
                raise ShellError(f"{name} takes {len(names)} argument(s): {', '.join(names)}")
            arguments[param] = _convert(token, hints[param])
    return name, arguments


class Shell:
    """The read-eval-print loop; streams are injectable so tests can drive it."""

    def __init__(
        self,
        store: Store,
        *,
        stdin: TextIO,
        console: Console,
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.ctx = ToolContext(store, actor="shell")
        self.stdin = stdin
        self.console = console
        self._ask = ask or self._read_answer

    def _read_answer(self, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False, highlight=False)
        return self.stdin.readline().strip()

    @property
    def prompt(self) -> str:
        return f"concierge [{self.ctx.customer_id or 'not verified'}]> "

    def run(self) -> None:
        self.console.print(
            "[bold]concierge shell[/bold]: type 'help' for examples, 'quit' to leave."
        )
        while True:
            self.console.print(self.prompt, end="", markup=False, highlight=False)
            line = self.stdin.readline()
            if not line:
                self.console.print()
                return
            if not self.handle(line.strip()):
                return

    def handle(self, line: str) -> bool:
        """Run one line; False when the person asked to leave."""
        if not line or line.startswith("#"):
            return True
        word = line.split()[0].lower()
        if word in {"quit", "exit", "q"}:
            return False
        if word == "help":
            parts = line.split()
            self._help(parts[1] if len(parts) > 1 else None)
        elif word == "tools":
            self._list_tools()
        elif word == "whoami":
            self.console.print(self.ctx.customer_id or "nobody verified yet")
        elif word == "logout":
            self.ctx = ToolContext(self.ctx.store, actor="shell")
            self.console.print("Signed out.")
        else:
            self._call(line)
        return True

    def _call(self, line: str) -> None:
        try:
            name, arguments = parse_call(line)
        except (ShellError, json.JSONDecodeError) as exc:
            self.console.print(str(exc), style="red", markup=False)
            return
        outcome = invoke(self.ctx, name, arguments)
        if isinstance(outcome.error, ConfirmationRequiredError):
            shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
            moves = outcome.error.amount_cents
            money = f" It moves ${moves / 100:.2f}." if moves else ""
            answer = self._ask(f"About to run {name}({shown}).{money} Confirm? [y/N] ")
            if answer.lower() not in {"y", "yes"}:
                self.console.print("Not done.")
                return
            # The "yes" covers this one call only; typing it again later asks again.
            outcome = invoke(self.ctx.confirm(name, arguments), name, arguments)
        if isinstance(outcome.error, ApprovalRequiredError):
            self.console.print(
                f"Not done: ${outcome.error.amount_cents / 100:.2f} is over the shop's approval"
                " amount, so a staff member must approve it (in the agent console or Slack).",
                style="red",
                markup=False,
            )
            return
        if not outcome.ok:
            self.console.print(outcome.text, style="red", markup=False)
            return
        if name.startswith("find_user_id_by_"):
            self.ctx = self.ctx.authenticated(str(outcome.value))
            self.console.print(f"Verified as [bold]{outcome.value}[/bold].")
            return
        self.console.print_json(json.dumps(outcome.value, ensure_ascii=False))

    def _list_tools(self) -> None:
        table = Table("tool", "kind", "arguments", "what it does")
        for s in all_specs():
            params = list(inspect.signature(s.func).parameters)[1:]
            summary, _ = describe(s.name)
            table.add_row(s.name, s.kind, " ".join(params), summary.split(". ")[0])
        self.console.print(table)

    def _help(self, name: str | None) -> None:
        if name is None:
            self.console.print(_HELP)
            return
        try:
            summary, arg_docs = describe(name)
        except KeyError:
            self.console.print(f"[red]unknown tool '{name}'[/red]")
            return
        self.console.print(f"[bold]{name}[/bold]: {summary}")
        for arg, doc in arg_docs.items():
            self.console.print(f"  {arg}: {doc}")


def run_shell(store: Store) -> None:
    """Start the interactive shell on the terminal."""
    Shell(store, stdin=sys.stdin, console=Console()).run()
