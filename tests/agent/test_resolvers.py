"""Grounded reading: identities in free phrasing, and the customer's own orders, items and payment
methods picked out by what they say."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from agent.flows import REGISTRY
from agent.goals import Goal
from agent.resolvers import (
    IdentityClues,
    available_options,
    candidate_orders,
    named_items,
    named_payment_methods,
    names_a_payment_method,
    narrowed_items,
    order_label,
    read_identity,
    read_variant_wish,
    wanted_variants,
)
from tests.conftest import tau2_db_path


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
        # "Hi there" is a greeting, not the name "Hi T" ("t" + "here").
        (
            "Hi there, Yusuf Khan, zip 75313. The laptop I ordered hasn't shipped yet right?",
            {"first_name": "Yusuf", "last_name": "Khan", "zip": "75313"},
        ),
        ("hi there, my order is late, zip 12345", {"zip": "12345"}),
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
        # tau2 task 33: a first name alone, the last name in the same breath or the next.
        (
            "My name is Noah and my last name is Patel.",
            {"first_name": "Noah", "last_name": "Patel"},
        ),
        ("My name is Noah and my zip code is 10108.", {"first_name": "Noah", "zip": "10108"}),
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
        # tau2 task 12: "not associated with gaming" returned the gaming mouse.
        (
            "return everything not associated with the watch",
            ["Cycling Helmet"] * 2 + ["Desk Lamp", "Electric Kettle"],
        ),
        ("all of it that isn't the kettle", ["Cycling Helmet"] * 2 + ["Desk Lamp", "Smart Watch"]),
        # The exception ends with its sentence (tau2 task 108 left the e-reader out too).
        (
            "everything but the watch. The kettle is in it and I want it gone too.",
            ["Cycling Helmet"] * 2 + ["Desk Lamp", "Electric Kettle"],
        ),
        ("all of it", [i["name"] for i in _ITEMS]),
        ("return the watch please", ["Smart Watch"]),
        ("the red helmet", ["Cycling Helmet"]),
        ("I want to return something", []),
        ("the water bottle", []),  # not in this order: nothing is guessed
        # "both" of options is not both items (tau2 task 74 exchanged every item of an order).
        ("exchange it for an i9 CPU and 256GB SSD, both in silver color", []),
        ("return both of them", [i["name"] for i in _ITEMS]),
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
        # Named in Spanish or French: the shop's English names are matched all the same.
        ("où en est ma chaise de bureau ?", "track_order", ["#W2"]),
        ("mi pedido de la mochila", None, ["#W1"]),
        ("my camera order", "track_order", ["#W3", "#W4"]),  # two fit: the customer is asked
        ("the one that hasn't shipped yet", "track_order", ["#W1"]),
        ("my order with two items", None, ["#W1", "#W3"]),
        ("the pending order with two items, cancel it", "cancel_order", ["#W1"]),
        ("cancel my order", "cancel_order", ["#W1"]),  # only a pending order can be cancelled
        ("I want to return something", "return_item", ["#W2", "#W3"]),
        ("where is my stuff", "track_order", ["#W1", "#W2", "#W3", "#W4"]),
    ],
)
def test_the_orders_that_fit(text: str, goal: Goal | None, ids: list[str]) -> None:
    statuses = REGISTRY[goal].statuses if goal else frozenset()
    assert [o["order_id"] for o in candidate_orders(text, _ORDERS, statuses)] == ids


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
        # The method refused is not the one named (tau2 task 74's "instead of paypal").
        ("on my visa instead of paypal", ["credit_card_1"]),
        ("rather than paying with paypal, use the gift card", ["gift_card_4"]),
        ("not my visa, the mastercard", ["credit_card_2"]),
        # "if not" is a condition, not a refusal of what follows.
        ("if not, then put it on my visa", ["credit_card_1"]),
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
        "return the office stuff and keep the hiking boots",
        orders,
        REGISTRY["return_item"].statuses,
    )
    assert [o["order_id"] for o in fits] == ["#W2"]


def test_the_order_holding_every_item_named_is_the_one() -> None:
    # tau2 task 27: "the hose and the backpack", with a hose in two orders and the backpack in one.
    orders = [
        _order("#W1", "delivered", "Garden Hose", "Backpack", "Hiking Boots"),
        _order("#W2", "delivered", "Vacuum Cleaner", "Garden Hose"),
    ]
    fits = candidate_orders("return the hose and the backpack", orders)
    assert [o["order_id"] for o in fits] == ["#W1"]
    # Items spread over two orders, neither holding them all: both stay, to be asked about.
    fits = candidate_orders("return the backpack and the vacuum cleaner", orders)
    assert [o["order_id"] for o in fits] == ["#W1", "#W2"]
    assert [o["order_id"] for o in candidate_orders("the garden hose", orders)] == ["#W1", "#W2"]


def _shipped(order_id: str, state: str, city: str, *names: str) -> dict[str, Any]:
    return {**_order(order_id, "delivered", *names), "address": {"state": state, "city": city}}


_PLACES = [
    _shipped("#W1", "FL", "Jacksonville", "Skateboard"),
    _shipped("#W2", "TX", "Houston", "Electric Kettle", "Pet Bed"),
    _shipped("#W3", "FL", "Jacksonville", "Garden Hose"),
]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("one of my orders got sent to Texas by accident", ["#W2"]),
        ("the order that went to houston", ["#W2"]),
        ("what's the tracking for the one shipped to Florida?", ["#W1", "#W3"]),
        # A place said in passing, or one every order goes to, narrows nothing.
        ("I live in Texas, where is my stuff?", ["#W1", "#W2", "#W3"]),
        ("the order sent to Ohio", ["#W1", "#W2", "#W3"]),
    ],
)
def test_an_order_is_named_by_where_it_was_sent(text: str, ids: list[str]) -> None:
    assert [o["order_id"] for o in candidate_orders(text, _PLACES)] == ids


_TWO = [_item("Water Bottle", capacity="500ml"), _item("Desk Lamp", brightness="medium")]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("hmm actually wait, only exchange the desk lamp please", ["Desk Lamp"]),
        ("Actually, just the desk lamp.", ["Desk Lamp"]),
        ("no, only the lamp", ["Desk Lamp"]),
        ("leave out the water bottle", ["Desk Lamp"]),
        ("keep the water bottle, do the rest", ["Desk Lamp"]),
        ("I don't want to exchange the lamp after all", ["Water Bottle"]),
        ("do it without the bottle", ["Desk Lamp"]),
        # Not a narrowing: a yes, a no, every item, or a new request with no item of the write.
        ("yes please", None),
        ("no", None),
        ("yes, both of them", None),
        ("only if it's cheaper", None),
    ],
)
def test_an_answer_that_narrows_the_write(text: str, names: list[str] | None) -> None:
    kept = narrowed_items(text, _TWO)
    assert (None if kept is None else [i["name"] for i in kept]) == names


# ----------------------------------------------------------------- the variant the customer wants


@functools.cache
def _catalogue() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each item id of the tau2 shop: its product and the variant itself."""
    db = json.loads(tau2_db_path().read_text(encoding="utf-8"))
    return {v["item_id"]: (p, v) for p in db["products"].values() for v in p["variants"].values()}


