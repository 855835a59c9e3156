from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.errors import TaxonomyError
from classifiers.taxonomy import Taxonomy, load_taxonomy

BITEXT_INTENTS = {
    "create_account", "delete_account", "edit_account", "recover_password",
    "registration_problems", "switch_account", "check_cancellation_fee",
    "contact_customer_service", "contact_human_agent", "delivery_options", "delivery_period",
    "complaint", "review", "check_invoice", "get_invoice", "newsletter_subscription",
    "cancel_order", "change_order", "place_order", "track_order", "check_payment_methods",
    "payment_issue", "check_refund_policy", "get_refund", "track_refund",
    "change_shipping_address", "set_up_shipping_address",
}  # fmt: skip


def test_default_taxonomy_has_bitext_intents_plus_ours() -> None:
    tax = load_taxonomy()
    assert set(tax.intents) == BITEXT_INTENTS | {
        "return_item",
        "exchange_item",
        "product_availability",
        "out_of_scope",
    }
    assert tax.out_of_scope == "out_of_scope"
    assert tax.category("return_item") == "RETURNS"
    assert tax.category("track_order") == "ORDER"
    assert len({tax.categories[i] for i in BITEXT_INTENTS}) == 11


def test_aliases_normalise_the_20k_spelling() -> None:
    tax = load_taxonomy()
    assert tax.normalize("check_invoices") == "check_invoice"
    assert tax.normalize_category("REFUNDS") == "REFUND"
    with pytest.raises(TaxonomyError, match="unknown intent 'nope'"):
        tax.normalize("nope")


def test_round_trip_through_dict() -> None:
    tax = load_taxonomy()
    again = Taxonomy.from_dict(tax.to_dict())
    assert again.intents == tax.intents
    assert again.categories == tax.categories


def test_a_shop_taxonomy_file(tmp_path: Path) -> None:
    path = tmp_path / "tax.json"
    path.write_text(
        json.dumps(
            {
                "out_of_scope": "other",
                "categories": {"A": "", "Z": ""},
                "intents": {"where_is_it": {"category": "A"}, "other": {"category": "Z"}},
            }
        )
    )
    tax = load_taxonomy(path)
    assert tax.intents == ("where_is_it", "other")
    assert tax.index == {"where_is_it": 0, "other": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "line 1"),
        ('{"intents": {"a": {"category": "X"}}}', "missing key"),
        ('{"out_of_scope": "b", "intents": {"a": {"category": "X"}}}', "not an intent"),
        ('{"out_of_scope": "a", "intents": {"a": {}}}', "needs a 'category'"),
        (
            '{"out_of_scope": "a", "categories": {"Y": ""}, "intents": {"a": {"category": "X"}}}',
            "not listed",
        ),
    ],
)
def test_malformed_taxonomy_is_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(path)
