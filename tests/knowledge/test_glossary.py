"""Spanish and French questions find the English documents that answer them."""

from __future__ import annotations

import pytest

from knowledge.glossary import english_query, english_terms
from tests.knowledge.conftest import ShopKB


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        (
            "¿cuánto tarda el envío?",
            "es",
            "demo/shipping-and-delivery.md#carriers-and-delivery-times",
        ),
        (
            "¿se puede pagar con dos tarjetas regalo?",
            "es",
            "demo/faq.md#can-i-pay-with-two-gift-cards",
        ),
        ("¿qué cubre la garantía?", "es", "demo/warranty-and-product-care.md#warranty-periods"),
        ("est-ce que vous livrez au Canada ?", "fr", "demo/faq.md#do-you-ship-outside-the-usa"),
        ("combien de jours pour un remboursement ?", "fr", "refunds-take"),
    ],
)
def test_a_question_in_spanish_or_french_finds_its_english_answer(
    shop_kb: ShopKB, question: str, language: str, expected: str
) -> None:
    result = shop_kb.kb.search(english_query(question, language), k=3)
    assert result.covered
    assert any(expected in p.citation.ref for p in result.passages[:2]), [
        p.citation.ref for p in result.passages
    ]


def test_names_and_numbers_are_kept_and_english_is_left_alone() -> None:
    assert english_query("el envío a Hawaii tarda 5 días?", "es").split()[-2:] == ["Hawaii", "5"]
    assert english_query("how long does shipping take?", "en") == "how long does shipping take?"
    # Words the vocabulary does not know: the question as it was asked.
    assert english_query("¿hola qué tal?", "es") == "¿hola qué tal?"
    assert english_terms("les retours sont gratuits ?", "fr") == ["return", "free", "shipping"]
