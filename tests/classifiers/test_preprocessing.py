from __future__ import annotations

import pytest

from classifiers.preprocessing import clean_text, dedup_key, mask_cards, mask_pii


def test_clean_text_strips_urls_and_whitespace() -> None:
    assert clean_text("  see https://shop.example.com/p?id=1\n\n  now\t ok ") == "see now ok"
    assert clean_text("www.example.com") == ""
    assert clean_text(" \n\t ") == ""
    assert clean_text("Keep Case\u200b") == "Keep Case"


def test_dedup_key_is_case_and_space_blind() -> None:
    assert dedup_key("Where IS  my order") == dedup_key("where is my order ")


# What a log line may not carry: each customer message as written, and as the log must show it.
MASKED = [
    # e-mails: plain, non-ASCII, spelled out
    ("mail me at noah.brown@example.com", "mail me at [EMAIL]"),
    ("My email is jane@example.com", "My email is [EMAIL]"),
    ("it's zoë.müller@beispiel.de", "it's [EMAIL]"),
    ("contact josé@correo.es please", "contact [EMAIL] please"),
    ("my email is jane dot doe at gmail dot com", "my email is [EMAIL]"),
    ("jane.doe at gmail dot com", "[EMAIL]"),
    ("email: noah_brown (at) example (dot) com", "email: [EMAIL]"),
    ("reach me at jane[at]yahoo[dot]co[dot]uk thanks", "reach me at [EMAIL] thanks"),
    ("it's jane @ example . com", "it's [EMAIL]"),
    # cards, their expiry and security code
    ("card 4111 1111 1111 1111 charged", "card [CARD] charged"),
    ("my visa is 4111-1111-1111-1111", "my visa is [CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    ("4242 4242 4242 4242 exp 04/27 cvv 123", "[CARD] exp [EXPIRY] cvv [CVV]"),
    ("card 4111 1111 1111 1111 04/27 123", "card [CARD] [EXPIRY] [CVV]"),
    ("4111111111111111 123", "[CARD] [CVV]"),
    ("order 12345 paid with 4111 1111 1111 1111", "order 12345 paid with [CARD]"),
    ("expiry: 4/2027", "expiry: [EXPIRY]"),
    ("valid thru 12/26", "valid thru [EXPIRY]"),
    ("the card expires 09/28", "the card expires [EXPIRY]"),
    ("CVV: 1234", "CVV: [CVV]"),
    ("the security code is 987", "the security code is [CVV]"),
    ("código de seguridad 321", "código de seguridad [CVV]"),
    # the shop's payment and customer ids
    ("refund to credit_card_7815826", "refund to [PAYMENT_ID]"),
    ("use paypal_5364164 instead", "use [PAYMENT_ID] instead"),
    ("put it on gift_card_0000000", "put it on [PAYMENT_ID]"),
    ("my user id is noah_brown_6181", "my user id is [USER_ID]"),
    ("I'm Mei_Kovacs_8020 in zipcode 28236", "I'm [USER_ID] in zipcode [ZIP]"),
    # phones, IBANs, SSNs, IPs
    ("call +1 (555) 123-4567 please", "call [PHONE] please"),
    ("iban DE89 3704 0044 0532 0130 00", "iban [IBAN]"),
    ("ssn 123-45-6789", "ssn [SSN]"),
    ("my ip is 192.168.1.20", "my ip is [IP]"),
    # addresses, with what follows the street
    ("I live at 12 Main Street, Austin", "I live at [ADDRESS]"),
    ("ship to 986 Sunset Drive, Suite 259, Denver, CO 80279", "ship to [ADDRESS]"),
    ("I live at 12 Main Street, Apt 4B, Austin, TX 78701, USA", "I live at [ADDRESS]"),
    ("new address: 445 Maple Avenue apt 3, Salt Lake City, UT 84101", "new address: [ADDRESS]"),
    ("send it to 77 oak street, unit 5, boise, id 83701", "send it to [ADDRESS]"),
    ("12 N. Main St, Springfield, Illinois 62701", "[ADDRESS]"),
    ("ship to 350 5th Avenue, New York, NY 10118", "ship to [ADDRESS]"),
    ("12 Main Street, can you ship it there?", "[ADDRESS], can you ship it there?"),
    ("it's apartment 12B now", "it's [ADDRESS] now"),
    ("Suite 259 is wrong", "[ADDRESS] is wrong"),
    ("we moved to Austin, TX 78701 last week", "we moved to [ADDRESS] last week"),
    ("j'habite au 12 rue de la Paix", "j'habite au [ADDRESS]"),
    ("vivo en Calle Mayor 5", "vivo en [ADDRESS]"),
    ("zip code is 80279", "zip code is [ZIP]"),
    ("my zip's 80279-1234", "my zip's [ZIP]"),
    ("código postal: 28013", "código postal: [ZIP]"),
    # names: introduced, in any case and script, and before a zip
    ("my name is Noah Brown", "my name is [NAME]"),
    ("my name is noah brown and my zip is 80279", "my name is [NAME] and my zip is [ZIP]"),
    ("Je m'appelle Marie Dupont", "Je m'appelle [NAME]"),
    ("Me llamo José Álvarez", "Me llamo [NAME]"),
    ("my name is Łukasz Wiśniewski", "my name is [NAME]"),
    ("name: Siobhán O'Brien", "name: [NAME]"),
    ("first name is Mei and last name is Patel", "first name is [NAME] and last name is [NAME]"),
    ("hi, it's Jane Doe", "hi, it's [NAME]"),
    ("this is jane doe, zip 12345", "this is [NAME], zip [ZIP]"),
    ("Jane Doe, 12345", "[NAME], [ZIP]"),
    ("hi noah brown here", "hi [NAME] here"),
    ("Soy Zoë Ängström", "Soy [NAME]"),
    ("Thanks, Jane", "Thanks, [NAME]"),
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_mask_pii_masks_what_identifies_a_person(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


# What a log line must keep for whoever debugs it: ordinary words, order and product ids, prices,
# dates, quantities, product names and what merely looks like the above.
KEPT = [
    "where is order #W1234567? I paid $45.10 on 2024-05-01",
    "tracking number 1Z999AA10123456784",
    "order 12345678 is late",
    "I am very angry",
    "size 10 1/2, 3 items",
    "card 1234 5678 9012 3456",  # fails the Luhn check: not a card number
    "item 1008292230 and product 6086499569",
    "I want to return the Office Chair and 2 Water Bottles",
    "the 2 lamps cost $129.99 each, 30% off",
    "it arrived on 04/05/2024, three days late",
    "my coupon expires 12/31, can I still use it?",
    "I bought it at amazon dot com for less",
    "It's Friday already and nothing came",
    "I'm looking for a Smart Watch in black",
    "This is the second time I ask",
    "my name is on the order but the address is wrong",
    "I'm not sure which order it was",
    "the package is stuck at the warehouse",
    "I need 2 usb drive adapters and 1 hard drive",
    "2 units of the desk lamp, please",
    "cancel #W2378156 and #W4817420",
    "the return window is 30 days",
    "Hello, can you help me with a refund?",
    "it costs 1,299.00 dollars",
    "thanks, that's all",
    "is the Wireless Earbuds still in stock?",
    "Order number 12345 is late",
    "the product name: Office Chair",
    "its Wireless Earbuds stopped working",
]


@pytest.mark.parametrize("text", KEPT)
def test_mask_pii_keeps_what_is_not_personal(text: str) -> None:
    assert mask_pii(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4242 4242 4242 4242", "my card is •••• 4242"),
        ("4111-1111-1111-1111 exp 04/27", "•••• 1111 exp 04/27"),
        ("amex 3782 822463 10005 please", "amex •••• 0005 please"),
        ("pay with 5555555555554444 and 4000056655665556", "pay with •••• 4444 and •••• 5556"),
        ("order 12345 4111 1111 1111 1111 123", "order 12345 •••• 1111 123"),
    ],
)
def test_mask_cards_keeps_the_last_four_digits(text: str, expected: str) -> None:
    assert mask_cards(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 1234 5678 9012 3456",
        "order #W1234567 and item 1008292230",
        "tracking 9400 1000 0000 0000 0000 00",
        "my email is jane@example.com and my zip is 12345",
    ],
)
def test_mask_cards_leaves_everything_else(text: str) -> None:
    assert mask_cards(text) == text


def test_the_table_is_large_enough() -> None:
    assert len(MASKED) + len(KEPT) >= 50