def _wanted(item_id: str, text: str) -> list[str]:
    product, current = _catalogue()[item_id]
    fits = wanted_variants(text, current, list(product["variants"].values()))
    assert all(v["available"] and v["item_id"] != item_id for v in fits)
    return [v["item_id"] for v in fits]


@pytest.mark.parametrize(
    ("item_id", "text", "ids"),
    [
        # Values named exactly or loosely, with options kept.
        ("9190635437", "the silver one with low brightness, still battery powered", ["7453605304"]),
        ("8277474082", "size 9, same material", ["8106223139"]),  # hiking boots, 12 leather
        ("1615379700", "size 9 but made of leather, also waterproof", ["8106223139"]),
        ("1615379700", "size 8, same material, I don't care about waterproof", ["3613716226"]),
        ("4068787148", "the 1000-piece version", ["3112842858", "4572024853"]),  # 500 art puzzle
        ("4068787148", "1000 pieces", ["3112842858", "4572024853"]),
        ("1684786391", "the 13-inch version", ["1657832319", "5052031638", "6056040996"]),
        ("3453331371", "the 1 liter one", ["7661609223", "2439754078"]),  # 1000ml bottles
        ("8479046075", "4 foot but same material and color", ["8920458606"]),
        ("9612497925", "size XL", ["8124970213", "2060066974"]),
        ("9612497925", "I'm looking for red", ["9354168549", "3234800602"]),  # "I'm" is no size M
        (
            "3928046918",
            "can I get it in gray",
            ["5726859009", "8054888773", "6309044598", "5917587651"],
        ),
        ("4548300368", "black lenses please", ["2198125883"]),  # the lens color, not the frame's
        ("1793929609", "a gray office chair with fixed armrest made of leather", ["1071497737"]),
        ("4983901480", "one compatible with Google Home instead of Apple HomeKit", ["7747408585"]),
        ("6301799585", "a two-piece black one with soft material", ["8926329222"]),
        ("4510078629", "black dial but keep the leather strap", ["9949163720"]),
        ("3694871183", "a blue one, without water resistance", ["6077640618"]),
        ("4602305039", "a canister one, bagless", ["7958300294"]),
        ("2645006275", "not the white one", ["8798690242", "8098621301", "1583904702"]),
        (
            "8573379326",
            "I want to exchange the red helmet for a blue one",
            ["9013366374", "5886093635"],
        ),
        ("3358616356", "medium sized, red, high ventilation", ["8573379326"]),
        (
            "8555936349",
            "{'color': 'black', 'battery life': '4 hours', 'water resistance': 'not resistant'}",
            ["4063058357"],
        ),
        ("7292993796", "{'material': 'ceramic', 'stovetop compatibility': 'gas'}", ["3761330360"]),
        # Comparisons over ordered options: the next value, unless the extreme is asked for.
        (
            "3453331371",
            "a bigger one",
            ["6777246137", "7199146548", "7843064651", "4579334072", "6974536207"],
        ),
        ("3229676465", "I want the biggest one", ["7661609223", "2439754078"]),
        ("8384507844", "I want a brighter one", ["9083642334", "7624783998"]),
        ("8384507844", "a less bright one please", ["9190635437", "1569765161", "7453605304"]),
        ("8573379326", "red, but smaller", ["3358616356"]),
        (
            "9354168549",
            "it's too big, one size smaller would be good. I like the cotton feeling.",
            ["8124970213", "2060066974"],
        ),
        ("1176194968", "two sizes bigger", ["3234800602"]),  # S -> L
        (
            "3358616356",
            "The size is too small and I want medium, plus high ventilation",
            ["8573379326", "9013366374"],
        ),
        ("4068787148", "same difficulty, but 1000 more pieces", ["5546244844", "6245746168"]),
        (
            "6245746168",
            "a more fancy theme, with 500 pieces less, keep the same difficulty level",
            ["3112842858"],
        ),
        ("3614853563", "the easiest one with the fewest pieces", ["1096508426"]),
        (
            "5996159312",
            "a slightly lower resolution, without changing the other options",
            ["8363011723"],
        ),
        ("5996159312", "maximum zoom", ["9228757377"]),
        ("7758198585", "one with a larger frame size", ["5606522780"]),
        ("4293355847", "a shorter bamboo one", ["8176740019", "6843647669", "6673921677"]),
        ("2106335193", "same size but more storage", ["6948061616"]),
        # tau2 task 27: every option but the one named stays (size 12, leather).
        ("8118291112", "the exact same boots but the waterproof version", ["8277474082"]),
        ("3714494375", "keep the capacity and type but lower the pressure", ["7407838442"]),
        ("5081446110", "a bigger bottle", ["9007697085"]),  # perfume 30ml -> 50ml
        ("9799386954", "a bigger notebook", ["7579176349", "1199058591"]),  # A5 -> A4
        ("5111440845", "a brighter bulb", ["7445824652"]),  # 60W -> 75W equivalent
        # Prices: limits, against what was paid, the cheapest.
        ("9083642334", "if it costs less than $140", ["5320792178"]),
        ("9083642334", "black, under 140 dollars", ["5320792178"]),
        ("9083642334", "the cheapest one", ["5320792178"]),
        ("1684786391", "the cheapest i7 or above", ["6017636844"]),
        (
            "1810466394",
            "the highest resolution waterproof camera I can get for the previous purchase price",
            ["6117189161", "6700049080"],
        ),
    ],
)
def test_the_variant_the_customer_describes(item_id: str, text: str, ids: list[str]) -> None:
    assert _wanted(item_id, text) == ids


