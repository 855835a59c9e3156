"""The tau2 retail format: import, export round trip, malformed files, and replaying every task."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StoreFactory, tau2_db_path
from tests.tools.helpers import as_customer
from tools.errors import NotFoundError, PolicyViolation
from tools.orders import get_order_details
from tools.store import Store
from tools.tau2 import Tau2FormatError, export_tau2, import_tau2, replay_actions, store_counts


def _db() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(tau2_db_path().read_text(encoding="utf-8"))
    return data


def _tasks() -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = json.loads(
        (tau2_db_path().parent / "tasks.json").read_text(encoding="utf-8")
    )
    return tasks


def test_import_counts(empty_store: Store) -> None:
    counts = import_tau2(empty_store, tau2_db_path())

    expected = {"products": 50, "variants": 591, "customers": 500, "orders": 1000}
    assert counts == expected
    assert store_counts(empty_store) == expected


def test_imported_values(tau2_store: Store) -> None:
    exported = export_tau2(tau2_store)

    noah = exported["users"]["noah_brown_6181"]
    assert noah["email"] == "noah.brown7922@example.com"
    assert noah["orders"] == ["#W7678072"]
    order = get_order_details(as_customer(tau2_store, "james_li_5688"), "#W2611340")
    assert order["status"] == "processed"
    assert [(i["name"], i["item_id"], i["price"]) for i in order["items"]] == [
        ("Water Bottle", "6469567736", 47.84),
        ("Office Chair", "8426249116", 488.81),
    ]
    assert order["payment_history"] == [
        {"transaction_type": "payment", "amount": 536.65, "payment_method_id": "gift_card_1725971"}
    ]


def test_export_round_trips_the_original_file(tau2_store: Store) -> None:
    original = _db()
    exported = export_tau2(tau2_store)

    for section in ("products", "users", "orders"):
        assert exported[section] == original[section], section


def test_import_into_non_empty_store_is_refused(tau2_store: Store) -> None:
    with pytest.raises(ValueError, match="empty store"):
        import_tau2(tau2_store, tau2_db_path())

    assert store_counts(tau2_store)["customers"] == 500


def _corrupt(data: dict[str, Any], how: str) -> Any:
    data = copy.deepcopy(data)
    if how == "missing orders":
        del data["orders"]
    elif how == "orders not an object":
        data["orders"] = []
    elif how == "order without items":
        del data["orders"]["#W2611340"]["items"]
    elif how == "order price not a number":
        data["orders"]["#W2611340"]["items"][0]["price"] = "cheap"
    elif how == "not an object":
        data = [data["orders"]]
    return data


@pytest.mark.parametrize(
    ("how", "names"),
    [
        ("missing orders", "'orders'"),
        ("orders not an object", "'orders'"),
        ("not an object", "products, users and orders"),
        ("order without items", "'#W2611340'"),
        ("order price not a number", "'#W2611340'"),
    ],
)
def test_malformed_file_is_reported_with_its_name(
    empty_store: Store, tmp_path: Path, how: str, names: str
) -> None:
    path = tmp_path / "broken_db.json"
    path.write_text(json.dumps(_corrupt(_db(), how)), encoding="utf-8")

    with pytest.raises(Tau2FormatError) as caught:
        import_tau2(empty_store, path)

    assert str(path) in str(caught.value)
    assert names in str(caught.value)
    # Nothing of the half-read file is left behind.
    assert store_counts(empty_store) == dict.fromkeys(
        ("products", "variants", "customers", "orders"), 0
    )


def test_missing_file_is_reported_with_its_name(empty_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "absent.json"

    with pytest.raises(Tau2FormatError, match="absent.json"):
        import_tau2(empty_store, path)


def test_file_that_is_not_json_is_reported_with_its_name(
    empty_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "db.txt"
    path.write_text("products: none\n", encoding="utf-8")

    with pytest.raises(Tau2FormatError, match="db.txt.*not JSON"):
        import_tau2(empty_store, path)


def test_order_of_unknown_user_is_reported_as_format_error(
    empty_store: Store, tmp_path: Path
) -> None:
    data = _db()
    data["orders"]["#W2611340"]["user_id"] = "nobody_0000"
    path = tmp_path / "dangling_db.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(Tau2FormatError, match="dangling_db.json"):
        import_tau2(empty_store, path)


@pytest.mark.slow
def test_replaying_every_task_only_fails_where_the_shop_says_no(
    store_factory: StoreFactory,
) -> None:
    tasks = _tasks()
    assert len(tasks) == 114
    if store_factory.backend != "sqlite":
        # A fresh PostgreSQL database per task costs ~0.25 s to create and drop: every third task
        # (task 0 among them) covers the backend; SQLite replays them all.
        tasks = tasks[::3]
    total = succeeded = 0
    refused: list[str] = []
    for task in tasks:
        store = store_factory("tau2")
        try:
            outcomes = replay_actions(store, task["evaluation_criteria"]["actions"])
            if task["id"] == "0":
                end_state = export_tau2(store)
        finally:
            store.dispose()
        total += len(outcomes)
        succeeded += sum(o.ok for o in outcomes)
        refused += [
            f"task {task['id']} {o.name}: {o.error!r}"
            for o in outcomes
            if o.error is not None and not isinstance(o.error, NotFoundError | PolicyViolation)
        ]

    # Authorization, confirmation or argument errors would mean the replay or the tools are wrong.
    assert refused == []
    assert succeeded >= 0.95 * total, f"{succeeded}/{total} actions succeeded"
    exchanged = end_state["orders"]["#W2378156"]
    assert exchanged["status"] == "exchange requested"
    assert exchanged["exchange_items"] == ["1151293680", "4983901480"]
    assert exchanged["exchange_new_items"] == ["7706410293", "7747408585"]
    assert exchanged["exchange_payment_method_id"] == "credit_card_9513926"
    prices = {
        item_id: v["price"]
        for p in end_state["products"].values()
        for item_id, v in p["variants"].items()
    }
    paid = {i["item_id"]: i["price"] for i in exchanged["items"]}
    difference = (
        prices["7706410293"] + prices["7747408585"] - paid["1151293680"] - paid["4983901480"]
    )
    assert exchanged["exchange_price_difference"] == pytest.approx(difference, abs=0.005)
