"""The store: migrations that match the models on both databases, constraints, and transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, update
from sqlalchemy.exc import IntegrityError

from tests.tools.helpers import balance, find_order, gift_cards_by_customer, snapshot
from tools.models import Base, PaymentMethod, PaymentTransaction, Ticket, Variant
from tools.store import Store


def _differences(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_migrate_creates_the_schema_on_an_empty_database(empty_store: Store) -> None:
    empty_store.drop_all()
    assert inspect(empty_store.engine).get_table_names() == []
    assert not empty_store.is_migrated()

    empty_store.migrate()

    tables = set(inspect(empty_store.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert empty_store.is_migrated()
    assert _differences(empty_store) == []


def test_migrate_again_changes_nothing(empty_store: Store) -> None:
    empty_store.migrate()

    assert _differences(empty_store) == []


def test_a_new_sqlite_file_is_created_with_its_folder(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'var' / 'shop.db'}")
    try:
        store.migrate()

        assert (tmp_path / "var" / "shop.db").exists()
        assert _differences(store) == []
    finally:
        store.dispose()


def test_negative_gift_card_balance_is_refused_by_the_database(tau2_store: Store) -> None:
    card = next(pm for cards in gift_cards_by_customer(tau2_store).values() for pm in cards)
    before = balance(tau2_store, card)

    with pytest.raises(IntegrityError), tau2_store.write() as s:
        s.execute(update(PaymentMethod).where(PaymentMethod.id == card).values(balance_cents=-1))

    assert balance(tau2_store, card) == before


@pytest.mark.parametrize(
    ("model", "column", "value"),
    [
        (Variant, "stock", -1),
        (PaymentTransaction, "amount_cents", -100),
        (Ticket, "severity", 6),
    ],
)
def test_check_constraints_hold(
    tau2_store: Store, model: type[Base], column: str, value: int
) -> None:
    if model is Ticket:
        with tau2_store.write() as s:
            s.add(Ticket(summary="Late parcel", severity=3))
    before = snapshot(tau2_store)

    with pytest.raises(IntegrityError), tau2_store.write() as s:
        s.execute(update(model).values({column: value}))

    assert snapshot(tau2_store) == before


def test_a_failed_write_leaves_nothing_behind(tau2_store: Store) -> None:
    ref = find_order(tau2_store, "pending")
    before = snapshot(tau2_store)

    with pytest.raises(RuntimeError), tau2_store.write() as s:
        s.add(Ticket(summary="half done", order_id=ref.order_id))
        s.flush()
        raise RuntimeError("the tool failed after its first change")

    assert snapshot(tau2_store) == before


def test_a_read_session_commits_nothing(tau2_store: Store) -> None:
    card = next(pm for cards in gift_cards_by_customer(tau2_store).values() for pm in cards)
    before = balance(tau2_store, card)

    with tau2_store.read() as s:
        s.get_one(PaymentMethod, card).balance_cents = 10**9
        s.flush()

    assert balance(tau2_store, card) == before


def test_repr_hides_the_password() -> None:
    store = Store("postgresql+psycopg://shop:s3cret@127.0.0.1:5432/concierge")
    try:
        assert "s3cret" not in repr(store)
    finally:
        store.dispose()
