"""``concierge kb ...``: ingest documents and the catalog, show what the knowledge base holds, search it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from knowledge.errors import KnowledgeError
from knowledge.knowledge_base import IngestReport, KnowledgeBase, ProgressCallback
from knowledge.retrieval import SEARCH_MODES, Filters
from tools.cli import StoreOption

app = typer.Typer(
    help="The knowledge base: ingest policies and products, search them with citations."
)
console = Console()


def _open() -> KnowledgeBase:
    with console.status("Loading the embedding model and opening the store..."):
        return KnowledgeBase()


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    """A rich progress display with one bar per stage (embedding, writing)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def _fail(exc: KnowledgeError) -> typer.Exit:
    console.print(f"[red]{exc}[/red]")
    return typer.Exit(2)


def _print_report(what: str, report: IngestReport) -> None:
    rate = report.embedded / report.seconds if report.seconds and report.embedded else 0.0
    console.print(
        f"{what}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; "
        f"{report.chunks_written} chunks written, {report.embedded} embedded, "
        f"{report.reused} reused in {report.seconds:.1f}s"
        + (f" ({rate:.0f} chunks/s)" if rate else "")
    )
    for source in report.removed:
        console.print(f"  removed {source}")
    for note in report.notes:
        console.print(f"  [yellow]{note}[/yellow]")


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders: .md .txt .html .pdf, .json/.jsonl FAQs, ABCD guidelines."
        ),
    ] = None,
    catalog: Annotated[
        bool, typer.Option("--catalog", help="Also sync the store's products (one document each).")
    ] = False,
    defaults: Annotated[
        bool,
        typer.Option(
            "--defaults",
            help="Ingest the demo shop's own docs and the store's catalog (customer-facing only: "
            "tau2's agent policy belongs to the tau2 evaluation shop; ingest it by path).",
        ),
    ] = False,
    store_url: StoreOption = None,
) -> None:
    """Add or refresh documents; unchanged files cost nothing, files gone from a folder are removed."""
    from tools.demo import demo_docs_dir
    from tools.store import open_store

    targets = list(paths or [])
    if defaults:
        # What a customer is quoted: the shop's own policies and FAQ, each a readable page at
        # /help/demo/<name>. tau2's policy is written for agents, not customers, and is not served.
        targets.append(demo_docs_dir())
        catalog = True
    if not targets and not catalog:
        raise typer.BadParameter("give files or folders to ingest, --catalog, or --defaults")
    kb = _open()
    try:
        if targets:
            with _progress() as progress:
                report = kb.ingest(targets, progress=progress)
            _print_report("Documents", report)
        if catalog:
            store = open_store(store_url)
            with _progress() as progress:
                report = kb.sync_catalog(store, progress=progress)
            _print_report(f"Catalog of {store}", report)
            if not (report.added or report.updated or report.unchanged):
                console.print(
                    "[yellow]The store has no products: seed it with "
                    "`concierge shop seed --demo`.[/yellow]"
                )
    except KnowledgeError as exc:
        raise _fail(exc) from None


@app.command()
def stats() -> None:
    """What the knowledge base holds: chunks and sources by type and origin."""
    try:
        info = _open().stats()
    except KnowledgeError as exc:
        raise _fail(exc) from None
    table = Table("what", "count", title=f"{info.location} ({info.collection})")
    table.add_row("chunks", str(info.chunks))
    table.add_row("sources", str(info.sources))
    for doc_type, n in info.by_doc_type.items():
        table.add_row(f"sources: {doc_type}", str(n))
    for scope, n in info.by_scope.items():
        table.add_row(f"from: {scope}", str(n))
    table.add_row("last updated", info.last_updated or "-")
    console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question, as a customer would ask it.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many passages.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    doc_type: Annotated[
        list[str] | None, typer.Option("--doc-type", help="Only these doc types (repeatable).")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Only this language.")] = None,
    product: Annotated[
        str | None, typer.Option(help="Only this product id's catalog entry.")
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="Print each passage's whole text.")] = False,
) -> None:
    """Search with citations, and say whether the knowledge base covers the question."""
    if mode not in SEARCH_MODES:
        raise typer.BadParameter(f"mode must be one of {', '.join(SEARCH_MODES)}")
    filters = Filters(doc_type=doc_type or None, language=language, product_id=product)
    kb = _open()
    try:
        kb.search("warm-up", k=1, mode=mode)  # builds BM25 once, so the timing is the query's
        started = time.perf_counter()
        result = kb.search(query, k=k, mode=mode, filters=filters)
        elapsed = (time.perf_counter() - started) * 1000
    except KnowledgeError as exc:
        raise _fail(exc) from None
    table = Table("#", "score")
    table.add_column("cited as", overflow="fold", ratio=2)
    table.add_column("passage" if text else "starts with", ratio=3)
    for rank, passage in enumerate(result.passages, start=1):
        body = passage.text.split("\n\n", 1)[-1]
        table.add_row(
            str(rank),
            f"{passage.citation.score:.4f}",
            f"{passage.citation.ref}\n[dim]{passage.citation.title}[/dim]",
            body if text else (body[:100] + ("..." if len(body) > 100 else "")),
        )
    console.print(table)
    if result.searched != query:
        console.print(f"Searched as: {result.searched!r}")
    verdict = "[green]covered[/green]" if result.covered else "[red]not covered[/red]"
    signal = "best similarity" if result.coverage_method == "threshold" else "coverage model"
    console.print(
        f"{verdict}: {signal} {result.coverage:.3f} vs threshold {result.threshold:.2f}; "
        f"{elapsed:.0f} ms ({result.mode})"
    )
