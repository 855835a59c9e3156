"""Text clean-up before the model, the de-duplication key, and PII masking before anything is logged.

Preprocessing follows the issue's description (the seed paper itself is not available here): drop blank
messages, strip URLs, normalise whitespace. Case is left alone: the MiniLM tokenizer is uncased and
lower-cases by itself, and the entity extractor needs the original case for names.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from typing import Final

__all__ = ["clean_text", "dedup_key", "mask_cards", "mask_pii"]

_URL: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_SPACE: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def clean_text(text: str) -> str:
    """URLs removed, control characters dropped, whitespace collapsed; ``""`` for a blank message."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """Key under which two utterances count as the same (lower case, whitespace normalised), the
    normalisation the datasets README measured its overlaps with."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip().lower()


def _words(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


# Order matters: e-mails and the shop's ids before anything that could eat their digits; cards
# (13-19 digits, Luhn-checked) before their expiry and code, and before phone numbers; a street before
# the unit, city, state and zip that follow it. Order ids (#W1234567) are not personal data and stay
# readable in logs.
_LETTER: Final = r"[^\W\d_]"
_EMAIL: Final = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# "jane dot doe at gmail dot com", "jane.doe (at) gmail (dot) com", "jane @ gmail . com".
_SPELLED_AT: Final = r"(?:\s*[\[(<{]\s*at\s*[\])>}]\s*|\s+at\s+|\s*@\s*)"
_SPELLED_DOT: Final = r"(?:\s*[\[(<{]\s*dot\s*[\])>}]\s*|\s+dot\s+|\s?\.\s?)"
_SPELLED_EMAIL: Final = re.compile(
    rf"(?<![\w.@])([\w%+-]+(?:(?:\s+dot\s+|\s*[\[(]dot[\])]\s*|\.)[\w%+-]+){{0,4}}){_SPELLED_AT}"
    rf"[\w-]+(?:{_SPELLED_DOT}[\w-]+){{0,3}}{_SPELLED_DOT}"
    r"(?:com|net|org|edu|gov|io|co|uk|us|ca|de|fr|es|it|nl|info|biz|me|mx|au|br|in)\b",
    re.IGNORECASE,
)
# What stands before "at" in a sentence ("I bought it at example dot com") rather than in an address.
_NOT_LOCAL_PARTS: Final = _words(
    "it them him her me us you one that this these those here there is was were be been am are",
    "look looked looking bought buy got get found find ordered order purchased purchase sold sell",
    "listed available shop shopped store stores item items price prices cheaper arrived delivered",
    "stuck left waiting",
)
# The shop's own ids: payment methods ("credit_card_7815826", "gift_card_0000000") and customers
# ("noah_brown_6181"), as the tau2 and demo shops write them.
_PAYMENT_ID: Final = re.compile(
    r"\b(?:credit_card|debit_card|gift_card|paypal|bank_account|apple_pay|google_pay)_\d+\b",
    re.IGNORECASE,
)
_USER_ID: Final = re.compile(r"\b[a-z]+(?:_[a-z]+)+_\d{3,6}\b", re.IGNORECASE)
# A run of digits in groups (single spaces or dashes between them) that may hold a card number.
_DIGIT_RUN: Final = re.compile(r"(?<![\w#])\d+(?:[ -]\d+)*(?!\w)")
_MONTHS: Final = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s*(?:\d{4}|'?\d{2})"
)
_EXPIRY_VALUE: Final = rf"(?:(?:0?[1-9]|1[0-2])\s*[/-]\s*(?:20)?\d{{2}}\b|{_MONTHS})"
# "exp 04/27", "expiry: 4/2027", "valid thru 12/26"; "expires" only where a card was mentioned
# ("the coupon expires 12/31" is a date).
_EXPIRY: Final = re.compile(
    r"\b((?:exp(?:iry|iration)?\.?(?:\s*date)?|valid\s*(?:thru|through|until)|good\s*thru|"
    r"fecha de (?:vencimiento|caducidad)|vencimiento|caducidad|date d'expiration)"
    rf"\s*(?:is|:|=|-)?\s*){_EXPIRY_VALUE}",
    re.IGNORECASE,
)
_CARD_EXPIRES: Final = re.compile(
    rf"\b((?:expires?|expiring|expiration)\s*(?:on|in|is|:)?\s*){_EXPIRY_VALUE}", re.IGNORECASE
)
_CARD_MENTION: Final = re.compile(
    r"\b(?:card|visa|mastercard|amex|discover|tarjeta|carte)\b|\[CARD\]", re.IGNORECASE
)
_CVV: Final = re.compile(
    r"\b((?:cvv2?|cvc2?|cid|csc|security\s*code|card\s*code|verification\s*(?:code|value)|"
    r"c[oó]digo\s*de\s*seguridad|cryptogramme)\s*(?:is|:|=|#|-)?\s*)\d{3,4}\b",
    re.IGNORECASE,
)
# What a customer types after a card number: its expiry, then the code ("4111 ... 1111 04/27 123").
_AFTER_CARD: Final = re.compile(
    rf"(\[CARD\]\s*,?\s*(?:exp\w*\.?\s*:?\s*)?){_EXPIRY_VALUE}", re.IGNORECASE
)
_CODE_AFTER_CARD: Final = re.compile(
    r"((?:\[CARD\]|\[EXPIRY\])\s*,?\s*(?:(?:cvv|cvc)\w*\s*:?\s*)?)\d{3,4}\b", re.IGNORECASE
)
_IBAN: Final = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SSN: Final = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_PHONE: Final = re.compile(r"(?<![\w#$€£.,])\+?\(?\d[\d ().-]{5,}\d(?![\w%])")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_REFERENCE_BEFORE: Final = re.compile(
    r"(?:order|purchase|invoice|tracking|ticket|item|product|sku|model|reference|ref|number|id|no\.?|"
    r"n°|nº)\s*[:#]?\s*$",
    re.IGNORECASE,
)
_IP: Final = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_STREET_TYPES: Final = (
    "St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Lane|Ln|Dr|Drive|Way|Ct|Court|Pl|Place|Ter|"
    "Terrace|Cir|Circle|Pkwy|Parkway|Hwy|Highway|Sq|Square|Trl|Trail|Row|Plaza"
)
_STREET: Final = re.compile(
    # "986 Sunset Drive", "12 N. Main St", "350 5th Avenue" ...
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:(?:[NSEW]\.?|North|South|East|West)\s+)?"
    rf"(?:(?:[A-Z]{_LETTER}+|\d+(?:st|nd|rd|th))\s+){{1,3}}(?:{_STREET_TYPES})\b\.?"
    # ... "986 sunset street": lower case only where the street's kind cannot be a product's word.
    r"|\b\d{1,6}\s+(?:[a-z]+\s+){1,3}(?:street|avenue|ave|road|rd|boulevard|blvd|lane|ln)\b\.?"
    # ... "12 rue de la Paix", "Calle Mayor 5".
    rf"|\b\d{{1,4}},?\s+(?i:rue|avenue|boulevard|bd|chemin|all[ée]e|impasse)\s+"
    rf"(?:(?:de|du|des|la|le|l'|d')\s*)*{_LETTER}+(?:[\s-][A-Z]{_LETTER}+){{0,3}}"
    rf"|\b(?i:calle|avenida|avda\.|paseo)\s+(?:(?:de|del|la|las|los)\s+)*{_LETTER}+"
    rf"(?:\s+[A-Z]{_LETTER}+){{0,3}},?\s+\d{{1,4}}\b"
)
_UNIT: Final = re.compile(
    r"\b(?:apt|apartment|suite|ste|unit|floor|fl|room|rm|bldg|building|piso|apartamento|appt|"
    r"appartement|étage)\.?\s*(?:no\.?\s*|#\s*)?\d+[A-Za-z]?\b|#\s*\d{1,5}[A-Za-z]?\b(?!\d)",
    re.IGNORECASE,
)
# A unit on its own ("apt 4B", "Suite 259"): "unit" is left out, "2 units" being a quantity.
_LONE_UNIT: Final = re.compile(
    r"\b(?:apt|apartment|suite|ste|appt|apartamento|appartement)\.?\s*(?:no\.?\s*|#\s*)?"
    r"\d+[A-Za-z]?\b",
    re.IGNORECASE,
)
_US_STATE_CODES: Final = _words(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ",
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR",
)
_US_STATE_NAMES: Final = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    "Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    "New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    "Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming"
)
_STATE: Final = rf"(?:[A-Za-z]{{2}}|{_US_STATE_NAMES})"
# What may follow a street, each piece once: ", Apt 4B", ", Austin", ", TX", " 78701", ", USA".
_ADDRESS_PARTS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(rf"\s*,?\s*(?:{_UNIT.pattern})", re.IGNORECASE),
    # A city: capitalised ("Salt Lake City"), or in any case before its state and zip ("boise, id
    # 83701").
    re.compile(
        rf"\s*,\s*([A-Z]{_LETTER}*\.?(?:\s+[A-Z]{_LETTER}+){{0,2}})(?=\s*(?:,|$|\s{_STATE}\b|\s\d))"
        rf"|\s*,\s*({_LETTER}+(?:\s+{_LETTER}+){{0,2}})(?=\s*,?\s*{_STATE}\s*,?\s*\d{{5}}\b)"
    ),
    re.compile(rf"\s*,?\s*({_STATE})(?=\s*,?\s*\d{{5}}\b|\s*(?:,|$))", re.IGNORECASE),
    re.compile(r"\s*,?\s*\d{5}(?:-\d{4})?\b"),
    re.compile(r"\s*,?\s*(?:USA|U\.S\.A\.|US|United States)\b"),
)
# "Austin, TX 78701", "Denver, Colorado 80279" without a street before them.
_CITY_STATE_ZIP: Final = re.compile(
    rf"\b[A-Z]{_LETTER}+(?:\s[A-Z]{_LETTER}+){{0,2}},?\s+(?:[A-Z]{{2}}|{_US_STATE_NAMES}),?\s+"
    r"\d{5}(?:-\d{4})?\b"
)
_ZIP_CONTEXT: Final = re.compile(
    r"\b(zip(?:\s*code)?|postal\s*code|postcode|c[oó]digo\s*postal|code\s*postal|cp)"
    r"((?:'s)?\s*(?:is|es|est|:|=|-)?\s*)(\d{5}(?:-\d{4})?)\b",
    re.IGNORECASE,
)
# A name: a word of letters in any script, with inner apostrophes or hyphens (O'Brien, Ana-María).
_NAME_WORD: Final = rf"{_LETTER}(?:{_LETTER}|['’-](?={_LETTER}))*"
# What introduces a name for sure ("my name is", "first name:"): the words after it are a name in any
# case. Words that may open other sentences ("I'm", "this is", "it's", a sign-off) introduce one
# only when it is capitalised or ends where an introduction does (a comma, "here", the zip).
_SURE_INTRO: Final = re.compile(
    r"\b(?:my\s+(?:full\s+)?name\s+is|my\s+name's|(?<!product\s)(?<!item\s)name\s*:|me\s+llamo|"
    r"mi\s+nombre\s+es|je\s+m'appelle|mon\s+nom\s+est)\s*",
    re.IGNORECASE,
)
_ONE_NAME_INTRO: Final = re.compile(
    r"\b(?:first\s+name|given\s+name|last\s+name|surname|family\s+name|primer\s+nombre|apellido|"
    r"pr[ée]nom|nom\s+de\s+famille)(?:'s)?\s*(?:is|es|est|:|=|-)?\s*",
    re.IGNORECASE,
)
_WEAK_INTRO: Final = re.compile(
    r"\b(?:this\s+is|i\s+am|i'm|i’m|im|it's|it’s|soy|je\s+suis|c'est)\s+", re.IGNORECASE
)
_SIGN_OFF: Final = re.compile(
    r"\b(?:signed|regards,?|thanks,|thank\s+you,|cheers,|best,)\s+", re.IGNORECASE
)
# "Jane Doe, 12345", "hi, noah brown here", "Noah Brown from 80279" (at the start or after a greeting).
_NAME_FIRST: Final = re.compile(
    rf"(?:^\s*|\b(?:hi|hello|hey|hola|bonjour|good\s+(?:morning|afternoon|evening))"
    rf"(?:\s+(?:there|team|all))?[,!.]?\s+)({_NAME_WORD}\s+{_NAME_WORD})"
    r"(?=\s*(?:here\b|,?\s*(?:zip\b|zipcode\b|postal\b|from\s+\d{5}|in\s+\d{5}|\(?\d{5}\b)))",
    re.IGNORECASE,
)
_INTRO_END: Final = re.compile(
    r"\s*(?:[,.;!?)]|$|here\b|from\b|zip|in\s+(?:zip|\d)|\d{5}|and\s+my\b|\[EMAIL\]|y\s+mi\b|"
    r"et\s+mon\b)",
    re.IGNORECASE,
)
_NAME_ZIP: Final = re.compile(
    r"(\[NAME\]\s*(?:,|from|in|at)?\s*(?:zip(?:\s*code)?\s*:?\s*)?\(?)(\d{5}(?:-\d{4})?)\b",
    re.IGNORECASE,
)
_WORD_AT: Final = re.compile(rf"\s*({_NAME_WORD})")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    # Issuers' numbers start with 2-6 (Mastercard, Amex, Visa, Discover...): a long order or
    # tracking number starting otherwise is left alone even when its digits pass the Luhn check.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn_ok(digits)


