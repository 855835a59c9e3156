"""Grounded reading: identities in free phrasing, and the customer's own orders, items and payment
methods picked out by what they say."""

from __future__ import annotations

from typing import Any

import pytest

from agent.resolvers import (
    IdentityClues,
    candidate_orders,
    named_items,
    named_payment_methods,
    names_a_payment_method,
    order_label,
    read_identity,
)


@pytest.mark.parametrize(
    ("text", "clues"),
    [
        (
            "my first name is Mei and my last name is Patel and my zip code is 76165",
            {"first_name": "Mei", "last_name": "Patel", "zip": "76165"},
        ),
        ("I'm Mei Patel from 76165", {"first_name": "Mei", "last_name": "Patel", "zip": "76165"}),
        (
            "hi, mei patel here, zip 76165",
            {"first_name": "Mei", "last_name": "Patel", "zip": "76165"},
        ),
        ("Mei Patel 76165", {"first_name": "Mei", "last_name": "Patel", "zip": "76165"}),
        ("sure, it's mei.patel1234@example.com, thanks", {"email": "mei.patel1234@example.com"}),
        ("I'm mei_kovacs_8020 in zipcode 28236", {"user_id": "mei_kovacs_8020", "zip": "28236"}),
        (
            "me llamo Sofia Rossi y mi código postal es 78784",
            {"first_name": "Sofia", "last_name": "Rossi", "zip": "78784"},
        ),
        (
            "je m'appelle Yusuf Rossi, code postal 19122",
            {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"},
        ),
        ("my zip is 10001", {"zip": "10001"}),
        # Not identities: a sentence that opens like one, and an order number's digits.
        ("Hi, I'm looking to return my order", {}),
        ("I am trying to cancel #W1234567", {}),
        ("it costs $12345 and I bought 10000 pieces", {}),
    ],
)
def test_identity_in_free_phrasing(text: str, clues: dict[str, str]) -> None:
    assert read_identity(text).as_dict() == clues


def test_identity_clues_add_up_across_messages() -> None:
    first = read_identity("my name is Mei Patel")
    both = read_identity("oh and the zip is 76165").merged(first.as_dict())
    assert both == IdentityClues(first_name="Mei", last_name="Patel", zip="76165")


def _item(name: str, **options: str) -> dict[str, Any]:
    return {"name": name, "item_id": name.lower().replace(" ", "-"), "options": options}


_ITEMS = [
    _item("Cycling Helmet", color="red", size="M"),
    _item("Cycling Helmet", color="black", size="L"),
    _item("Desk Lamp", brightness="high"),
    _item("Electric Kettle", capacity="1L"),
    _item("Smart Watch", color="silver"),
]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("both helmets", ["Cycling Helmet", "Cycling Helmet"]),
        ("the lamp and the kettle", ["Desk Lamp", "Electric Kettle"]),
        ("everything except the watch", ["Cycling Helmet"] * 2 + ["Desk Lamp", "Electric Kettle"]),
        ("all of it", [i["name"] for i in _ITEMS]),
        ("return the watch please", ["Smart Watch"]),
        ("the red helmet", ["Cycling Helmet"]),
        ("I want to return something", []),
        ("the water bottle", []),  # not in this order: nothing is guessed
    ],
)
def test_exactly_the_items_named(text: str, names: list[str]) -> None:
    assert [i["name"] for i in named_items(text, _ITEMS)] == names


def test_options_tell_two_items_of_one_product_apart() -> None:
    [red] = named_items("the red helmet", _ITEMS)
    assert red["options"]["color"] == "red"


def _order(order_id: str, status: str, *names: str) -> dict[str, Any]:
    return {"order_id": order_id, "status": status, "items": [{"name": n} for n in names]}


_ORDERS = [
    _order("#W1", "pending", "Grill", "Backpack"),
    _order("#W2", "delivered", "Office Chair"),
    _order("#W3", "delivered", "Tablet", "Action Camera"),
    _order("#W4", "processed", "Digital Camera"),
]


