"""What a planning model may choose, and what it is told each choice means: the customer's own
records, narrowed to what the request is about, with every id in the enums explained in the
legend."""

from __future__ import annotations

from typing import Any

from agent.choices import customer_choices

_ORDERS: dict[str, dict[str, Any]] = {
    "#W1": {
        "order_id": "#W1",
        "status": "delivered",
        "items": [
            {"item_id": "101", "product_id": "lamp", "name": "Desk Lamp", "price": 150.0,
             "options": {"color": "black", "brightness": "high"}},
            {"item_id": "201", "product_id": "kettle", "name": "Electric Kettle", "price": 80.0,
             "options": {"capacity": "1L"}},
        ],
    },
    "#W2": {
        "order_id": "#W2",
        "status": "pending",
        "items": [
            {"item_id": "301", "product_id": "mat", "name": "Yoga Mat", "price": 40.0,
             "options": {"color": "green"}},
        ],
    },
}  # fmt: skip
_LAMPS = {
    vid: {"item_id": vid, "options": {"color": color, "brightness": level}, "price": price,
          "available": available}
    for vid, color, level, price, available in (
        ("101", "black", "high", 150.0, True),
        ("102", "black", "low", 140.0, True),
        ("103", "white", "low", 145.0, True),
        ("104", "silver", "low", 160.0, False),
    )
}  # fmt: skip
_USER = {
    "user_id": "mei_1",
    "orders": ["#W1", "#W2"],
    "payment_methods": {
        "credit_card_9": {"source": "credit_card", "brand": "visa", "last_four": "7183"},
        "gift_card_3": {"source": "gift_card", "balance": 25.0},
    },
}


def _read(tool: str, arguments: dict[str, Any]) -> Any:
    if tool == "get_order_details":
        return _ORDERS.get(arguments["order_id"])
    if tool == "get_product_details":
        variants = _LAMPS if arguments["product_id"] == "lamp" else {}
        return {"product_id": arguments["product_id"], "variants": variants}
    raise AssertionError(tool)


def test_a_request_about_one_item_narrows_the_choices_to_it() -> None:
    choices = customer_choices(_USER, _read, focus="the desk lamp is way too bright for me")
    assert choices.order_ids == ("#W1", "#W2")  # every order stays choosable by id
    assert set(choices.item_ids) == {"101", "201"}  # the items of the order it points at
    assert set(choices.variant_ids) >= {"102", "103"} and "104" not in choices.variant_ids
    legend = "\n".join(choices.legend)
    assert "item 101: Desk Lamp (color black, brightness high) $150.00" in legend
    assert "order #W2, pending: Yoga Mat" in legend and "item 301" not in legend
    assert "payment method credit_card_9: credit card visa ending 7183" in legend
    assert "payment method gift_card_3: gift card, balance $25.00" in legend
    # Every id the model may pick is one it was told the meaning of.
    for chosen in (*choices.item_ids, *choices.variant_ids, *choices.payment_method_ids):
        assert f" {chosen}:" in legend


def test_variants_that_fit_the_words_come_first_and_the_list_is_capped() -> None:
    choices = customer_choices(
        _USER, _read, focus="swap the desk lamp for a white one", variants_shown=1
    )
    lamp_line = next(line for line in choices.legend if line.startswith("product lamp"))
    assert "item 103:" in lamp_line and "item 102:" not in lamp_line
    assert "103" in choices.variant_ids and "102" not in choices.variant_ids


def test_no_identity_no_choices() -> None:
    choices = customer_choices({}, _read, focus="return the lamp")
    assert choices.order_ids == () and choices.legend == ()