def _sub_cards(text: str, replace: Callable[[str], str]) -> str:
    """``text`` with each card number found in a run of digit groups replaced by ``replace(digits)``:
    from each group, the most groups that make one ("12345 4111 1111 1111 1111 123" holds one
    between an order number and the code)."""

    def in_run(match: re.Match[str]) -> str:
        run = match.group(0)
        groups = [(g.start(), g.end(), g.group(0)) for g in re.finditer(r"\d+", run)]
        out: list[str] = []
        pos = i = 0
        while i < len(groups):
            found = None
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j][2]
                if len(digits) > 19:
                    break
                if _is_card(digits):
                    found = (j, digits)
            if found is None:
                i += 1
                continue
            j, digits = found
            out.append(run[pos : groups[i][0]] + replace(digits))
            pos, i = groups[j][1], j + 1
        return "".join(out) + run[pos:]

    return _DIGIT_RUN.sub(in_run, text)


def mask_cards(text: str) -> str:
    """The message with every card number (13-19 digits passing the Luhn check, with or without
    spaces or dashes) shown as its last four digits: "my card is •••• 4242". For what staff read
    (a hand-off's transcript, the conversation's history) and what is kept of the conversation."""
    return _sub_cards(text, lambda digits: f"•••• {digits[-4:]}")


