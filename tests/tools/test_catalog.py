"""Catalog: products, their variants, search and availability (public: no authentication needed)."""

from __future__ import annotations

from typing import Any

import pytest

from tools.catalog import (
    check_availability,
    get_item_details,
    get_product_details,
    list_all_product_types,
    search_products,
)
from tools.context import ToolContext
from tools.errors import InvalidArgumentError, ItemNotFoundError, ProductNotFoundError
from tools.store import Store
from tools.tau2 import export_tau2


def _kettle(ctx: ToolContext) -> dict[str, Any]:
    return get_product_details(ctx, list_all_product_types(ctx)["Electric Kettle"])


def test_list_all_product_types(tau2_store: Store) -> None:
    types = list_all_product_types(ToolContext(tau2_store))

    assert len(types) == 50
    assert list(types) == sorted(types)
    assert set(types.values()) == set(export_tau2(tau2_store)["products"])


def test_get_product_details(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    product_id = list_all_product_types(ctx)["Electric Kettle"]

    product = get_product_details(ctx, product_id)

    assert product == export_tau2(tau2_store)["products"][product_id]
    assert product["name"] == "Electric Kettle"
    assert product["variants"]


def test_item_id_is_not_a_product_id(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    item_id = next(iter(_kettle(ctx)["variants"]))

    with pytest.raises(ProductNotFoundError, match="product ids differ from item ids"):
        get_product_details(ctx, item_id)


def test_get_item_details(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    kettle = _kettle(ctx)
    item_id, variant = next(iter(kettle["variants"].items()))

    item = get_item_details(ctx, item_id)

    assert item == variant | {"product_id": kettle["product_id"], "product_name": "Electric Kettle"}


def test_unknown_item_is_not_found(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)

    with pytest.raises(ItemNotFoundError):
        get_item_details(ctx, _kettle(ctx)["product_id"])


@pytest.mark.parametrize("query", ["kettle", "Kettles", "electric KETTLE"])
def test_search_finds_the_electric_kettle(tau2_store: Store, query: str) -> None:
    ctx = ToolContext(tau2_store)

    results = search_products(ctx, query)

    names = [r["name"] for r in results]
    assert "Electric Kettle" in names
    assert all("Kettle" in n for n in names[:2])
    kettle = next(r for r in results if r["name"] == "Electric Kettle")
    variants = _kettle(ctx)["variants"].values()
    assert kettle["variants"] == len(variants)
    assert kettle["available_variants"] == sum(v["available"] for v in variants)
    assert kettle["price_range"] == [
        min(v["price"] for v in variants),
        max(v["price"] for v in variants),
    ]


def test_search_ranks_a_name_match_first(tau2_store: Store) -> None:
    results = search_products(ToolContext(tau2_store), "electric kettle")

    assert results[0]["name"] == "Electric Kettle"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_search_respects_the_limit(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)

    assert len(search_products(ctx, "black", limit=3)) == 3
    assert len(search_products(ctx, "black", limit=0)) == 1


def test_search_for_nothing_is_refused(tau2_store: Store) -> None:
    with pytest.raises(InvalidArgumentError):
        search_products(ToolContext(tau2_store), " ?! ")


def test_search_without_a_match_is_empty(tau2_store: Store) -> None:
    assert search_products(ToolContext(tau2_store), "zeppelin") == []


def test_check_availability_filters_by_options(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    kettle = _kettle(ctx)
    wanted = next(iter(kettle["variants"].values()))["options"]["capacity"]

    result = check_availability(ctx, kettle["product_id"], {"Capacity": f" {wanted.upper()} "})

    matching = {
        item_id: v
        for item_id, v in kettle["variants"].items()
        if v["options"]["capacity"] == wanted
    }
    assert {v["item_id"] for v in result["in_stock"]} == {
        i for i, v in matching.items() if v["available"]
    }
    assert {v["item_id"] for v in result["unavailable"]} == {
        i for i, v in matching.items() if not v["available"]
    }
    assert 0 < len(matching) < len(kettle["variants"])


def test_check_availability_with_two_options(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    kettle = _kettle(ctx)
    first = next(iter(kettle["variants"].values()))["options"]
    wanted = {"capacity": first["capacity"], "color": first["color"]}

    result = check_availability(ctx, kettle["product_id"], wanted)

    found = result["in_stock"] + result["unavailable"]
    assert found
    assert all({k: v["options"][k] for k in wanted} == wanted for v in found)
    assert len(found) == sum(
        {k: v["options"][k] for k in wanted} == wanted for v in kettle["variants"].values()
    )


def test_check_availability_without_options_lists_every_variant(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)
    kettle = _kettle(ctx)

    result = check_availability(ctx, kettle["product_id"])

    assert len(result["in_stock"]) + len(result["unavailable"]) == len(kettle["variants"])
    assert all(v["available"] for v in result["in_stock"])


def test_check_availability_of_an_unknown_option_is_refused(tau2_store: Store) -> None:
    ctx = ToolContext(tau2_store)

    with pytest.raises(InvalidArgumentError, match="has no option wattage"):
        check_availability(ctx, _kettle(ctx)["product_id"], {"wattage": "2000"})
