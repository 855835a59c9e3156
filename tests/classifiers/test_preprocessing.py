from __future__ import annotations

import pytest

from classifiers.preprocessing import clean_text, dedup_key, mask_pii


def test_clean_text_strips_urls_and_whitespace() -> None:
    assert clean_text("  see https://shop.example.com/p?id=1\n\n  now\t ok ") == "see now ok"
    assert clean_text("www.example.com") == ""
    assert clean_text(" \n\t ") == ""
    assert clean_text("Keep Case\u200b") == "Keep Case"


def test_dedup_key_is_case_and_space_blind() -> None:
    assert dedup_key("Where IS  my order") == dedup_key("where is my order ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at noah.brown@example.com", "mail me at [EMAIL]"),
        ("card 4111 1111 1111 1111 charged", "card [CARD] charged"),
        ("call +1 (555) 123-4567 please", "call [PHONE] please"),
        ("my name is Noah Brown", "my name is [NAME]"),
        ("Je m'appelle Marie Dupont", "Je m'appelle [NAME]"),
        ("zip code is 80279", "zip code is [ZIP]"),
        ("I live at 12 Main Street, Austin", "I live at [ADDRESS], Austin"),
        ("iban DE89 3704 0044 0532 0130 00", "iban [IBAN]"),
        ("ssn 123-45-6789", "ssn [SSN]"),
    ],
)
def test_mask_pii(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is order #W1234567? I paid $45.10 on 2024-05-01",
        "tracking number 1Z999AA10123456784",
        "order 12345678 is late",
        "I am very angry",
        "size 10 1/2, 3 items",
        "card 1234 5678 9012 3456",  # fails the Luhn check: not a card number
    ],
)
def test_mask_pii_keeps_what_is_not_personal(text: str) -> None:
    assert mask_pii(text) == text