def mask_pii(text: str) -> str:
    """The message with e-mails (spelled-out ones too), the shop's payment and customer ids, card
    numbers with their expiry and security code, IBANs, SSNs, phone numbers, IPs, addresses (street,
    unit, city, state, zip), zip codes given as such and names replaced by ``[EMAIL]``,
    ``[PAYMENT_ID]``, ``[USER_ID]``, ``[CARD]``, ``[EXPIRY]``, ``[CVV]``, ... placeholders.

    Meant for logs: it errs towards masking. Order ids, amounts, dates and products are kept (they
    are needed to debug and are not personal data on their own).
    """
    text = _EMAIL.sub("[EMAIL]", text)
    text = _SPELLED_EMAIL.sub(_mask_spelled_email, text)
    text = _PAYMENT_ID.sub("[PAYMENT_ID]", text)
    text = _USER_ID.sub("[USER_ID]", text)
    text = _sub_cards(text, lambda _: "[CARD]")
    text = _AFTER_CARD.sub(r"\1[EXPIRY]", text)
    text = _EXPIRY.sub(r"\1[EXPIRY]", text)
    if _CARD_MENTION.search(text):
        text = _CARD_EXPIRES.sub(r"\1[EXPIRY]", text)
    text = _CODE_AFTER_CARD.sub(r"\1[CVV]", text)
    text = _CVV.sub(r"\1[CVV]", text)
    text = _IBAN.sub("[IBAN]", text)
    text = _SSN.sub("[SSN]", text)
    text = _IP.sub("[IP]", text)
    text = _ZIP_CONTEXT.sub(r"\1\2[ZIP]", text)
    text = _PHONE.sub(_mask_phone, text)
    text = _mask_addresses(text)
    text = _mask_names(text)
    return _NAME_ZIP.sub(r"\1[ZIP]", text)


