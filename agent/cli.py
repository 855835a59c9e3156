"""``concierge chat``: talk to the agent in the terminal and see, per turn, what it understood and did."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.runner import Agent, TurnResult

LLMOption = Annotated[str, typer.Option("--llm", help="Who writes replies: none, local or openai.")]


def _done_and_checked(result: TurnResult) -> tuple[list[str], list[str]]:
    """The writes that ran this turn, and the look-ups; a write the tools only checked (held for
    the customer's yes, or refused) was not done, so it is in neither."""
    from tools import spec

    done, checked = [], []
    for call in result.tool_calls:
        try:
            kind = spec(str(call["name"])).kind
        except KeyError:
            kind = "read"
        if kind == "write":
            if call.get("ok"):
                done.append(str(call["name"]))
        elif str(call["name"]) not in checked:
            checked.append(str(call["name"]))
    return done, checked


def _show(console: Console, result: TurnResult) -> None:
    if result.reply:
        console.print(f"[bold green]concierge[/]: {result.reply}")
    elif result.handed_off:
        # The bot is silent while a person owns the conversation; say so rather than print nothing.
        console.print("[dim](a member of our team will reply here)[/]")
    if result.awaiting_approval:
        console.print(
            f"[yellow]waiting for a human's approval of {result.awaiting_approval['tool']} "
            f"(${result.awaiting_approval['amount']:.2f}): type /approve, /reject or /edit JSON[/]"
        )
    info = Table.grid(padding=(0, 2))
    info.add_row(
        f"intent {result.intent} ({(result.confidence or 0):.2f})",
        f"severity {result.severity}",
        f"sentiment {result.sentiment}",
        f"goal {result.goal}",
        f"route {result.route}",
        f"lang {result.language}",
    )
    done, checked = _done_and_checked(result)
    if done:
        info.add_row("[bold]done[/] " + ", ".join(done))
    if checked:
        info.add_row("[dim]looked up " + ", ".join(checked) + "[/]")
    if result.citations:
        info.add_row("citations " + ", ".join(result.citations))
    if result.escalated:
        reasons = ", ".join(result.escalation_reasons)
        info.add_row(f"[red]escalated[/] ticket #{result.ticket_id} ({reasons})")
    elif result.handed_off:
        info.add_row(
            f"[yellow]with a human[/] (ticket #{result.ticket_id}): the agent stays silent"
        )
    console.print(info, style="dim")


def chat_command(
    llm: LLMOption = "none",
    customer: Annotated[
        str | None, typer.Option(help="Treat the conversation as verified for this customer id.")
    ] = None,
    store_url: Annotated[str | None, typer.Option("--store", help="Store URL.")] = None,
    thread: Annotated[str | None, typer.Option(help="Continue this conversation id.")] = None,
    checkpoint_url: Annotated[
        str | None,
        typer.Option("--checkpoints", help="Checkpoint URL (sqlite:/// or postgresql://)."),
    ] = None,
    no_kb: Annotated[
        bool, typer.Option("--no-kb", help="Answer policy questions without the KB.")
    ] = False,
) -> None:
    """Chat with the agent; /quit ends, /approve /reject /edit answer a paused approval."""
    from agent.checkpoint import open_checkpointer
    from agent.context import Context
    from agent.llm import make_llm
    from tools.settings import get_settings
    from tools.store import open_store

    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter("--llm is none, local or openai")
    console = Console()
    settings = get_settings()
    kb = None
    if not no_kb:
        from knowledge import KnowledgeBase

        kb = KnowledgeBase(settings)
        if kb.stats().chunks == 0:
            console.print(
                "[yellow]The knowledge base is empty, so policy questions go to a person: run "
                "`concierge kb ingest --defaults` first.[/yellow]"
            )
    model = make_llm(llm, settings)
    try:
        context = Context.from_settings(
            settings,
            llm_mode=llm,
            store=open_store(store_url),
            kb=kb,
            llm=model,
            verified_customer_id=customer,
        )
        with open_checkpointer(checkpoint_url, settings) as checkpointer:
            agent = Agent(context, checkpointer.saver)
            _converse(console, agent, thread or uuid.uuid4().hex[:12], llm)
    finally:
        # In local mode this stops the llama.cpp server the chat started.
        if model is not None:
            model.close()


def _converse(console: Console, agent: Agent, thread_id: str, llm: str) -> None:
    """Read lines until /quit or the end of input; show each turn."""
    import json

    console.print(
        f"[dim]conversation {thread_id} (llm: {llm}); /help for commands, /quit to leave[/]"
    )
    while True:
        try:
            text = console.input("[bold cyan]you[/]: ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        # Commands are the terminal's own: none of them reaches the agent.
        if text == "/help":
            console.print(_HELP)
            continue
        if text == "/reset":
            thread_id = uuid.uuid4().hex[:12]
            console.print(f"[dim]new conversation {thread_id}[/]")
            continue
        if text == "/tickets":
            _show_tickets(console, agent)
            continue
        if text.startswith(("/approve", "/reject", "/edit")):
            command, _, rest = text.partition(" ")
            decision: dict[str, object] = {"action": command[1:]}
            if command == "/edit":
                decision["arguments"] = json.loads(rest or "{}")
            elif command == "/reject" and rest:
                decision["reason"] = rest
            _show(console, agent.resume(thread_id, decision))
            continue
        if text.startswith("/") and " " not in text:
            console.print(f"[yellow]unknown command {text}[/]: /help lists them")
            continue
        _show(console, agent.send(thread_id, text))


_HELP = """[bold]commands[/] (never sent to the agent)
  /help      this list
  /reset     start a new conversation
  /tickets   the open tickets: conversations waiting for a person
  /approve   approve the write a human must approve; /reject [reason]; /edit JSON
  /quit      leave (also /exit, Ctrl-D)"""


def _show_tickets(console: Console, agent: Agent) -> None:
    from tools.models import TicketStatus
    from tools.tickets import list_tickets

    store = agent.context.store
    tickets = list_tickets(store, status=TicketStatus.OPEN, limit=20) if store is not None else []
    if not tickets:
        console.print("[dim]no open tickets[/]")
        return
    table = Table("ticket", "severity", "customer", "why")
    for t in tickets:
        table.add_row(
            f"#{t['ticket_id']}", str(t["severity"]), str(t["customer_id"] or "-"),
            str(t["summary"] or "").splitlines()[0][:80] if t["summary"] else "",
        )  # fmt: skip
    console.print(table)