@pytest.mark.parametrize(
    ("item_id", "text"),
    [
        ("2540052208", "a metal one"),  # every metal-band smart watch is unavailable
        ("4068787148", "the 2000-piece art one"),  # unavailable
        ("2216662955", "more RAM please"),  # 32GB is the most there is
        ("2106335193", "a bigger screen"),  # 10-inch is the biggest tablet
        ("3453331371", "something under $20"),
    ],
)
def test_no_variant_fits(item_id: str, text: str) -> None:
    assert _wanted(item_id, text) == []


def test_nothing_asked_of_the_variant_is_told_apart_from_nothing_fitting() -> None:
    product, current = _catalogue()["9083642334"]
    variants = list(product["variants"].values())
    assert not read_variant_wish("hello, I want to exchange it", current, variants).stated
    assert wanted_variants("hello, I want to exchange it", current, variants) == []
    assert read_variant_wish("a metal one", current, variants).stated is False  # no such option
    assert read_variant_wish("under $20", current, variants).stated


def test_the_current_item_is_never_offered() -> None:
    # Every option of the current item named or kept: only the item itself would fit.
    for item_id in ("9083642334", "7661609223", "8106223139", "3112842858"):
        product, current = _catalogue()[item_id]
        said = ", ".join(str(v) for v in current["options"].values())
        assert _wanted(item_id, said) == []
        assert _wanted(item_id, "the same one, same everything, " + said) == []
    assert _wanted("9083642334", "same color, same brightness and the same power source") == []