def _mask_spelled_email(match: re.Match[str]) -> str:
    if match.group(1).lower() in _NOT_LOCAL_PARTS:
        return match.group(0)  # "bought it at example dot com": a shop, not an address
    return "[EMAIL]"


def _mask_phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    # Short digit runs are sizes or amounts, not phone numbers; dates look alike but stay.
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(found.strip()):
        return found
    if _REFERENCE_BEFORE.search(match.string[max(0, match.start() - 24) : match.start()]):
        return found  # an order, invoice or tracking number
    return "[PHONE]"


def _mask_addresses(text: str) -> str:
    """Streets with what follows them (unit, city, state, zip, country), lone units ("apt 4B") and
    a city with its state and zip, as ``[ADDRESS]``."""
    out: list[str] = []
    pos = 0
    for street in _STREET.finditer(text):
        if street.start() < pos:
            continue
        end = street.end()
        for _ in range(len(_ADDRESS_PARTS)):
            for part in _ADDRESS_PARTS:
                found = part.match(text, end)
                if found and not (found.lastindex and _not_a_place(found.group(found.lastindex))):
                    end = found.end()
                    break
            else:
                break
        out.append(f"{text[pos : street.start()]}[ADDRESS]")
        pos = end
    text = "".join(out) + text[pos:]
    text = _CITY_STATE_ZIP.sub("[ADDRESS]", text)
    return _LONE_UNIT.sub("[ADDRESS]", text)


