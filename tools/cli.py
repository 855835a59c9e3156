"""``concierge shop ...``: seed, import and inspect the commerce store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from tools.models import Order, Refund, Ticket
from tools.settings import get_settings
from tools.store import Store, open_store
from tools.tau2 import Tau2FormatError, import_tau2, store_counts

app = typer.Typer(help="The commerce store: seed the demo shop, import tau2, show counts.")
console = Console()

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="SQLAlchemy URL of the store (default: CONCIERGE_STORE_URL or var/)."
    ),
]
ResetOption = Annotated[
    bool, typer.Option("--reset", help="Drop everything in the store first (asks unless --yes).")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --reset.")]


def _prepare(url: str | None, reset: bool, yes: bool) -> Store:
    store = open_store(url)
    if reset:
        if not yes and not typer.confirm(f"Erase every record in {store}?"):
            raise typer.Abort()
        store.drop_all()
        store.migrate()
    return store


def _is_empty(store: Store) -> bool:
    return store_counts(store)["customers"] == 0


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Seed the generated demo shop.")] = False,
    seed_value: Annotated[int | None, typer.Option("--seed", help="Demo generator seed.")] = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the store already has data.")
    ] = False,
    store_url: StoreOption = None,
    reset: ResetOption = False,
    yes: YesOption = False,
) -> None:
    """Fill an empty store with the deterministic demo shop."""
    from tools.demo import seed_demo_shop

    if not demo:
        raise typer.BadParameter("say which shop to seed: --demo (or use `shop import-tau2`)")
    store = _prepare(store_url, reset, yes)
    if not _is_empty(store):
        if if_empty:
            console.print(f"The store already has data ({_summary(store)}); leaving it as it is.")
            return
        console.print("[red]The store already has data; use --reset to replace it.[/red]")
        raise typer.Exit(1)
    # Dates are generated relative to today (midnight UTC, so one day's seeds are identical), which
    # keeps pending, shipped and returnable orders realistic whenever the shop is seeded.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seed = seed_value if seed_value is not None else get_settings().demo_seed
    with console.status("Generating the demo shop..."):
        counts = seed_demo_shop(store, seed, now=today)
    console.print(f"Seeded the demo shop into {store}: {_format(counts)}.")


@app.command("import-tau2")
def import_tau2_command(
    path: Annotated[
        Path | None,
        typer.Argument(help="A tau2 retail db.json (default: the shared datasets copy)."),
    ] = None,
    store_url: StoreOption = None,
    reset: ResetOption = False,
    yes: YesOption = False,
) -> None:
    """Load a tau2-bench retail ``db.json`` (the evaluation shop) into an empty store."""
    source = path or get_settings().tau2_dir / "db.json"
    store = _prepare(store_url, reset, yes)
    if not _is_empty(store):
        console.print("[red]The store already has data; use --reset to replace it.[/red]")
        raise typer.Exit(1)
    try:
        with console.status(f"Importing {source}..."):
            counts = import_tau2(store, source)
    except Tau2FormatError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Imported {source}: {_format(counts)}.")


@app.command()
def stats(store_url: StoreOption = None) -> None:
    """Counts of what the store holds, with orders by status."""
    store = open_store(store_url)
    table = Table("what", "count", title=store.url.render_as_string(hide_password=True))
    for key, value in store_counts(store).items():
        table.add_row(key, str(value))
    with store.read() as s:
        for status, n in s.execute(
            select(Order.status, func.count()).group_by(Order.status).order_by(Order.status)
        ):
            table.add_row(f"orders: {status}", str(n))
        table.add_row("refunds", str(s.scalar(select(func.count()).select_from(Refund))))
        table.add_row("tickets", str(s.scalar(select(func.count()).select_from(Ticket))))
    console.print(table)


def _format(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items())


def _summary(store: Store) -> str:
    return _format(store_counts(store))