def test_unavailable_variants_are_never_offered() -> None:
    # The 1000-piece art puzzles exist but are not available: only the others are offered.
    assert _wanted("4068787148", "1000 pieces, art") == []
    # Across the whole shop, whatever is asked (``_wanted`` checks availability itself).
    firsts = {p["product_id"]: v["item_id"] for p, v in reversed(_catalogue().values())}
    for item_id in firsts.values():
        for text in ("a bigger one", "a cheaper one", "the cheapest", "the most expensive one"):
            _wanted(item_id, text)


def test_the_options_that_exist_are_listed_in_order() -> None:
    product, _ = _catalogue()["9083642334"]
    options = available_options(list(product["variants"].values()))
    assert options["brightness"] == ["low", "medium", "high"]
    assert options["color"] == ["black", "silver", "white"]


def test_an_option_word_tells_apart_only_items_of_one_product() -> None:
    # "black" describes the new bottle, not which of the two items is meant (tau2 tasks 5, 9).
    items = [_item("Water Bottle", color="black"), _item("Desk Lamp", color="white")]
    text = "exchange the water bottle for the black one, and the desk lamp for a brighter one"
    assert [i["name"] for i in named_items(text, items)] == ["Water Bottle", "Desk Lamp"]


def test_a_limit_on_the_extra_cost_is_read_against_what_was_paid() -> None:
    paid = {"item_id": "1", "options": {"color": "black"}, "price": 100.0}
    wood = {"item_id": "2", "options": {"color": "wood"}, "price": 113.3, "available": True}
    for text, fits in (
        ("swap it for the wood one, as long as it's not more than 20 bucks extra", ["2"]),
        ("the wood one if it's no more than $10 extra", []),
        ("wood, if the difference is under $20", ["2"]),
        ("wood, if it costs less than $110", []),  # a price, not a difference
    ):
        wish = read_variant_wish(text, paid, [wood])
        assert [v["item_id"] for v in wish.fits([wood])] == fits, text