def _not_a_place(words: str) -> bool:
    if len(words) == 2 and words.isalpha():
        return words.upper() not in _US_STATE_CODES
    return words.split()[0].lower() in _NOT_PLACES


# Words that follow a comma after an address but start no city's name.
_NOT_PLACES: Final = _words(
    "and or but so then please thanks thank can could would will i i'm it it's is was that this",
    "which where when if because the a my we they you he she there here not no yes ok okay",
)


def _mask_names(text: str) -> str:
    text = _NAME_FIRST.sub(_mask_name_first, text)
    text = _mask_after(_SURE_INTRO, text, 3, sure=True)
    text = _mask_after(_ONE_NAME_INTRO, text, 1, sure=True)
    text = _mask_after(_WEAK_INTRO, text, 3, sure=False)
    return _mask_after(_SIGN_OFF, text, 2, sure=False, lower_ok=False)


def _mask_name_first(match: re.Match[str]) -> str:
    if any(w.lower() in _NOT_NAMES for w in match.group(1).split()):
        return match.group(0)  # "Order number 12345 is late"
    return match.group(0)[: match.start(1) - match.start(0)] + "[NAME]"


def _mask_after(
    intro: re.Pattern[str], text: str, limit: int, *, sure: bool, lower_ok: bool = True
) -> str:
    """``text`` with the name that follows each ``intro`` (at most ``limit`` words) masked: any words
    after a ``sure`` introduction, otherwise capitalised ones or (``lower_ok``) two that end where
    an introduction does."""
    out: list[str] = []
    pos = 0
    for found in intro.finditer(text):
        if found.start() < pos:
            continue
        words: list[re.Match[str]] = []
        at = found.end()
        while len(words) < limit and (word := _WORD_AT.match(text, at)):
            if word.group(1).lower() in _NOT_NAMES:
                break
            words.append(word)
            at = word.end()
        if not words:
            continue
        if not sure:
            # "I'm Jane Doe from ...", "it's jane doe, zip ...", but not "It's Friday already".
            if words[0].group(1)[0].isupper():
                words = list(itertools.takewhile(lambda w: w.group(1)[0].isupper(), words))
            else:
                words = words[:2] if lower_ok and len(words) > 1 else []
            ends = bool(words) and _INTRO_END.match(text, words[-1].end()) is not None
            if not words or not (ends or (len(words) > 1 and words[1].group(1)[0].isupper())):
                continue
            at = words[-1].end()
        out.append(f"{text[pos : words[0].start(1)]}[NAME]")
        pos = at
    return "".join(out) + text[pos:]


# Words that follow "I'm", "this is", "my name is" ... or open a sentence, but are not names.
_NOT_NAMES: Final = _words(
    "a an the and or but so all that's that’s my me mine your our their his her its it i you he",
    "she we they this that these those there here is am are was were be been being do does did",
    "have has had not no yes very really just still already also too quite pretty so such only",
    "even again now then soon sorry hi hello hey dear please thank thanks ok okay sure fine good",
    "great well bad glad happy angry upset sad mad tired sick done over back away gone out off in",
    "on at for with from to of by about as into onto up down looking trying waiting writing",
    "having going getting calling asking wondering hoping needing wanting contacting reaching",
    "interested unable afraid confused frustrated annoyed worried disappointed surprised shocked",
    "furious livid told sure certain correct right wrong true false spelled spelt listed shown",
    "written missing misspelled incorrect different same new old gonna gotta wanna kinda order",
    "orders item items product account email mail number zip code address phone card id customer",
    "user invoice ticket tracking reference monday tuesday wednesday thursday friday saturday",
    "sunday january february march april may june july august september october november december",
    "today tomorrow yesterday what where when why how who which whose whom un una el la los las",
    "de del y en con mi su muy je suis le les et du des mon ma mes pas tres",
)