@pytest.mark.parametrize(
    ("text", "goal", "ids"),
    [
        ("where is the office chair I ordered?", "track_order", ["#W2"]),
        ("the order with the backpack", None, ["#W1"]),
        ("my camera order", "track_order", ["#W3", "#W4"]),  # two fit: the customer is asked
        ("the one that hasn't shipped yet", "track_order", ["#W1"]),
        ("cancel my order", "cancel_order", ["#W1"]),  # only a pending order can be cancelled
        ("I want to return something", "return_item", ["#W2", "#W3"]),
        ("where is my stuff", "track_order", ["#W1", "#W2", "#W3", "#W4"]),
    ],
)
def test_the_orders_that_fit(text: str, goal: str | None, ids: list[str]) -> None:
    assert [o["order_id"] for o in candidate_orders(text, _ORDERS, goal)] == ids


def test_an_order_is_named_by_its_contents() -> None:
    assert order_label(_ORDERS[0]) == "#W1 (Grill, Backpack)"


_METHODS = {
    "credit_card_1": {"source": "credit_card", "brand": "visa", "last_four": "7183"},
    "credit_card_2": {"source": "credit_card", "brand": "mastercard", "last_four": "9212"},
    "paypal_3": {"source": "paypal"},
    "gift_card_4": {"source": "gift_card", "balance": 40.0},
}


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("to my visa please", ["credit_card_1"]),
        ("the card ending 9212", ["credit_card_2"]),
        ("put it on my gift card", ["gift_card_4"]),
        ("paypal", ["paypal_3"]),
        ("the card I paid with", ["credit_card_2"]),
        ("to my credit card", ["credit_card_1", "credit_card_2"]),
        ("whatever is fastest", []),
    ],
)
def test_payment_methods_by_description(text: str, ids: list[str]) -> None:
    assert named_payment_methods(text, _METHODS, original="credit_card_2") == ids


def test_an_answer_about_where_the_money_goes_is_recognised() -> None:
    assert names_a_payment_method("my mastercard")
    assert names_a_payment_method("the one ending in 7183")
    assert not names_a_payment_method("the red one")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # "but" inside a sentence is not an exception: only "everything but" is.
        ("the lamp and the kettle both arrived but i dont need the lamp and the kettle", None),
        ("la Smart Watch", ["Smart Watch"]),
        ("the lamp and the electric kettle", ["Desk Lamp", "Electric Kettle"]),
    ],
)
def test_named_items_read_the_whole_sentence(text: str, names: list[str] | None) -> None:
    items = [*_ITEMS, _item("Wristwatch", color="gold")]
    expected = names or ["Desk Lamp", "Electric Kettle"]
    assert [i["name"] for i in named_items(text, items)] == expected


def test_sentences_that_open_like_introductions_are_not_names() -> None:
    assert read_identity("I need to update my address, but it's already updated.").as_dict() == {}
    assert read_identity("I'm trying to cancel my order").as_dict() == {}
    assert read_identity("I am Fatima Johnson in zipcode 78712.").as_dict() == {
        "first_name": "Fatima",
        "last_name": "Johnson",
        "zip": "78712",
    }


def test_a_bare_name_counts_only_as_the_answer_to_who_are_you() -> None:
    assert read_identity("Chen Johnson").as_dict() == {}
    assert read_identity("Chen Johnson", expecting=True).as_dict() == {
        "first_name": "Chen",
        "last_name": "Johnson",
    }
    assert read_identity("sounds good", expecting=True).as_dict() == {}


def test_items_left_out_do_not_choose_the_order() -> None:
    # tau2 task 33: "keep the hiking items" picked the pending order holding the hiking boots.
    orders = [_order("#W1", "pending", "Hiking Boots"), _order("#W2", "delivered", "Office Chair")]
    fits = candidate_orders(
        "return the office stuff and keep the hiking boots", orders, "return_item"
    )
    assert [o["order_id"] for o in fits] == ["#W2"]
