from __future__ import annotations

import pytest

from classifiers.entities import Entity, EntityExtractor, extract_entities

CATALOG = [
    "Mechanical Keyboard",
    "T-Shirt",
    "Running Shoes",
    "Office Chair",
    "Wireless Earbuds",
    "Smart Watch",
    "Smart Thermostat",
]


def found(text: str, catalog: list[str] = CATALOG) -> list[tuple[str, str, str]]:
    return [(e.type, e.value, text[e.start : e.end]) for e in extract_entities(text, catalog)]


def test_order_ids_are_normalised() -> None:
    assert found("where is #W1234567 and w7654321?") == [
        ("order_id", "#W1234567", "#W1234567"),
        ("order_id", "#W7654321", "w7654321"),
    ]
    assert found("#W123456 is too short, W12345678 too long") == []


def test_email_name_and_zip_for_identity() -> None:
    text = "my name is Noah Brown, zip 80279, email Noah.Brown7922@example.com"
    assert found(text) == [
        ("name", "Noah Brown", "Noah Brown"),
        ("zip_code", "80279", "80279"),
        ("email", "noah.brown7922@example.com", "Noah.Brown7922@example.com"),
    ]
    assert found("Yusuf Rossi 19122") == [
        ("name", "Yusuf Rossi", "Yusuf Rossi"),
        ("zip_code", "19122", "19122"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("I paid $45.10", "45.10 USD"),
        ("refund 12,50 € please", "12.50 EUR"),
        ("it cost 1,299.99 dollars", "1299.99 USD"),
        ("£30 for shipping?", "30 GBP"),
        ("charged 80 EUR twice", "80 EUR"),
    ],
)
def test_amounts(text: str, value: str) -> None:
    assert [e.value for e in extract_entities(text) if e.type == "amount"] == [value]


def test_numbers_that_are_not_zip_codes() -> None:
    assert found("I bought 10000 units") == []
    assert found("it was $12000") == [("amount", "12000 USD", "$12000")]


def test_products_by_fuzzy_match() -> None:
    assert found("the mechanical keybord I got is broken") == [
        ("product", "Mechanical Keyboard", "mechanical keybord")
    ]
    assert found("can i swap my tshirt for a bigger size") == [("product", "T-Shirt", "tshirt")]
    assert found("smart watch or smart thermostat?") == [
        ("product", "Smart Watch", "smart watch"),
        ("product", "Smart Thermostat", "smart thermostat"),
    ]
    assert found("still waiting for my earbuds") == [("product", "Wireless Earbuds", "earbuds")]
    assert found("is the office chair in stock?", []) == []
    assert found("what a lovely day") == []


def test_extractor_is_reusable_and_scores_fuzzy_matches() -> None:
    extractor = EntityExtractor(CATALOG)
    exact = extractor("running shoes")
    fuzzy = extractor("runing shoes")
    assert exact == [Entity("product", "Running Shoes", 0, 13, 1.0)]
    assert fuzzy[0].value == "Running Shoes" and 0.85 <= fuzzy[0].score < 1.0
